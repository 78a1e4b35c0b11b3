"""Rule set version 1 (docs/eligibility.md) from workers/data/rule_set_v1.json, and on
PostgreSQL a trigger that refuses to change or delete a published rule set."""

import json
from pathlib import Path

from django.db import migrations
from django.utils import timezone

RULE_SET_V1 = Path(__file__).resolve().parent.parent / "data" / "rule_set_v1.json"

FORWARD = """
CREATE OR REPLACE FUNCTION workers_ruleset_published_is_final() RETURNS trigger AS $$
BEGIN
    -- Rewriting a row with identical values (test fixtures reloading data) changes nothing.
    IF OLD.published_at IS NOT NULL AND (TG_OP = 'DELETE' OR NEW IS DISTINCT FROM OLD) THEN
        RAISE EXCEPTION 'rule set version % is published and cannot change', OLD.version;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workers_ruleset_published_is_final BEFORE UPDATE OR DELETE ON workers_ruleset
    FOR EACH ROW EXECUTE FUNCTION workers_ruleset_published_is_final();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS workers_ruleset_published_is_final ON workers_ruleset;
DROP FUNCTION IF EXISTS workers_ruleset_published_is_final();
"""


def forward(apps, schema_editor):
    RuleSet = apps.get_model("workers", "RuleSet")
    spec = json.loads(RULE_SET_V1.read_text())
    # Whole seconds, so the row survives a JSON round trip (test database serialisation).
    now = timezone.now().replace(microsecond=0)
    RuleSet.objects.get_or_create(
        version=spec["version"],
        defaults={
            "rules": spec["rules"],
            "notes": spec["notes"],
            "created_at": now,
            "published_at": now,
        },
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)
    apps.get_model("workers", "RuleSet").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("workers", "0003_eligibility")]
    operations = [migrations.RunPython(forward, backward)]
