"""Every file the portal hands out: CSV (UTF-8 with a byte order mark, so Excel reads it
right) and XLSX, with any text that a spreadsheet would run as a formula neutralised."""

import codecs
import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

# Characters with which a spreadsheet starts a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "DD/MM/YYYY"
# An XLSX bigger than this is built on disk rather than in memory.
XLSX_MEMORY_LIMIT = 16 * 1024 * 1024


def neutralise_formula(text):
    """Text a spreadsheet would run as a formula gets a leading apostrophe; the rest is kept.

    Only text is touched: numbers and dates are written as numbers and dates, never run.
    """
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return f"'{text}"
    return text


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    return neutralise_formula(str(value))


class _Echo:
    """A file-like object whose write hands the line back, for streaming through csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    header: Sequence[str], rows: Iterable[Sequence], *, bom: bool = True
) -> Iterator[str]:
    """The lines of a CSV export, the first starting with the byte order mark (which Excel
    needs; ``bom=False`` for a program reading a command's output)."""
    writer = csv.writer(_Echo())
    mark = codecs.BOM_UTF8.decode("utf-8") if bom else ""
    yield mark + writer.writerow([_csv_value(v) for v in header])
    for row in rows:
        yield writer.writerow([_csv_value(value) for value in row])


def write_csv(stream, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write a CSV export to a text stream (a file opened with ``newline=""``)."""
    for line in csv_lines(header, rows):
        stream.write(line)


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence]
) -> StreamingHttpResponse:
    """A CSV download, streamed row by row so a national export never sits in memory."""
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(header, rows)), content_type=CSV_CONTENT_TYPE
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@dataclass
class Sheet:
    """One worksheet of an XLSX export."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence]
    column_widths: Sequence[int] = field(default_factory=list)


def xlsx_cell(worksheet, value):
    """A write-only cell holding ``value`` safely: text neutralised, dates shown as dates."""
    if isinstance(value, str):
        value = neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", value))
    cell = WriteOnlyCell(worksheet, value=value)
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        cell.number_format = DATE_FORMAT
    return cell


def write_xlsx(stream, sheets: Sequence[Sheet]) -> None:
    """Write an XLSX export (write-only mode: memory stays flat however many rows)."""
    workbook = Workbook(write_only=True)
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=sheet.title[:31])
        for index, width in enumerate(sheet.column_widths):
            worksheet.column_dimensions[get_column_letter(index + 1)].width = width
        worksheet.append([xlsx_cell(worksheet, value) for value in sheet.header])
        for row in sheet.rows:
            worksheet.append([xlsx_cell(worksheet, value) for value in row])
    workbook.save(stream)


def xlsx_response(filename: str, sheets: Sequence[Sheet]) -> FileResponse:
    """An XLSX download, built in a temporary file that spills to disk when it grows large."""
    # FileResponse closes the file when the download ends.
    spool = tempfile.SpooledTemporaryFile(max_size=XLSX_MEMORY_LIMIT)  # noqa: SIM115
    write_xlsx(spool, sheets)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )
