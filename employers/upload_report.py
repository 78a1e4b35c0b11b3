"""What an upload's check found, as the web page, the error download and the command show it:
the summary lines and the error rows in the file's own row order (values neutralised)."""

from collections.abc import Iterator

from employers.models import StaffUpload, StaffUploadError
from portal.exports import csv_response, neutralise_formula

ERROR_HEADER = ["Row", "Column", "Value", "What is wrong and how to fix it"]


def summary_lines(upload: StaffUpload) -> list[str]:
    lines = [
        f"File: {upload.original_filename}",
        f"Rows checked: {upload.rows_done}",
        f"New: {upload.new_count}",
        f"Updated: {upload.updated_count}",
        f"Unchanged: {upload.unchanged_count}",
        f"Rows with errors: {upload.error_count}",
    ]
    if upload.mode == StaffUpload.Mode.REPLACE:
        lines.append(f"To be marked as left: {upload.left_count}")
    lines.extend(f"Warning: {warning}" for warning in upload.warnings)
    return lines


def error_rows(upload: StaffUpload) -> Iterator[list]:
    """Every error of the upload in row order, streamed in chunks (100,000 errors is fine)."""
    errors = (
        StaffUploadError.objects.filter(upload=upload)
        .order_by("row_number", "id")
        .values_list("row_number", "column", "value", "message")
    )
    for row_number, column, value, message in errors.iterator(chunk_size=2000):
        yield [row_number, column, neutralise_formula(value), message]


def errors_csv_response(upload: StaffUpload):
    stem = upload.original_filename.rsplit(".", 1)[0] or "staff-list"
    return csv_response(f"{stem}-errors.csv", ERROR_HEADER, error_rows(upload))
