"""Template filter that shows a stored reference code (job role, setting, …) as its label."""

from django import template

from workers import reference

register = template.Library()


@register.filter
def reference_label(code: str, kind: str) -> str:
    """``{{ rule.work_setting|reference_label:"work_setting" }}`` → "Care home for older adults"."""
    return reference.label(kind, code)
