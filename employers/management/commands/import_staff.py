"""``manage.py import_staff EMPLOYER_ID FILE [--commit] [--replace]``: check a staff list with
the same service as the web upload, print its summary and errors, and import it if asked.

Exit codes: 0 the file is clean (and imported with --commit), 1 rows have errors, 2 the file
cannot be read."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from employers.imports import commit_staff_upload, create_upload, validate_upload
from employers.models import Employer, StaffUpload
from employers.staff_files import UnreadableFile
from employers.upload_report import error_rows, summary_lines


class Command(BaseCommand):
    help = "Check a staff list (CSV or XLSX) for an employer and, with --commit, import it."

    def add_arguments(self, parser):
        parser.add_argument("employer_id", type=int)
        parser.add_argument("file", type=Path)
        parser.add_argument("--commit", action="store_true", help="Import the file if clean.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the whole staff list: staff missing from the file are marked as left.",
        )

    def handle(self, *args, employer_id, file, commit, replace, **options):
        employer = Employer.objects.filter(pk=employer_id).first()
        if employer is None:
            raise CommandError(f"There is no employer with ID {employer_id}.")
        try:
            content = file.read_bytes()
        except OSError as exc:
            self.stderr.write(f"Cannot read {file}: {exc.strerror}.")
            raise SystemExit(2) from exc
        mode = StaffUpload.Mode.REPLACE if replace else StaffUpload.Mode.ADD
        try:
            upload = create_upload(
                user=None,
                employer=employer,
                content=content,
                filename=file.name,
                mode=mode,
                enqueue=False,
            )
        except UnreadableFile as exc:
            self.stderr.write(exc.message)
            raise SystemExit(2) from exc
        upload = validate_upload(upload.pk)
        if upload.status == StaffUpload.Status.FAILED:
            self.stderr.write(upload.failure_reason)
            raise SystemExit(2)
        for line in summary_lines(upload):
            self.stdout.write(line)
        if upload.error_count:
            self.stdout.write("")
            self.stdout.write("Row\tColumn\tValue\tWhat is wrong and how to fix it")
            for row in error_rows(upload):
                self.stdout.write("\t".join(str(cell) for cell in row))
            raise SystemExit(1)
        if commit:
            upload = commit_staff_upload(user=None, upload=upload)
            if upload.status != StaffUpload.Status.IMPORTED:
                self.stderr.write(upload.failure_reason)
                raise SystemExit(1)
            self.stdout.write(
                f"Imported: {upload.new_count} new, {upload.updated_count} updated, "
                f"{upload.unchanged_count} unchanged, {upload.left_count} marked as left."
            )
        else:
            self.stdout.write("Nothing was imported. Run again with --commit to import the file.")
