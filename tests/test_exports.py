"""Exports (docs/data-formats.md): UTF-8 CSV with BOM, XLSX, formulas neutralised everywhere."""

import csv
import datetime
import io

import openpyxl
import pytest

from portal.exports import (
    Sheet,
    csv_lines,
    csv_response,
    neutralise_formula,
    write_csv,
    write_xlsx,
    xlsx_response,
)

DANGEROUS = [
    '=HYPERLINK("http://evil.example","Click")',
    "+44 7700 900123",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTabbed",
    "\rReturned",
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_each_formula_start_gets_a_leading_apostrophe(text):
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["Care worker", "", " =not at start", "O'Brien", "a=b", "1-2"])
def test_ordinary_text_is_unchanged(text):
    assert neutralise_formula(text) == text


@pytest.mark.parametrize("value", [None, 42, -5, 1.5, datetime.date(1980, 4, 3)])
def test_non_text_is_unchanged(value):
    assert neutralise_formula(value) == value


def _read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_response_is_utf8_with_bom_and_neutralised():
    rows = [[text, "Zoë", 7, datetime.date(1980, 4, 3), True, None] for text in DANGEROUS]
    response = csv_response("staff.csv", ["Name", "First name", "N", "Date", "Yes?", "Blank"], rows)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="staff.csv"'
    parsed = _read_csv(b"".join(response.streaming_content))
    assert parsed[0] == ["Name", "First name", "N", "Date", "Yes?", "Blank"]
    assert [row[0] for row in parsed[1:]] == ["'" + text for text in DANGEROUS]
    assert parsed[1][1:] == ["Zoë", "7", "1980-04-03", "Yes", ""]


def test_csv_lines_without_the_byte_order_mark_for_programs():
    lines = list(csv_lines(["row", "reason"], [[2, "=SUM(A1)"]], bom=False))
    assert lines == ["row,reason\r\n", "2,'=SUM(A1)\r\n"]
    assert next(csv_lines(["row"], [])).startswith("\ufeffrow")


def test_write_csv_to_a_file(tmp_path):
    path = tmp_path / "out.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_csv(handle, ["A"], [["=1+1"], ["plain"]])
    assert _read_csv(path.read_bytes()) == [["A"], ["'=1+1"], ["plain"]]


def test_xlsx_cells_are_neutralised_and_typed():
    rows = [[text, datetime.date(1980, 4, 3), 7] for text in DANGEROUS]
    response = xlsx_response("staff.xlsx", [Sheet("Staff", ["Name", "Date", "N"], rows)])
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Staff"]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    # XML reads a carriage return back as a line feed; what matters is the apostrophe.
    assert [row[0] for row in cells] == ["'" + text.replace("\r", "\n") for text in DANGEROUS]
    assert all(cell.data_type == "s" for cell in sheet["A"])
    assert sheet["B2"].is_date and sheet["B2"].number_format == "DD/MM/YYYY"
    assert sheet["C2"].value == 7


def test_xlsx_drops_characters_a_workbook_cannot_hold():
    buffer = io.BytesIO()
    write_xlsx(buffer, [Sheet("Notes", ["Text"], [["bell\x07 here"]])])
    assert openpyxl.load_workbook(buffer)["Notes"]["A2"].value == "bell here"


def test_large_xlsx_is_built_on_disk_not_in_memory(monkeypatch):
    monkeypatch.setattr("portal.exports.XLSX_MEMORY_LIMIT", 1024)
    rows = ([f"Worker {n}", n] for n in range(2000))
    response = xlsx_response("big.xlsx", [Sheet("Staff", ["Name", "N"], rows)])
    assert response.file_to_stream._rolled  # spilled to a real temporary file
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Staff"]
    assert sheet.max_row == 2001 and sheet["A2001"].value == "Worker 1999"


def test_download_names_outside_ascii_are_encoded():
    response = csv_response("Côte staff.csv", ["A"], [])
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''C%C3%B4te%20staff.csv"
