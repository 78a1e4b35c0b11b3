"""NHS.UK form rendering: every Django form renders label, hint, inline error and an error
summary with the markup of nhsuk-frontend 10, and dates are asked for as day, month and year."""

import datetime
import re

from django import forms
from django.forms.renderers import TemplatesSetting


class NHSUKFormRenderer(TemplatesSetting):
    form_template_name = "nhsuk/forms/form.html"
    field_template_name = "nhsuk/forms/field.html"


class DateInput(forms.MultiWidget):
    """The NHS.UK date input: three boxes labelled Day, Month and Year."""

    template_name = "nhsuk/forms/widgets/date_input.html"
    parts = (("day", "Day", 2), ("month", "Month", 2), ("year", "Year", 4))

    def __init__(self, attrs=None):
        widgets = {
            name: forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})
            for name, _label, _width in self.parts
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if isinstance(value, datetime.date):
            return [value.day, value.month, value.year]
        if isinstance(value, str) and value.count("-") == 2:
            year, month, day = value.split("-")
            return [day, month, year]
        return [None, None, None]

    def value_from_datadict(self, data, files, name):
        day, month, year = (
            (part or "").strip() for part in super().value_from_datadict(data, files, name)
        )
        if not (day or month or year):
            return ""
        return f"{year}-{month}-{day}"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        given = context["widget"]["attrs"].get("class", "").split()
        extra = [css for css in given if css != "nhsuk-input"]
        for subwidget, (_name, label, width) in zip(
            context["widget"]["subwidgets"], self.parts, strict=True
        ):
            subwidget["label"] = label
            subwidget["attrs"]["class"] = " ".join(
                ["nhsuk-input", "nhsuk-date-input__input", f"nhsuk-input--width-{width}", *extra]
            )
        return context


class DateField(forms.DateField):
    """A date typed as day, month and year (``3 4 1980`` is 3 April 1980)."""

    widget = DateInput
    input_formats = ["%Y-%m-%d"]
    default_error_messages = {
        "invalid": "Enter a real date, with the day, month and a year of 4 numbers, "
        "for example 27 3 2021.",
    }

    def to_python(self, value):
        if isinstance(value, str) and value and not re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)
