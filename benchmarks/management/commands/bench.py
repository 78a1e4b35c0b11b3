"""``manage.py bench NAME [options]``: run a named benchmark and print its figures, the last
line being one JSON object. The benchmarks are the modules of the ``benchmarks`` package."""

import json
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

MODULES = ("staff_upload", "eligibility", "sites")


def discover() -> dict:
    found = {}
    for name in MODULES:
        found.update(import_module(f"benchmarks.{name}").BENCHMARKS)
    return found


class Command(BaseCommand):
    help = "Run a benchmark (e.g. `bench import --rows 50000`); prints JSON figures last."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark", metavar="NAME")
        subparsers.required = True
        for name, (add_arguments, run) in sorted(discover().items()):
            subparser = subparsers.add_parser(name, help=(run.__doc__ or "").split("\n")[0])
            add_arguments(subparser)

    def handle(self, *args, benchmark, **options):
        benchmarks = discover()
        if benchmark not in benchmarks:
            raise CommandError(f"There is no benchmark called {benchmark}.")
        _add_arguments, run = benchmarks[benchmark]
        figures = run(options, self.stdout)
        self.stdout.write(json.dumps(figures, sort_keys=False))
