"""Reading an uploaded staff list (CSV or XLSX) safely: format and encoding detection, the
limits on what a file may hold and expand to, and header matching. Rows are streamed, never
loaded whole; the web request only screens a workbook cheaply (screen_staff_file)."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree

from workers.staff_columns import COLUMNS, match_header

# What a staff list can be. Every limit on what a file holds or expands to is here.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# The template has 13 columns and exports from payroll systems add some dozens: no staff list
# is wider than this.
MAX_COLUMNS = 200
# Filled cells a file may hold for each row of staff it may hold (100,000 rows: 3 million).
# A workbook's table of shared strings, each one text at least one cell uses, is held to the
# same number: one of six million strings is not a staff list (docs/data-formats.md).
CELLS_PER_ROW = 30
# A real 100,000-row staff list unzips to well under this; a zip bomb does not.
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
# An Excel workbook has a dozen or two parts; the workbook part itself is a few kilobytes.
MAX_ZIP_MEMBERS = 1000
MAX_WORKBOOK_PART_BYTES = 1024 * 1024
# The declared sizes sit at the top of their part; this much of each part is read for them.
DECLARED_SIZES_HEAD_BYTES = 4096
# The upload page and the preview name at most this many ignored columns.
IGNORED_COLUMNS_SHOWN = 20
# A CSV's rows in another encoding are named up to this many.
ROWS_NAMED = 10

# Exports often put a title, a date or notes above the column names: the header is the
# first of this many rows that names at least HEADER_MIN_COLUMNS template columns.
HEADER_SEARCH_ROWS = 20
HEADER_MIN_COLUMNS = 2
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Directory entry names in an OLE file are UTF-16LE; an encrypted Office file has this stream.
OLE_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
UTF8_BOM = b"\xef\xbb\xbf"

FIX_FORMAT = "Save your staff list as a CSV or Excel (.xlsx) file and upload it again."
DAMAGED = f"The Excel file is damaged and cannot be opened. {FIX_FORMAT}"


class UnreadableFile(Exception):
    """The file cannot be read as a staff list; the message tells the employer what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class StaffSheet:
    """An opened staff list: matched columns, warnings, and a stream of data rows.

    ``rows()`` yields ``(row_number, values)`` where ``row_number`` is the row as the employer
    sees it in their spreadsheet (the header is row 1) and ``values`` maps column keys to raw
    cell values (str, int, float, bool, date or datetime; never None).
    """

    kind: str
    headers: list[str]
    columns: dict[str, int]
    ignored_headers: list[str] = field(default_factory=list)
    estimated_rows: int = 0
    max_rows: int = MAX_ROWS
    _row_source: Iterator[tuple[int, tuple]] | None = None
    _peeked: list = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        if not self.ignored_headers:
            return []
        shown = self.ignored_headers[:IGNORED_COLUMNS_SHOWN]
        names = ", ".join(f"“{name}”" for name in shown)
        if len(self.ignored_headers) > len(shown):
            names += f" and {len(self.ignored_headers) - len(shown):,} more"
        return [f"These columns are not part of the staff list template and were ignored: {names}."]

    def rows(self) -> Iterator[tuple[int, dict]]:
        """Data rows in file order; blank rows are skipped. Can be iterated once."""
        count = 0
        while self._peeked:
            count += 1
            yield self._peeked.pop(0)
        columns = list(self.columns.items())
        for row_number, cells in self._row_source or ():
            values = {}
            width = len(cells)
            for key, index in columns:
                if index >= width:
                    continue
                value = cells[index]
                if value.__class__ is str:
                    value = value.strip()
                    if not value:
                        continue
                elif value is None:
                    continue
                elif isinstance(value, str):  # a str subclass
                    value = value.strip()
                    if not value:
                        continue
                values[key] = value
            if not values:
                continue
            count += 1
            if count > self.max_rows:
                raise UnreadableFile(too_many_rows(self.max_rows))
            yield row_number, values

    def _peek(self) -> tuple[int, dict] | None:
        first = next(self.rows(), None)
        if first is not None:
            self._peeked.append(first)
        return first


