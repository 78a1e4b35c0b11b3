"""The staff list as a django-import-export ``Resource``: one field per template column, each
with a widget that checks and normalises a cell. The bulk import service, the management
command and the Django admin import all use these field definitions."""

from __future__ import annotations

import datetime
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import transaction
from import_export import fields, resources, widgets
from import_export.results import Error, Result, RowResult

from employers.staff_files import cell_text
from portal.postcodes import is_known_district, normalise_postcode
from workers import reference
from workers.staff_columns import COLUMNS_BY_KEY
from workers.validation import (
    check_date_of_birth,
    normalise_email,
    normalise_mobile,
    normalise_name,
    normalise_nhs_number,
    parse_date,
)


class CellWidget(widgets.Widget):
    """Checks one non-blank cell; raises ValueError with a plain-English message."""

    def clean(self, value, row=None, **kwargs):
        return cell_text(value)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class NameWidget(CellWidget):
    def __init__(self, field_name: str):
        super().__init__()
        self.field_name = field_name

    def clean(self, value, row=None, **kwargs):
        return normalise_name(cell_text(value), field=self.field_name)


class DateOfBirthWidget(CellWidget):
    def clean(self, value, row=None, today: datetime.date | None = None, **kwargs):
        """``today`` may be given once for a whole file (finding it costs a time zone lookup)."""
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return check_date_of_birth(value, today)
        return check_date_of_birth(_parse_date_text(str(value)), today)

    def render(self, value, obj=None, **kwargs):
        return value.strftime("%d/%m/%Y") if value else ""


@lru_cache(maxsize=50_000)
def _parse_date_text(text: str) -> datetime.date:
    # Staff lists repeat many dates; parsing each distinct text once keeps 100,000 rows fast.
    return parse_date(text)


class NHSNumberWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return normalise_nhs_number(value)


class PostcodeWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return _checked_postcode(cell_text(value))


@lru_cache(maxsize=50_000)
def _checked_postcode(text: str) -> str:
    postcode = normalise_postcode(text)
    if not is_known_district(postcode, normalised=True):
        raise ValueError(
            f"We do not know the postcode district of {postcode}. Check the postcode is right "
            "and in full, like SW1A 2AA"
        )
    return postcode


class EmailWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return normalise_email(cell_text(value))


class MobileWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return normalise_mobile(value)


class ReferenceValueWidget(CellWidget):
    """A value from the canonical list of ``kind`` (by code, label or alias)."""

    def __init__(self, kind: str, noun: str, plural: str):
        super().__init__()
        self.kind = kind
        self.noun = noun
        self.plural = plural

    def clean(self, value, row=None, **kwargs):
        code = reference.match(self.kind, cell_text(value))
        if code is None:
            raise ValueError(
                f"{cell_text(value)} is not {self.noun} we recognise. Use one of the "
                f"{self.plural} listed in the staff list template's guidance"
            )
        return code

    def blank(self):
        return reference.match(self.kind, "")

    def render(self, value, obj=None, **kwargs):
        return reference.label(self.kind, value) if value else ""


class YesNoWidget(CellWidget):
    def clean(self, value, row=None, **kwargs):
        return reference.parse_yes_no(value)

    def render(self, value, obj=None, **kwargs):
        return "Yes" if value else "No" if value is not None else ""


class StaffReferenceWidget(CellWidget):
    MAX_LENGTH = 50

    def clean(self, value, row=None, **kwargs):
        # Kept exactly as typed: text such as "=HYPERLINK(...)" is stored as plain text.
        text = cell_text(value)
        if len(text) > self.MAX_LENGTH:
            raise ValueError(
                f"The staff reference must be {self.MAX_LENGTH} characters or fewer. "
                "Shorten it or leave it blank"
            )
        return text


def _field(key: str, widget: widgets.Widget) -> fields.Field:
    column = COLUMNS_BY_KEY[key]
    return fields.Field(attribute=key, column_name=column.header, widget=widget)


class StaffResource(resources.Resource):
    """A staff list row, column by column, as the employer's template names them.

    ``import_data`` runs the bulk import service for ``employer`` (django-import-export's
    per-row import would issue several queries a row).
    """

    first_name = _field("first_name", NameWidget("first name"))
    last_name = _field("last_name", NameWidget("last name"))
    date_of_birth = _field("date_of_birth", DateOfBirthWidget())
    nhs_number = _field("nhs_number", NHSNumberWidget())
    home_postcode = _field("home_postcode", PostcodeWidget())
    email = _field("email", EmailWidget())
    mobile = _field("mobile", MobileWidget())
    job_role = _field("job_role", ReferenceValueWidget("job_role", "a job role", "job roles"))
    work_setting = _field(
        "work_setting", ReferenceValueWidget("work_setting", "a work setting", "work settings")
    )
    employment_type = _field(
        "employment_type",
        ReferenceValueWidget("employment_type", "an employment type", "employment types"),
    )
    direct_contact = _field("direct_contact", YesNoWidget())
    staff_reference = _field("staff_reference", StaffReferenceWidget())
    ethnicity = _field(
        "ethnicity", ReferenceValueWidget("ethnicity", "an ethnic category", "ethnic categories")
    )

    @classmethod
    def get_display_name(cls) -> str:
        return "Staff list"

    def __init__(self, employer=None, mode: str = "add", **kwargs):
        super().__init__(**kwargs)
        self.employer = employer
        self.mode = mode

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        """Check (``dry_run``: nothing kept) or import a tablib dataset with the bulk service."""
        from employers import imports

        with transaction.atomic():
            upload = imports.upload_from_dataset(
                user=kwargs.get("user"),
                employer=self.employer,
                dataset=dataset,
                mode=self.mode,
                file_name=kwargs.get("file_name") or "admin import",
                dry_run=dry_run,
            )
            result = upload_result(upload, dataset)
            if dry_run:
                transaction.set_rollback(True)
        return result


def upload_result(upload, dataset) -> Result:
    """django-import-export's Result for a checked or imported upload (for the admin pages)."""
    result = Result()
    result.diff_headers = list(dataset.headers or [])
    result.add_dataset_headers(result.diff_headers)
    if upload.failure_reason:
        result.append_base_error(Error(ValueError(upload.failure_reason)))
        return result
    by_row: dict[int, dict[str, list[str]]] = {}
    for error in upload.errors.order_by("row_number", "id").iterator():
        by_row.setdefault(error.row_number, {}).setdefault(error.column or "__all__", []).append(
            error.message
        )
    for row_number, messages in by_row.items():
        result.append_invalid_row(row_number, {}, ValidationError(messages))
    for import_type, count in (
        (RowResult.IMPORT_TYPE_NEW, upload.new_count),
        (RowResult.IMPORT_TYPE_UPDATE, upload.updated_count),
        (RowResult.IMPORT_TYPE_SKIP, upload.unchanged_count),
    ):
        result.totals[import_type] = count
    result.totals[RowResult.IMPORT_TYPE_INVALID] = upload.error_count
    return result
