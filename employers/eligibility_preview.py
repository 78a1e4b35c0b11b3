"""What a rule set would decide for the staff in a file, storing nothing: the eligibility
preview behind ``manage.py eligibility_preview`` and the preview page. The file goes through
the staff upload's own reader and row checks (employers.staff_files, employers.imports) and
each clean row through the evaluator that assesses stored employments (workers.rules). The
page's run records one audit event (who previewed what, with counts only); nothing else is
written, the file and its rows least of all."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from employers.imports import check_batches
from employers.models import Employer
from employers.staff_files import open_staff_file
from portal import audit
from portal.roles import may_preview_rule_changes
from workers.models import RuleSet
from workers.rules import ELIGIBLE, NEEDS_INFORMATION, NOT_ELIGIBLE, OUTCOME_WORDS, Assessor
from workers.services import facts_for

HEADER = ["row", "staff_reference", "outcome", "reason"]
# The page assesses the file while the lead waits: about 20,000 rows a few seconds. Longer
# lists are split, or previewed by an operator with the command (up to MAX_ROWS).
PAGE_MAX_ROWS = 20_000
OUTCOMES = (ELIGIBLE, NOT_ELIGIBLE, NEEDS_INFORMATION)
REASON_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One clean row of the file and what the rules say about it."""

    row_number: int
    staff_reference: str
    outcome: str
    reasons: tuple[str, ...]

    @property
    def outcome_words(self) -> str:
        return OUTCOME_WORDS[self.outcome]

    @property
    def reason(self) -> str:
        return REASON_SEPARATOR.join(self.reasons)

    def csv_values(self) -> list:
        return [self.row_number, self.staff_reference, self.outcome_words, self.reason]


@dataclass(frozen=True, slots=True)
class PreviewError:
    """A problem that keeps a row out of the preview, as the upload would report it."""

    row_number: int
    column: str
    message: str


@dataclass
class Preview:
    rule_set: RuleSet
    employer: Employer | None
    rows: list[PreviewRow]
    errors: list[PreviewError]
    error_rows: int
    warnings: list[str]
    # With no employer named, rows are assessed as if their employer were approved; this many
    # would get another outcome while an employer still awaits approval.
    depends_on_approval: int = 0

    @property
    def employer_assumed_approved(self) -> bool:
        return self.employer is None

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for row in self.rows:
            counts[row.outcome] += 1
        return counts


def rule_set_label(rule_set: RuleSet, *, current_id: int | None = None) -> str:
    """How a rule set is named where someone picks one to preview."""
    if rule_set.is_published:
        if rule_set.pk == current_id:
            return f"Version {rule_set.version}, in force"
        return f"Version {rule_set.version}, published {rule_set.published_at:%-d %B %Y}"
    label = f"Draft {rule_set.pk}, not published (started {rule_set.created_at:%-d %B %Y})"
    notes = " ".join(rule_set.notes.split())
    if notes:
        label += f": {notes[:60]}{'…' if len(notes) > 60 else ''}"
    return label


def assumption_note(preview: Preview, *, how: str = "Choose the employer") -> str:
    """What a preview without an employer assumed, in plain English (empty when nothing was);
    ``how`` says how to name the employer where the note is read."""
    if not preview.employer_assumed_approved:
        return ""
    note = (
        "No employer was chosen, so every row was assessed as if its employer were approved. "
        f"{how} to use its real approval status."
    )
    if preview.depends_on_approval:
        rows = preview.depends_on_approval
        note += (
            f" For {rows:,} row{'s' if rows != 1 else ''} the outcome would be different while "
            "the employer awaits approval."
        )
    return note


def preview_staff_file(
    *,
    content: bytes,
    filename: str = "",
    rule_set: RuleSet,
    employer: Employer | None = None,
    max_rows: int | None = None,
) -> Preview:
    """Check every row of a staff list file as an upload would and assess each clean row
    under ``rule_set`` (published or draft). Reads only: nothing is written anywhere.

    Raises UnreadableFile when the file cannot be read as a staff list, and RuleError when
    the rule set cannot be evaluated.
    """
    assessor = Assessor(rule_set.rules)
    sheet = open_staff_file(content, filename, max_rows=max_rows)
    approved = employer is None or employer.status == Employer.Status.APPROVED
    rows: list[PreviewRow] = []
    errors: list[PreviewError] = []
    error_rows = depends = 0
    for batch in check_batches(sheet.rows(), employer_id=employer.pk if employer else None):
        errors.extend(
            PreviewError(problem.row_number, problem.column, problem.message)
            for problem in batch.problems
        )
        error_rows += len(batch.bad_rows)
        for outcome in batch.outcomes:
            row = outcome.row
            facts = facts_for(
                job_role=row.job_role,
                work_setting=row.work_setting,
                employment_type=row.employment_type,
                direct_contact=row.direct_contact,
                employer_approved=approved,
            )
            result, reasons = assessor(facts)
            if employer is None:
                pending = dataclasses.replace(facts, employer_approved=False)
                depends += assessor(pending) != (result, reasons)
            rows.append(PreviewRow(row.row_number, row.staff_reference, result, reasons))
    return Preview(
        rule_set=rule_set,
        employer=employer,
        rows=rows,
        errors=errors,
        error_rows=error_rows,
        warnings=sheet.warnings,
        depends_on_approval=depends,
    )


def preview_for_user(
    *,
    user,
    content: bytes,
    filename: str,
    rule_set: RuleSet,
    employer: Employer | None = None,
    request=None,
) -> Preview:
    """The page's preview: a lead's or administrator's, for an employer they may see (or
    none), of up to PAGE_MAX_ROWS rows. Records who ran it, on which rules, and the counts;
    no row, name or staff reference is kept."""
    if not may_preview_rule_changes(user):
        raise PermissionDenied("Only local leads and administrators preview rule changes.")
    if (
        employer is not None
        and not Employer.objects.visible_to(user).filter(pk=employer.pk).exists()
    ):
        raise Employer.DoesNotExist("This employer is not in your area.")
    preview = preview_staff_file(
        content=content,
        filename=filename,
        rule_set=rule_set,
        employer=employer,
        max_rows=PAGE_MAX_ROWS,
    )
    audit.record(
        verb="eligibility_preview_run",
        actor=user,
        target=rule_set,
        details={
            "rule_set_version": rule_set.version,
            "draft": not rule_set.is_published,
            "employer_id": employer.pk if employer else None,
            "file_sha256": hashlib.sha256(content).hexdigest(),
            "rows_assessed": len(preview.rows),
            "error_rows": preview.error_rows,
            "counts": preview.counts,
        },
        request=request,
    )
    return preview