def too_many_rows(max_rows: int, detail: str = "") -> str:
    return (
        f"Your file has more than {max_rows:,} rows of staff{detail}. "
        f"Split it into files of up to {max_rows:,} rows and upload each one."
    )


def too_wide(columns: int) -> str:
    return (
        f"This file has {columns:,} columns. A staff list has at most {MAX_COLUMNS} columns: "
        "remove the extra columns and upload it again."
    )


def too_many_cells(max_rows: int) -> str:
    return (
        f"This file holds more than {max_rows * CELLS_PER_ROW:,} filled cells, more than a "
        f"staff list of up to {max_rows:,} rows holds. Remove extra sheets and columns, or "
        "split the list into smaller files, and upload them one at a time."
    )


def too_many_strings(max_rows: int, declared: int | None = None) -> str:
    held = f"{declared:,}" if declared else f"more than {max_rows * CELLS_PER_ROW:,}"
    return (
        f"The Excel file holds {held} different pieces of text, more than a staff list of up "
        f"to {max_rows:,} rows holds, so we did not open it. Copy your staff into the staff "
        "list template, save it and upload it again."
    )


def screen_staff_file(content: bytes, filename: str = "", *, max_rows: int | None = None) -> int:
    """The checks made while the employer waits, in time bounded by the file's size, before it
    is stored: raise UnreadableFile as open_staff_file would, or return an estimate of the
    number of rows for the progress bar. A workbook is not parsed: only its zip structure
    and the sizes its parts declare are read, and the check job reads the rest."""
    max_rows = max_rows or MAX_ROWS
    if _kind(content) == "xlsx":
        return _screen_xlsx(content, max_rows)
    return open_staff_file(content, filename, max_rows=max_rows).estimated_rows


def open_staff_file(
    content: bytes, filename: str = "", *, max_rows: int | None = None
) -> StaffSheet:
    """Open ``content`` as a staff list or raise UnreadableFile with a plain-English reason;
    a list of more than ``max_rows`` staff (default MAX_ROWS), or holding more cells than
    that many rows would, is refused."""
    max_rows = max_rows or MAX_ROWS
    budget = _CellBudget(max_rows)
    if _kind(content) == "xlsx":
        _screen_xlsx(content, max_rows)
        kind, header_cells, rows, estimated = _open_xlsx(content, budget)
    else:
        kind, header_cells, rows, estimated = _open_csv(content, budget)
    return sheet_from_table(kind, header_cells, rows, estimated, max_rows=max_rows)


def _kind(content: bytes) -> str:
    """ "xlsx" or "csv", after refusing an empty, oversized or old-Excel file."""
    if not content or not content.strip():
        raise UnreadableFile("The file is empty. Add your staff to the template and upload it.")
    if len(content) > MAX_FILE_BYTES:
        raise UnreadableFile(
            "The file is larger than 20 MB. Remove extra sheets or columns, or split the list "
            "into smaller files, and upload them one at a time."
        )
    if content.startswith(ZIP_MAGIC):
        return "xlsx"
    if content.startswith(OLE_MAGIC):
        if OLE_ENCRYPTION_STREAM in content:
            raise UnreadableFile(
                "The file is protected with a password. Open it in Excel, remove the password "
                "(File, Info, Protect Workbook, Encrypt with Password), save it and upload it "
                "again."
            )
        raise UnreadableFile(
            "This is an old Excel (.xls) file or another kind of document. "
            "Open it in Excel, save it as an Excel Workbook (.xlsx) or CSV, and upload it again."
        )
    return "csv"


class _CellBudget:
    """The cells a file may still hold, spent as its rows are read: each row is refused if it
    is wider than any staff list, and the file once it holds more than its rows could."""

    def __init__(self, max_rows: int):
        self.max_rows = max_rows
        self.cells = max_rows * CELLS_PER_ROW

    def spend(
        self, rows: Iterator[tuple[int, tuple | list]], *, last_row: int | None = None
    ) -> Iterator[tuple[int, tuple | list]]:
        for number, cells in rows:
            if last_row is not None and number > last_row:
                raise UnreadableFile(too_many_rows(self.max_rows))
            refuse_wide(cells)
            self.cells -= len(cells) - cells.count(None) - cells.count("")
            if self.cells < 0:
                raise UnreadableFile(too_many_cells(self.max_rows))
            yield number, cells


