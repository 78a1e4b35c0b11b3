"""Benchmarks of the portal at national scale, run by ``manage.py bench NAME`` (installed only
when DEBUG is on): each module offers ``BENCHMARKS = {name: (add_arguments, run)}``. They sit
beside the tests, outside the apps, so nothing that spawns workers or rebuilds indexes ships
enabled in production."""
