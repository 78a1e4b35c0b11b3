"""Template helpers that give Django forms and widgets the markup of nhsuk-frontend 10: field
kinds, hint and error ids, NHS.UK classes on each control, and the error summary."""

from dataclasses import dataclass

from django import forms, template
from django.forms.forms import BaseForm
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()

# Widget class → (NHS.UK kind, class on the control). Order matters: subclasses first
# (CheckboxSelectMultiple is a RadioSelect; Select covers NullBooleanSelect and SelectMultiple).
_WIDGET_KINDS: list[tuple[type, str, str]] = [
    (forms.CheckboxSelectMultiple, "checkboxes", "nhsuk-checkboxes__input"),
    (forms.RadioSelect, "radios", "nhsuk-radios__input"),
    (forms.CheckboxInput, "checkbox", "nhsuk-checkboxes__input"),
    (forms.HiddenInput, "hidden", ""),
    (forms.Select, "select", "nhsuk-select"),
    (forms.Textarea, "textarea", "nhsuk-textarea"),
    (forms.FileInput, "file", "nhsuk-file-upload__input"),
    (forms.MultiWidget, "date", "nhsuk-input"),
]
_ERROR_MODIFIER = {
    "select": "nhsuk-select--error",
    "textarea": "nhsuk-textarea--error",
    "input": "nhsuk-input--error",
    "date": "nhsuk-input--error",
}


def _kind_and_class(widget) -> tuple[str, str]:
    for widget_class, kind, css in _WIDGET_KINDS:
        if isinstance(widget, widget_class):
            return kind, css
    return "input", "nhsuk-input"


@register.filter
def widget_kind(bound_field) -> str:
    """radios, checkboxes, checkbox, hidden, select, textarea, file, date or input."""
    return _kind_and_class(bound_field.field.widget)[0]


@register.filter
def error_target(bound_field) -> str:
    """The id the error summary links to: the field's first focusable control."""
    widget = bound_field.field.widget
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple | forms.MultiWidget):
        return f"{bound_field.auto_id}_0"
    return bound_field.id_for_label or bound_field.auto_id


@dataclass(frozen=True)
class FieldParts:
    kind: str
    hint_id: str
    error_id: str
    described_by: str
    control: SafeString


@register.simple_tag
def nhsuk_field(bound_field) -> FieldParts:
    """Everything field.html needs to lay one field out the NHS.UK way."""
    kind, css = _kind_and_class(bound_field.field.widget)
    hint_id = f"{bound_field.auto_id}-hint" if bound_field.help_text else ""
    error_id = f"{bound_field.auto_id}-error" if bound_field.errors else ""
    described_by = " ".join(filter(None, [hint_id, error_id]))
    control = SafeString("")
    if kind not in ("radios", "checkboxes", "hidden"):
        existing = bound_field.field.widget.attrs.get("class", "")
        error_css = _ERROR_MODIFIER.get(kind, "") if bound_field.errors else ""
        attrs = {"class": " ".join(filter(None, [css, error_css, existing]))}
        # Fields grouped in a fieldset (date) are described on the fieldset instead.
        if described_by and kind != "date":
            attrs["aria-describedby"] = described_by
        control = bound_field.as_widget(attrs=attrs)
    return FieldParts(kind, hint_id, error_id, described_by, control)


@register.simple_tag
def nhsuk_choice(choice, kind: str) -> SafeString:
    """One radio or checkbox of a group; the group's fieldset carries hint and error."""
    attrs = choice.data["attrs"]
    attrs["class"] = f"nhsuk-{kind}__input"
    attrs.pop("aria-describedby", None)
    return choice.tag(wrap_label=False)


@register.simple_tag
def nhsuk_error_summary(form) -> SafeString:
    """The error summary for the page's form, shown once at the top of the main content.

    The form remembers it was summarised, so ``{{ form }}`` further down does not repeat it.
    """
    if not isinstance(form, BaseForm) or not form.errors:
        return SafeString("")
    form.nhsuk_error_summary_shown = True
    return render_to_string("nhsuk/forms/error_summary.html", {"form": form})