def refuse_wide(cells) -> None:
    """Refuse a row with more than MAX_COLUMNS columns (empty cells at its end not counted)."""
    width = len(cells)
    if width <= MAX_COLUMNS:
        return
    while width and (cells[width - 1] is None or not str(cells[width - 1]).strip()):
        width -= 1
    if width > MAX_COLUMNS:
        raise UnreadableFile(too_wide(width))


def sheet_from_table(
    kind: str, header_cells, rows, estimated: int = 0, *, max_rows: int | None = None
) -> StaffSheet:
    """Match a header row to the template's columns and refuse a list with no staff."""
    refuse_wide(header_cells)
    headers = ["" if cell is None else str(cell).strip() for cell in header_cells]
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        key = match_header(header)
        if key is None or key in columns:
            ignored.append(header)
        else:
            columns[key] = index
    if not columns:
        raise UnreadableFile(
            "We could not find the staff list columns at the top of the file. "
            "Use the staff list template: one row above your staff must hold the column "
            "names, such as First name, Last name and Date of birth."
        )
    missing = [column.header for column in COLUMNS if column.required and column.key not in columns]
    if missing:
        names = ", ".join(missing)
        noun = "column is" if len(missing) == 1 else "columns are"
        raise UnreadableFile(
            f"The {noun} missing: {names}. Add the {noun.split()[0]} to the row of column "
            "names in your file, using the names in the staff list template, and upload it "
            "again."
        )
    sheet = StaffSheet(
        kind=kind,
        headers=headers,
        columns=columns,
        ignored_headers=ignored,
        estimated_rows=max(estimated, 0),
        max_rows=max_rows or MAX_ROWS,
        _row_source=iter(rows),
    )
    if sheet._peek() is None:
        raise UnreadableFile(
            "The file has column names but no staff. Add one row for each member of staff "
            "under the column names and upload it again."
        )
    return sheet


