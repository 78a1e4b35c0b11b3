"""Set-based work for bulk imports: insert rows with PostgreSQL COPY (ids taken from the
sequence first), update many rows with one UPDATE ... FROM VALUES statement, and look up a
batch of values with one array parameter. Other databases fall back to Django's
bulk_create, bulk_update and ``IN`` lists."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator, Sequence
from itertools import islice

import orjson
from django.core.exceptions import EmptyResultSet
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Field, ForeignObject
from django.db.models.lookups import In
from django.utils import timezone


class AnyOf(In):
    """``field__any_of=values`` finds what ``field__in`` finds. On PostgreSQL the values are
    one array parameter (``= ANY(%s)``) rather than a placeholder each, which spares Django
    and the database per-value work when a batch holds thousands of values."""

    lookup_name = "any_of"

    def get_prep_lookup(self):
        # A batch of plain strings or integers that the field keeps as they are needs no
        # preparing one by one (the work ``__in`` does for each value).
        values = self.rhs
        if isinstance(values, list | set | tuple | frozenset) and values:
            classes = {value.__class__ for value in values}
            if len(classes) == 1 and classes <= {str, int}:
                sample = next(iter(values))
                if self.lhs.output_field.get_prep_value(sample).__class__ is sample.__class__:
                    return list(values)
        return super().get_prep_lookup()

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        values = list({value for value in self.rhs if value is not None})
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array_type = self.lhs.output_field.db_type(connection)
        return f"{lhs} = ANY(%s::{array_type}[])", [*lhs_params, values]


# Foreign keys look lookups up on their own class hierarchy only, so they are told too.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def insert_rows(
    model, columns: list[str], rows: list[dict], constants: dict | None = None
) -> list[int]:
    """Insert rows (dicts of field values) and return their new ids, in order.

    ``constants`` are field values shared by every row (a timestamp, a parent's id): given
    once rather than in each row's dict.
    """
    if not rows:
        return []
    constants = constants or {}
    if set(columns) & set(constants):
        raise ValueError("A column is either in each row or shared by all rows, not both.")
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create(
            [model(**{name: values.get(name) for name in columns}, **constants) for values in rows]
        )
        return [obj.pk for obj in objects]
    named = {*columns, *constants}
    # Every column is written: fields the caller leaves out get their model default, or
    # the time for auto_now fields, as bulk_create would give them (COPY knows nothing of
    # Django's defaults).
    now = timezone.now()
    defaults = {
        f.name: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in named and f.attname not in named
    }
    # Values the same for every row are rendered once.
    shared = {**constants, **defaults}
    suffix = "".join("\t" + copy_value(value) for value in shared.values()) + "\n"
    table = model._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Take the ids first, then COPY the rows in with them: far faster than INSERT.
        ids = take_ids(cursor, table, len(rows))
        # Column by column, so each value costs a check or two rather than a function call.
        cells = [[str(pk) for pk in ids]]
        cells += [copy_column([values.get(name) for values in rows]) for name in columns]
        buffer = io.StringIO()
        buffer.write(suffix.join(map("\t".join, zip(*cells, strict=True))))
        buffer.write(suffix)
        buffer.seek(0)
        names = ["id", *_db_columns(model, [*columns, *shared])]
        column_list = ", ".join(quote(name) for name in names)
        _copy_into(cursor, f"COPY {quote(table)} ({column_list}) FROM STDIN", buffer)
    return ids


def take_ids(cursor, table: str, count: int) -> list[int]:
    """``count`` new ids from the id sequence of ``table`` (PostgreSQL)."""
    # The sequence is looked up once (a materialised CTE is not folded into each row's
    # nextval call), which makes taking 2,000 ids about eight times faster.
    cursor.execute(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS sequence) "
        "SELECT nextval(s.sequence) FROM s, generate_series(1, %s)",
        [table, count],
    )
    return [row[0] for row in cursor.fetchall()]


def copy_column(values: Sequence) -> list[str]:
    """One column's values in COPY's text format."""
    rendered: dict = {}
    texts = []
    for value in values:
        if value.__class__ is str:
            # Text without tabs, line breaks or backslashes is written as it is.
            if not value.isprintable() or "\\" in value:
                value = value.translate(_COPY_ESCAPES)
            texts.append(value)
        elif value.__class__ is int:
            texts.append(str(value))
        elif isinstance(value, dict | list):  # JSON: not hashable, rarely repeated
            texts.append(copy_value(value))
        else:
            # Repeated values (dates, flags, timestamps) are rendered once per column; the
            # type is part of the key because True == 1 in Python.
            key = (value.__class__, value)
            text = rendered.get(key)
            if text is None:
                text = rendered[key] = copy_value(value)
            texts.append(text)
    return texts


def _copy_into(cursor, statement: str, buffer: io.StringIO) -> None:
    cursor.cursor.copy_expert(statement, buffer)


def _db_columns(model, names: list[str]) -> list[str]:
    return [_column(model, name) for name in names]


def _column(model, name: str) -> str:
    if name.endswith("_id") and name not in {f.name for f in model._meta.concrete_fields}:
        return model._meta.get_field(name[:-3]).column
    return model._meta.get_field(name).column


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def json_text(value) -> str:
    """``value`` as JSON, as Django's encoder writes it, with orjson doing the work: a bulk
    write can hold a JSON value per row (200,000 decision snapshots in a big assessment),
    where the standard library's encoder was a third of the CPU time. Dates and what orjson
    does not know (decimals) go through Django's encoder; no spaces after separators."""
    return orjson.dumps(
        value,
        default=_DJANGO_JSON.default,
        option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
    ).decode()


_DJANGO_JSON = DjangoJSONEncoder()


def copy_value(value) -> str:
    """A value in COPY's text format (tab-separated, \\N for NULL, backslash escapes)."""
    if value is None:
        return "\\N"
    if value.__class__ in (int, float):  # nothing to escape; most values of a routing COPY
        return str(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list):  # a JSON field's value
        return json_text(value).translate(_COPY_ESCAPES)
    return str(value).translate(_COPY_ESCAPES)


def update_rows(model, columns: list[str], rows: list[dict], now: datetime.datetime) -> None:
    """Apply per-row values to existing rows: one statement on PostgreSQL, bulk_update else."""
    if not rows:
        return
    names = [name for name in columns if name in rows[0]]
    if connection.vendor != "postgresql":
        objects = []
        for values in rows:
            obj = model(id=values["id"], updated_at=now)
            for name in names:
                setattr(obj, name, values[name])
            objects.append(obj)
        model.objects.bulk_update(objects, [*names, "updated_at"])
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    db_columns = _db_columns(model, names)
    types = [model._meta.get_field(name).db_type(connection) for name in names]
    placeholders = "(" + ", ".join(["%s::bigint"] + [f"%s::{t}" for t in types]) + ")"
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in db_columns)
    column_list = ", ".join(["id", *(quote(column) for column in db_columns)])
    params: list = []
    for values in rows:
        params.append(values["id"])
        params.extend(values[name] for name in names)
    with connection.cursor() as cursor:
        # Only table and column names from the model are formatted in; values are parameters.
        values_list = ", ".join([placeholders] * len(rows))
        statement = (
            f"UPDATE {table} SET {assignments}, updated_at = %s "  # noqa: S608
            f"FROM (VALUES {values_list}) AS v({column_list}) WHERE {table}.id = v.id"
        )
        cursor.execute(statement, [now, *params])


def load_temporary_table(cursor, table: str, columns: list[str], rows) -> None:
    """Create a temporary table (``table`` is its name and column definitions) and fill it
    with ``rows`` (tuples in ``columns`` order): streamed COPY on PostgreSQL, every value
    escaped by ``copy_value``; one batch insert elsewhere."""
    cursor.execute(f"CREATE TEMPORARY TABLE {table}")
    name = table.split(" ", 1)[0]
    if connection.vendor == "postgresql":
        lines = ("\t".join(map(copy_value, row)) + "\n" for row in rows)
        cursor.copy_expert(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN",
            io.BufferedReader(LineReader(lines), buffer_size=1 << 20),
        )
        return
    rows = list(rows)
    if rows:
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )


class LineReader(io.RawIOBase):
    """A file object over an iterator of text lines, so COPY streams without building the
    whole input in memory."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self.pending) < len(buffer):
            chunk = "".join(islice(self.lines, 5000))
            if not chunk:
                break
            self.pending += chunk.encode()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size
