"""Template helpers that give Django widgets the NHS.UK frontend classes."""

from django import forms, template

register = template.Library()

_INPUT_CLASS = {
    forms.Select: "nhsuk-select",
    forms.SelectMultiple: "nhsuk-select",
    forms.Textarea: "nhsuk-textarea",
    forms.ClearableFileInput: "nhsuk-file-upload",
    forms.FileInput: "nhsuk-file-upload",
}


def widget_kind(bound_field) -> str:
    widget = bound_field.field.widget
    if isinstance(widget, forms.RadioSelect):
        return "radios"
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.HiddenInput):
        return "hidden"
    if (
        isinstance(widget, forms.DateInput | forms.DateTimeInput)
        and getattr(widget, "input_type", "") == "date"
    ):
        return "input"
    return "input"


register.filter("widget_kind", widget_kind)


@register.simple_tag
def nhsuk_widget(bound_field):
    """Render a text-like widget with NHS.UK classes, error state and hint description."""
    widget = bound_field.field.widget
    css = "nhsuk-input"
    for widget_class, name in _INPUT_CLASS.items():
        if isinstance(widget, widget_class):
            css = name
            break
    if bound_field.errors:
        css += f" {css}--error"
    existing = widget.attrs.get("class", "")
    attrs = {"class": f"{css} {existing}".strip()}
    described = []
    if bound_field.help_text:
        described.append(f"{bound_field.auto_id}-hint")
    if bound_field.errors:
        described.append(f"{bound_field.auto_id}-error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return bound_field.as_widget(attrs=attrs)
