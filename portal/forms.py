"""NHS.UK form rendering: every Django form renders label, hint, inline error and an error
summary with the NHS.UK frontend's markup."""

from django.forms.renderers import TemplatesSetting


class NHSUKFormRenderer(TemplatesSetting):
    form_template_name = "nhsuk/forms/form.html"
    field_template_name = "nhsuk/forms/field.html"