def _decode(content: bytes) -> tuple[str, str]:
    """Decode CSV bytes as UTF-16 with BOM, UTF-8 (with or without BOM), or Windows-1252.

    Text that is not UTF-8 is read as Windows-1252 (what Excel on Windows saves) only if no
    line of it is UTF-8 with letters beyond plain ASCII: a file mixing the two, or a UTF-8
    mark before Windows-1252 lines mixed with UTF-8 ones, is refused naming its odd rows,
    rather than stored with garbled names such as "ZoÃ« BrontÃ«"."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise UnreadableFile(_not_a_spreadsheet()) from exc
    # Text without a byte-order mark is never more than a stray NUL or two (a binary file or
    # UTF-16 saved without its mark is full of them); stray ones are dropped below.
    if content.startswith(UTF8_BOM):
        content = content[len(UTF8_BOM) :]
    head = content[:65536]
    if head.count(b"\x00") > max(16, len(head) // 100):
        raise UnreadableFile(_not_a_spreadsheet())
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    _refuse_mixed_encodings(content)
    try:
        text = content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(_not_a_spreadsheet()) from exc
    # Text full of control characters is a binary file, whatever its name says.
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > len(sample) // 100:
        raise UnreadableFile(_not_a_spreadsheet())
    return text, "Windows-1252"


def _refuse_mixed_encodings(content: bytes) -> None:
    """Refuse text whose lines are partly UTF-8 and partly not, naming the fewer of the two
    by their line numbers (the row numbers a spreadsheet shows, but for cells that hold a
    line break)."""
    utf8: list[int] = []
    other: list[int] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    if not (utf8 and other):
        return
    odd = other if len(other) <= len(utf8) else utf8
    one = len(odd) == 1
    raise UnreadableFile(
        f"{_rows_named(odd)} of the file {'is' if one else 'are'} saved in a different text "
        f"encoding from the rest, so we cannot read {'its' if one else 'their'} letters "
        "correctly. "
        "Open the file in Excel, save it as “CSV UTF-8 (Comma delimited)” and upload it again."
    )


def _rows_named(numbers: list[int]) -> str:
    """ "Row 4", "Rows 4, 9 and 12", or the first ROWS_NAMED and how many more."""
    if len(numbers) == 1:
        return f"Row {numbers[0]}"
    shown = [str(number) for number in numbers[:ROWS_NAMED]]
    more = len(numbers) - len(shown)
    if more:
        return f"Rows {', '.join(shown)} and {more:,} more"
    return f"Rows {', '.join(shown[:-1])} and {shown[-1]}"


def _not_a_spreadsheet() -> str:
    return f"We could not read this file as a staff list. {FIX_FORMAT}"


def _open_csv(content: bytes, budget: _CellBudget):
    text, _encoding = _decode(content)
    # A NUL character means nothing in a staff list, and no database column can hold one.
    text = text.replace("\x00", "")
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > len(sample) // 100:
        raise UnreadableFile(_not_a_spreadsheet())
    delimiter = _delimiter(sample)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        try:
            for record in reader:
                yield reader.line_num, record
        except csv.Error as exc:
            raise UnreadableFile(
                f"Row {reader.line_num} of the file could not be read ({exc}). "
                "Check for a stray quotation mark, save the file as CSV again and upload it."
            ) from exc

    found = _find_header(budget.spend(numbered()))
    if found is None:
        raise UnreadableFile("The file is empty. Add your staff to the template and upload it.")
    header_number, header, rows, _named = found
    # Lines after the header; the last line may lack its newline.
    estimated = text.count("\n") - header_number + (not text.endswith("\n"))
    return "csv", header, rows, estimated


def _delimiter(sample: str) -> str:
    """Comma, semicolon or tab: whichever makes a row of the sample's first lines name the
    most template columns; failing that, whichever splits the first line most."""
    lines = sample.splitlines()[:HEADER_SEARCH_ROWS]
    candidates = [",", ";", "\t"]

    def columns_named(delimiter: str) -> int:
        try:
            rows = csv.reader(lines, delimiter=delimiter)
            return max((_columns_named(cells) for cells in rows), default=0)
        except csv.Error:
            return 0

    named = {delimiter: columns_named(delimiter) for delimiter in candidates}
    first_line = lines[0] if lines else ""
    return max(candidates, key=lambda d: (named[d], first_line.count(d)))


def _columns_named(cells) -> int:
    # A row wider than any staff list is refused when read; here only its start matters.
    cells = cells[:MAX_COLUMNS]
    return len({match_header(cell) for cell in cells if cell is not None} - {None})


def _find_header(rows: Iterator[tuple[int, list]]):
    """``(row number, header cells, rows after it, whether it names template columns)``: the
    first of the leading rows that names enough template columns (titles and notes above it
    are skipped), else the first row with anything in it, whose columns the caller then
    explains; None for no rows at all."""
    leading: list[tuple[int, list]] = []
    for number, cells in rows:
        leading.append((number, cells))
        if _columns_named(cells) >= HEADER_MIN_COLUMNS:
            return number, cells, rows, True
        if len(leading) >= HEADER_SEARCH_ROWS:
            break
    for index, (number, cells) in enumerate(leading):
        if any(cell is not None and str(cell).strip() for cell in cells):
            return number, cells, itertools.chain(leading[index + 1 :], rows), False
    return None


def _screen_xlsx(content: bytes, max_rows: int) -> int:
    """Refuse a workbook from its zip structure and the sizes its parts declare, reading
    only the start of each part, and estimate its rows (the longest sheet's). What the
    declarations leave out, the reading counts (_CellBudget, _shared_strings)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(DAMAGED) from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnreadableFile(EXPANDS)
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if total > MAX_UNCOMPRESSED_BYTES or (
            member.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO
        ):
            raise UnreadableFile(EXPANDS)
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(
            "This is not an Excel workbook (it may be a Word or other document with its name "
            f"changed). {FIX_FORMAT}"
        )
    titles = _sheet_titles(archive)
    estimated = 0
    for member in members:
        head = _head(archive, member)
        strings, cells = _declared_strings(head)
        if strings > max_rows * CELLS_PER_ROW:
            raise UnreadableFile(too_many_strings(max_rows, strings))
        if cells > max_rows * CELLS_PER_ROW:
            raise UnreadableFile(too_many_cells(max_rows))
        rows, columns = _declared_dimension(head)
        if columns > MAX_COLUMNS:
            raise UnreadableFile(too_wide(columns))
        if rows > max_rows + 1:
            title = titles.get(member.filename)
            sheet = f"the sheet “{title}”" if title else "a sheet"
            raise UnreadableFile(too_many_rows(max_rows, f" ({sheet} has {rows - 1:,})"))
        estimated = max(estimated, rows - 1)
    return estimated


EXPANDS = (
    "The Excel file expands to far more data than a staff list holds, so we did not open it. "
    f"{FIX_FORMAT}"
)
SST_TAG = re.compile(rb"<(?:\w+:)?sst\b([^>]*)>")
SST_COUNT = re.compile(rb"""\b(count|uniqueCount)\s*=\s*["'](\d+)["']""")
DIMENSION = re.compile(rb"""<(?:\w+:)?dimension\b[^>]*?\bref\s*=\s*["']([^"']*)["']""")
CELL_REFERENCE = re.compile(r"\$?([A-Za-z]{0,3})\$?(\d*)")


def _head(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    if member.is_dir():
        return b""
    try:
        with archive.open(member) as part:
            return part.read(DECLARED_SIZES_HEAD_BYTES)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise UnreadableFile(DAMAGED) from exc


def _declared_strings(head: bytes) -> tuple[int, int]:
    """A shared strings part's declared ``(uniqueCount, count)``: how many strings it holds
    and how many cells use them (0 where not declared or not such a part)."""
    found = SST_TAG.search(head)
    if found is None:
        return 0, 0
    declared = {name: int(number) for name, number in SST_COUNT.findall(found.group(1))}
    return declared.get(b"uniqueCount", 0), declared.get(b"count", 0)


def _declared_dimension(head: bytes) -> tuple[int, int]:
    """A worksheet's declared ``(last row, last column)`` (0, 0 where not declared)."""
    found = DIMENSION.search(head)
    if found is None:
        return 0, 0
    rows = columns = 0
    for reference in found.group(1).decode("ascii", "replace").split(":"):
        letters, digits = CELL_REFERENCE.fullmatch(reference.strip()).groups()
        rows = max(rows, int(digits or 0))
        column = 0
        for letter in letters.upper():
            column = column * 26 + ord(letter) - ord("A") + 1
        columns = max(columns, column)
    return rows, columns


def _sheet_titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet part's title, from the workbook part and its relationships; refuses a
    workbook part that is damaged or far larger than any workbook's."""
    from openpyxl.xml.functions import fromstring  # defusedxml's when installed, as openpyxl

    parts = {}
    for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        try:
            info = archive.getinfo(name)
        except KeyError:
            continue
        if info.file_size > MAX_WORKBOOK_PART_BYTES:
            raise UnreadableFile(EXPANDS)
        try:
            parts[name] = fromstring(archive.read(info))
        except (ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UnreadableFile(DAMAGED) from exc
    targets = {}
    for relationship in parts.get("xl/_rels/workbook.xml.rels", ElementTree.Element("r")):
        target = relationship.get("Target", "")
        targets[relationship.get("Id")] = target[1:] if target.startswith("/") else f"xl/{target}"
    titles = {}
    for element in parts["xl/workbook.xml"].iter():
        if element.tag.rpartition("}")[2] == "sheet":
            ids = [value for key, value in element.attrib.items() if key.endswith("}id")]
            if ids and ids[0] in targets:
                titles[targets[ids[0]]] = element.get("name", "")
    return titles


def _open_xlsx(content: bytes, budget: _CellBudget):
    try:
        workbook = _load_workbook(content, budget.max_rows)
    except UnreadableFile:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise UnreadableFile(DAMAGED) from exc
    try:
        first_with_data = None
        for worksheet in workbook.worksheets:
            declared_rows = worksheet.max_row or 0
            # Declared sizes can be wrong; stream every row and count them ourselves.
            worksheet.reset_dimensions()
            found = _find_header(_xlsx_rows(worksheet, budget))
            if found is None:
                continue
            number, header, rows, named = found
            if named:
                # The staff list's sheet, even behind a sheet of instructions.
                return "xlsx", list(header), rows, declared_rows - number
            first_with_data = first_with_data or (list(header), rows, declared_rows - number)
        if first_with_data is not None:
            return "xlsx", *first_with_data
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(DAMAGED) from exc
    raise UnreadableFile("The file is empty. Add your staff to the template and upload it.")


def _load_workbook(content: bytes, max_rows: int):
    """openpyxl's read-only workbook, its shared strings read by _shared_strings: openpyxl's
    own reader loads the whole table, however long, before the first row can be read."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import SHARED_STRINGS

    # data_only=False: a formula is kept as the text the employer typed, never evaluated.
    reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)

    def read_strings():
        part = reader.package.find(SHARED_STRINGS)
        if part is None:
            return
        with reader.archive.open(part.PartName[1:]) as source:
            if _count_strings(source) > max_rows * CELLS_PER_ROW:
                raise UnreadableFile(too_many_strings(max_rows))
        with reader.archive.open(part.PartName[1:]) as source:
            reader.shared_strings = _shared_strings(source, max_rows)

    reader.read_strings = read_strings
    reader.read()
    return reader.wb


def _count_strings(source) -> int:
    """How many strings a shared strings part holds, counted by their end tags as the part
    is unzipped: a fraction of a second for the largest part a workbook may hold, where
    parsing them takes several seconds a million. Tags written with a namespace prefix are
    not counted here; _shared_strings still stops at the limit while it parses them."""
    count = 0
    carry = b""
    while chunk := source.read(1024 * 1024):
        text = carry + chunk
        count += text.count(b"</si>") + text.count(b"<si/>")
        # Too short to hold a whole tag, so a tag split across chunks is counted once.
        carry = text[-4:]
    return count


def _shared_strings(source, max_rows: int) -> list[str]:
    """A workbook's shared strings as openpyxl reads them (plain text, or rich text runs
    joined; phonetic guides left out), refused as soon as there are more than a staff list
    of ``max_rows`` rows could use."""
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse  # defusedxml's when installed, as openpyxl

    limit = max_rows * CELLS_PER_ROW
    string, text, run = (f"{{{SHEET_MAIN_NS}}}{tag}" for tag in ("si", "t", "r"))
    strings: list[str] = []
    parser = iterparse(source, events=("start", "end"))
    _event, table = next(parser)
    for event, element in parser:
        if event != "end" or element.tag != string:
            continue
        if len(strings) >= limit:
            raise UnreadableFile(too_many_strings(max_rows))
        value = element.findtext(text) or ""
        value += "".join(part.findtext(text) or "" for part in element.iterfind(run))
        strings.append(value.replace("x005F_", ""))
        # Drop the strings' elements as they are read, so memory holds only their text.
        table.clear()
    return strings


def _xlsx_rows(worksheet, budget: _CellBudget) -> Iterator[tuple[int, tuple]]:
    # openpyxl makes an empty row for every row number a sheet skips: stop counting them
    # soon after the last row a staff list could use.
    last_row = budget.max_rows + HEADER_SEARCH_ROWS + 1
    try:
        yield from budget.spend(
            enumerate(worksheet.iter_rows(values_only=True), start=1), last_row=last_row
        )
    except UnreadableFile:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged sheet
        raise UnreadableFile(DAMAGED) from exc


def cell_text(value) -> str:
    """A raw cell as the text the employer typed (numbers without a trailing ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().strftime("%d/%m/%Y")
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return str(value)
