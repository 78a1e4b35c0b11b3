"""``manage.py eligibility_preview FILE [--employer ID] [--rule-set VERSION | --draft ID]``:
what a rule set would decide for each member of staff in a staff list file, stored nowhere.

Prints CSV (``row,staff_reference,outcome,reason``) on standard output, in the file's row
order; notes, the summary and row errors go to standard error. Exit codes: 0 every row was
assessed, 1 some rows have errors (listed; those rows are not assessed), 2 the file cannot be
read or the command was called with an unknown employer or rule set."""

from pathlib import Path
from typing import NoReturn

from django.core.management.base import BaseCommand

from employers.eligibility_preview import HEADER, assumption_note, preview_staff_file
from employers.models import Employer
from employers.staff_files import UnreadableFile
from portal.exports import csv_lines
from workers.models import RuleSet
from workers.rules import OUTCOME_WORDS, RuleError


class Command(BaseCommand):
    help = (
        "Assess every row of a staff list (CSV or XLSX) against the current rule set, or a "
        "published version or draft you name, and print the outcomes as CSV. Stores nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--employer",
            type=int,
            metavar="ID",
            help="Use this employer's approval status and check the rows against its staff. "
            "Without it, rows are assessed as if their employer were approved.",
        )
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--rule-set",
            type=int,
            metavar="VERSION",
            dest="version",
            help="A published rule set version (default: the one in force).",
        )
        which.add_argument(
            "--draft",
            type=int,
            metavar="ID",
            help="A draft rule set not yet published, by its ID (as in Django admin).",
        )

    def fail(self, message: str, code: int = 2) -> NoReturn:
        self.stderr.write(message)
        raise SystemExit(code)

    def rule_set(self, version: int | None, draft: int | None) -> RuleSet:
        if draft is not None:
            found = RuleSet.objects.drafts().filter(pk=draft).first()
            if found is None:
                self.fail(f"There is no draft rule set with ID {draft}.")
            return found
        if version is not None:
            found = RuleSet.objects.published().filter(version=version).first()
            if found is None:
                self.fail(f"There is no published rule set version {version}.")
            return found
        found = RuleSet.objects.current()
        if found is None:
            self.fail("No rule set has been published. Name a draft with --draft ID.")
        return found

    def handle(self, *args, file, employer, version, draft, **options):
        rule_set = self.rule_set(version, draft)
        employer_id = employer
        employer = None
        if employer_id is not None:
            employer = Employer.objects.filter(pk=employer_id).first()
            if employer is None:
                self.fail(f"There is no employer with ID {employer_id}.")
        try:
            content = file.read_bytes()
        except OSError as exc:
            self.fail(f"Cannot read {file}: {exc.strerror}.")
        if rule_set.is_published:
            name = used = f"rule set version {rule_set.version}"
        else:
            name = f"draft rule set {rule_set.pk}"
            used = f"{name} (not published)"
        try:
            preview = preview_staff_file(
                content=content, filename=file.name, rule_set=rule_set, employer=employer
            )
        except UnreadableFile as exc:
            self.fail(exc.message)
        except RuleError as exc:
            self.fail(f"The {name} cannot be evaluated: {exc}")

        for line in csv_lines(HEADER, (row.csv_values() for row in preview.rows), bom=False):
            self.stdout.write(line, ending="")

        counts = ", ".join(
            f"{count} {OUTCOME_WORDS[outcome]}" for outcome, count in preview.counts.items()
        )
        assessed = len(preview.rows)
        self.stderr.write(
            f"Assessed {assessed} row{'' if assessed == 1 else 's'} under {used}: {counts}."
        )
        if employer is not None:
            self.stderr.write(f"Employer: {employer.name} ({employer.get_status_display()}).")
        for note in [assumption_note(preview, how="Give --employer ID"), *preview.warnings]:
            if note:
                self.stderr.write(note)
        if preview.errors:
            rows = "1 row has" if preview.error_rows == 1 else f"{preview.error_rows} rows have"
            self.stderr.write(
                f"{rows} errors and {'was' if preview.error_rows == 1 else 'were'} not "
                "assessed. Fix them in the file and run the preview again:"
            )
            for error in preview.errors:
                self.stderr.write(f"row {error.row_number}, {error.column}: {error.message}")
            raise SystemExit(1)
