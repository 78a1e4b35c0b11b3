"""Reading an uploaded staff list (CSV or XLSX) safely: format and encoding detection, size,
row and zip-bomb limits, and header matching. Rows are streamed, never loaded whole."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from workers.staff_columns import COLUMNS, match_header

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# A real 100,000-row staff list unzips to well under this; a zip bomb does not.
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100

# Exports often put a title, a date or notes above the column names: the header is the
# first of this many rows that names at least HEADER_MIN_COLUMNS template columns.
HEADER_SEARCH_ROWS = 20
HEADER_MIN_COLUMNS = 2
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Directory entry names in an OLE file are UTF-16LE; an encrypted Office file has this stream.
OLE_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")

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
        names = ", ".join(f"“{name}”" for name in self.ignored_headers)
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


def open_staff_file(
    content: bytes, filename: str = "", *, max_rows: int | None = None
) -> StaffSheet:
    """Open ``content`` as a staff list or raise UnreadableFile with a plain-English reason;
    a list of more than ``max_rows`` staff (default MAX_ROWS) is refused."""
    max_rows = max_rows or MAX_ROWS
    if not content or not content.strip():
        raise UnreadableFile("The file is empty. Add your staff to the template and upload it.")
    if len(content) > MAX_FILE_BYTES:
        raise UnreadableFile(
            "The file is larger than 20 MB. Remove extra sheets or columns, or split the list "
            "into smaller files, and upload them one at a time."
        )
    if content.startswith(ZIP_MAGIC):
        kind, header_cells, rows, estimated = _open_xlsx(content, max_rows)
    elif content.startswith(OLE_MAGIC):
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
    else:
        kind, header_cells, rows, estimated = _open_csv(content)

    return sheet_from_table(kind, header_cells, rows, estimated, max_rows=max_rows)


def sheet_from_table(
    kind: str, header_cells, rows, estimated: int = 0, *, max_rows: int | None = None
) -> StaffSheet:
    """Match a header row to the template's columns and refuse a list with no staff."""
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
    """Decode CSV bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="strict"), "UTF-8"
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise UnreadableFile(_not_a_spreadsheet()) from exc
    # Text without a byte-order mark is never more than a stray NUL or two (a binary file or
    # UTF-16 saved without its mark is full of them); stray ones are dropped below.
    head = content[:65536]
    if head.count(b"\x00") > max(16, len(head) // 100):
        raise UnreadableFile(_not_a_spreadsheet())
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
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


def _not_a_spreadsheet() -> str:
    return f"We could not read this file as a staff list. {FIX_FORMAT}"


def _open_csv(content: bytes):
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

    found = _find_header(numbered())
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


def _check_zip(content: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(DAMAGED) from exc
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if total > MAX_UNCOMPRESSED_BYTES or (
            member.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO
        ):
            raise UnreadableFile(
                "The Excel file expands to far more data than a staff list holds, so we did "
                f"not open it. {FIX_FORMAT}"
            )
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(
            "This is not an Excel workbook (it may be a Word or other document with its name "
            f"changed). {FIX_FORMAT}"
        )


def _open_xlsx(content: bytes, max_rows: int):
    _check_zip(content)
    import openpyxl

    try:
        # data_only=False: a formula is kept as the text the employer typed, never evaluated.
        workbook = openpyxl.load_workbook(
            io.BytesIO(content), read_only=True, data_only=False, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise UnreadableFile(DAMAGED) from exc
    try:
        first_with_data = None
        for worksheet in workbook.worksheets:
            declared_rows = worksheet.max_row or 0
            if declared_rows > max_rows + 1:
                detail = f" (the sheet “{worksheet.title}” has {declared_rows - 1:,})"
                raise UnreadableFile(too_many_rows(max_rows, detail))
            # Declared sizes can be wrong; stream every row and count them ourselves.
            worksheet.reset_dimensions()
            found = _find_header(_xlsx_rows(worksheet))
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


def _xlsx_rows(worksheet) -> Iterator[tuple[int, tuple]]:
    try:
        yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
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
