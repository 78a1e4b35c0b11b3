"""The staff list template employers download (docs/data-formats.md): CSV with the canonical
header and an example row, and XLSX that adds drop-down lists and a guidance sheet. Both are
built from workers/staff_columns.py and the reference values, so they always match the upload.
"""

import datetime
import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from portal.exports import XLSX_CONTENT_TYPE, csv_response, neutralise_formula
from portal.roles import may_download_staff_list_template
from workers import reference
from workers.models import ReferenceValue
from workers.staff_columns import COLUMNS, COLUMNS_BY_KEY, HEADERS, REQUIRED_ONE_OF, example_row

FILENAME = "staff-list-template"
# The upload takes up to 100,000 rows; drop-downs and formats cover that many.
LAST_ROW = 100_001
EXAMPLE_DATE_OF_BIRTH = datetime.date(1980, 4, 3)
YES_NO = ["Yes", "No"]

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D8DDE0")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _cell_text(value):
    return neutralise_formula(value) if isinstance(value, str) else value


def _column_letter(key: str) -> str:
    return get_column_letter(COLUMNS.index(COLUMNS_BY_KEY[key]) + 1)


def _required_text(column) -> str:
    if column.required:
        return "Required"
    for group in REQUIRED_ONE_OF:
        if column.key in group:
            others = [COLUMNS_BY_KEY[key].header.lower() for key in group if key != column.key]
            return f"Required if there is no {' or '.join(others)}"
    return "Optional"


def _allowed_values(kind: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(code, label, aliases) of the active values of ``kind``, in display order."""
    return [
        (entry.code, entry.label, entry.aliases)
        for entry in reference.entries(kind)
        if entry.is_active
    ]


def _write_row(sheet, row: int, values, *, bold: bool = False) -> None:
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=row, column=column, value=_cell_text(value))
        cell.alignment = _WRAP
        if bold:
            cell.font = _BOLD
            cell.fill = _HEADER_FILL


def _lists_sheet(workbook) -> dict[str, str]:
    """A hidden sheet holding each drop-down's options; returns column key → range formula."""
    sheet = workbook.create_sheet("Lists")
    sheet.sheet_state = "hidden"
    ranges = {}
    options = {
        column.key: [text for _, text, _ in _allowed_values(column.reference_kind)]
        for column in COLUMNS
        if column.reference_kind
    }
    options["direct_contact"] = YES_NO
    for index, (key, texts) in enumerate(options.items(), start=1):
        letter = get_column_letter(index)
        sheet.cell(row=1, column=index, value=COLUMNS_BY_KEY[key].header)
        for row, text in enumerate(texts, start=2):
            sheet.cell(row=row, column=index, value=_cell_text(text))
        ranges[key] = f"=Lists!${letter}$2:${letter}${len(texts) + 1}"
    return ranges


def _staff_sheet(workbook, ranges: dict[str, str]) -> None:
    sheet = workbook.active
    sheet.title = "Staff"
    example = example_row()
    example["date_of_birth"] = EXAMPLE_DATE_OF_BIRTH
    _write_row(sheet, 1, HEADERS, bold=True)
    _write_row(sheet, 2, [example[column.key] for column in COLUMNS])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(14, len(column.header) + 2)

    date_column = _column_letter("date_of_birth")
    sheet.column_dimensions[date_column].number_format = "DD/MM/YYYY"
    sheet[f"{date_column}2"].number_format = "DD/MM/YYYY"
    # Text columns, so Excel keeps leading zeros and long digit strings as typed.
    for key in ("nhs_number", "mobile", "staff_reference", "home_postcode"):
        letter = _column_letter(key)
        sheet.column_dimensions[letter].number_format = "@"
        sheet[f"{letter}2"].number_format = "@"

    for key, formula in ranges.items():
        column = COLUMNS_BY_KEY[key]
        # A warning, not a stop: the upload also accepts the other wordings on the Guidance sheet.
        validation = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=not column.required,
            errorStyle="warning",
            showErrorMessage=True,
            errorTitle=column.header,
            error="Pick a value from the list, or use one of the wordings on the Guidance sheet.",
            showInputMessage=True,
            promptTitle=column.header,
            prompt=(column.hint or "Pick a value from the list.")[:255],
        )
        letter = _column_letter(key)
        validation.add(f"{letter}2:{letter}{LAST_ROW}")
        sheet.add_data_validation(validation)


def _guidance_sheet(workbook) -> None:
    sheet = workbook.create_sheet("Guidance")
    sheet.column_dimensions["A"].width = 45
    sheet.column_dimensions["B"].width = 45
    sheet.column_dimensions["C"].width = 70
    rows: list[tuple[list, bool]] = [
        (["How to fill in the staff list"], True),
        (["Put one worker on each row of the Staff sheet. Keep the headings in row 1."], False),
        (["Replace the example row with your own staff before you upload the file."], False),
        (["Give an email address or a UK mobile number for everyone, or both."], False),
        ([], False),
        (["Column", "Required", "Also accepted as a heading / what to enter"], True),
    ]
    for column in COLUMNS:
        notes = "; ".join(column.aliases)
        if column.hint:
            notes = f"{column.hint}. Other headings: {notes}" if notes else column.hint
        rows.append(([column.header, _required_text(column), notes], False))
    sections = [
        (ReferenceValue.Kind.JOB_ROLE, "Job role"),
        (ReferenceValue.Kind.WORK_SETTING, "Work setting"),
        (ReferenceValue.Kind.EMPLOYMENT_TYPE, "Employment type (blank means Employed)"),
    ]
    for kind, title in sections:
        rows += [([], False), ([title, "", "Also accepted"], True)]
        rows += [
            ([text, "", "; ".join(aliases)], False) for _, text, aliases in _allowed_values(kind)
        ]
    rows += [
        ([], False),
        (["Direct contact with clinically vulnerable people", "", "Also accepted"], True),
        (["Yes", "", "Y; True; 1"], False),
        (["No", "", "N; False; 0"], False),
        ([], False),
        (["Ethnicity (blank means Not stated)", "Code", "Also accepted"], True),
    ]
    rows += [
        ([text, code, "; ".join(aliases)], False)
        for code, text, aliases in _allowed_values(ReferenceValue.Kind.ETHNICITY)
    ]
    for number, (values, bold) in enumerate(rows, start=1):
        _write_row(sheet, number, values, bold=bold)


def build_template_workbook() -> Workbook:
    """Sheets in this order: Staff (to fill in), Guidance, and the hidden drop-down Lists."""
    workbook = Workbook()
    _guidance_sheet(workbook)
    _staff_sheet(workbook, _lists_sheet(workbook))
    return workbook


@require_GET
@login_required
def template_csv(request):
    if not may_download_staff_list_template(request.user):
        raise PermissionDenied
    example = example_row()
    return csv_response(f"{FILENAME}.csv", HEADERS, [[example[c.key] for c in COLUMNS]])


@require_GET
@login_required
def template_xlsx(request):
    if not may_download_staff_list_template(request.user):
        raise PermissionDenied
    buffer = io.BytesIO()
    build_template_workbook().save(buffer)
    buffer.seek(0)
    return FileResponse(
        buffer, as_attachment=True, filename=f"{FILENAME}.xlsx", content_type=XLSX_CONTENT_TYPE
    )
