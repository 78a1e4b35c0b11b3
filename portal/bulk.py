"""Set-based writes for bulk work: insert rows with PostgreSQL COPY (ids taken from the
sequence first) and update many rows with one UPDATE ... FROM VALUES statement. Other
databases fall back to Django's bulk_create and bulk_update."""

from __future__ import annotations

import datetime
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection


def insert_rows(model, columns: list[str], rows: list[dict]) -> list[int]:
    """Insert rows (dicts of field values) and return their new ids, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create([model(**values) for values in rows])
        return [obj.pk for obj in objects]
    # Every column is written: fields the caller leaves out get their model default, as
    # bulk_create would give them (COPY knows nothing of Django's defaults).
    defaults = {
        f.name: f.get_default()
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in columns and f.attname not in columns
    }
    # Defaults are the same for every row: render them once.
    constant = "".join("\t" + _copy_value(value) for value in defaults.values())
    table = model._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Take the ids first, then COPY the rows in with them: far faster than INSERT.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        buffer = io.StringIO()
        rendered: dict = {}
        for pk, values in zip(ids, rows, strict=True):
            cells = [str(pk)]
            for name in columns:
                value = values.get(name)
                if isinstance(value, dict | list):  # JSON: not hashable, rarely repeated
                    cells.append(_copy_value(value))
                    continue
                # Repeated values (dates, codes, timestamps) are rendered once per batch; the
                # type is part of the key because True == 1 in Python.
                key = (value.__class__, value)
                text = rendered.get(key)
                if text is None:
                    text = rendered[key] = _copy_value(value)
                cells.append(text)
            buffer.write("\t".join(cells))
            buffer.write(constant)
            buffer.write("\n")
        buffer.seek(0)
        names = ["id", *_db_columns(model, [*columns, *defaults])]
        column_list = ", ".join(quote(name) for name in names)
        _copy_into(cursor, f"COPY {quote(table)} ({column_list}) FROM STDIN", buffer)
    return ids


def _copy_into(cursor, statement: str, buffer: io.StringIO) -> None:
    cursor.cursor.copy_expert(statement, buffer)


def _db_columns(model, names: list[str]) -> list[str]:
    return [_column(model, name) for name in names]


def _column(model, name: str) -> str:
    if name.endswith("_id") and name not in {f.name for f in model._meta.concrete_fields}:
        return model._meta.get_field(name[:-3]).column
    return model._meta.get_field(name).column


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value) -> str:
    """A value in COPY's text format (tab-separated, \\N for NULL, backslash escapes)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list):  # a JSON field's value
        return json.dumps(value, cls=DjangoJSONEncoder).translate(_COPY_ESCAPES)
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
