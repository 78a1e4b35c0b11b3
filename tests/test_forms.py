"""The NHS.UK form renderer: error summary, inline errors, hints and the classes of each widget
kind, the day-month-year date input, and messages shown as notification banners."""

import datetime
from html.parser import HTMLParser

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.forms import DateField
from portal.roles import Role
from tests.factories import make_user


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag = tag
        self.attrs = attrs
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def described_by(self) -> set[str]:
        return set(self.attrs.get("aria-describedby", "").split())


class Page(HTMLParser):
    """Every element of an HTML fragment, in document order, with its own text."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in {"input", "br", "meta", "link", "img"}:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    def by_id(self, element_id: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == element_id]
        assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
        return found[0]

    def with_class(self, css: str) -> list[Element]:
        return [e for e in self.elements if css in e.classes]


class EveryKindForm(forms.Form):
    full_name = forms.CharField(label="Full name", help_text="As it appears on your payslip.")
    email = forms.EmailField(label="Email address")
    region = forms.ChoiceField(label="Region", choices=[("", "Choose"), ("L", "London")])
    kind = forms.ChoiceField(
        label="Kind of site",
        widget=forms.RadioSelect,
        choices=[("hub", "Hospital hub"), ("centre", "Vaccination centre")],
        help_text="Choose one.",
    )
    days = forms.MultipleChoiceField(
        label="Days you can work",
        widget=forms.CheckboxSelectMultiple,
        choices=[("mon", "Monday"), ("tue", "Tuesday")],
    )
    agree = forms.BooleanField(label="I confirm the list is correct", help_text="Tick the box.")
    notes = forms.CharField(label="Notes", widget=forms.Textarea)
    born = DateField(label="Date of birth", help_text="For example, 3 4 1980.")
    staff_list = forms.FileField(label="Staff list", help_text="A CSV or XLSX file.")
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        raise forms.ValidationError("Check the whole form again.")


VISIBLE = ["full_name", "email", "region", "kind", "days", "agree", "notes", "born", "staff_list"]
TARGETS = {
    "full_name": "id_full_name",
    "email": "id_email",
    "region": "id_region",
    "kind": "id_kind_0",
    "days": "id_days_0",
    "agree": "id_agree",
    "notes": "id_notes",
    "born": "id_born_0",
    "staff_list": "id_staff_list",
}


@pytest.fixture
def page():
    form = EveryKindForm(data={"email": "not an email", "born_day": "31", "born_year": "1980"})
    assert not form.is_valid()
    return Page(str(form))


def test_error_summary_links_to_each_field(page):
    summary = page.with_class("nhsuk-error-summary")
    assert len(summary) == 1
    assert summary[0].attrs["data-module"] == "nhsuk-error-summary"
    assert page.with_class("nhsuk-error-summary__title")[0].text == "There is a problem"
    links = [
        e.attrs["href"]
        for e in page.elements
        if e.tag == "a" and e.attrs.get("href", "").startswith("#")
    ]
    assert links == [f"#{TARGETS[name]}" for name in VISIBLE]
    for href in links:
        target = page.by_id(href[1:])
        assert target.tag in {"input", "select", "textarea"}
    assert "Check the whole form again." in summary[0].text


def test_each_field_has_its_inline_error_described_on_the_control(page):
    for name in VISIBLE:
        error = page.by_id(f"id_{name}-error")
        assert "nhsuk-error-message" in error.classes
        assert error.text.startswith("Error: ")
    assert "Enter a valid email address" in page.by_id("id_email-error").text
    assert "Enter a real date" in page.by_id("id_born-error").text
    for name in ["full_name", "email", "region", "agree", "notes", "staff_list"]:
        assert f"id_{name}-error" in page.by_id(f"id_{name}").described_by
    groups = [e for e in page.elements if e.tag == "fieldset"]
    assert [g.described_by for g in groups] == [
        {"id_kind-hint", "id_kind-error"},
        {"id_days-error"},
        {"id_born-hint", "id_born-error"},
    ]
    assert len(page.with_class("nhsuk-form-group--error")) == len(VISIBLE)


def test_hints_are_described_on_their_control(page):
    for name in ["full_name", "kind", "agree", "born", "staff_list"]:
        assert "nhsuk-hint" in page.by_id(f"id_{name}-hint").classes
    assert page.by_id("id_full_name").described_by == {"id_full_name-hint", "id_full_name-error"}
    assert page.by_id("id_staff_list").described_by == {
        "id_staff_list-hint",
        "id_staff_list-error",
    }
    assert "nhsuk-checkboxes__hint" in page.by_id("id_agree-hint").classes


def test_each_widget_kind_has_its_nhsuk_classes(page):
    assert {"nhsuk-input", "nhsuk-input--error"} <= page.by_id("id_full_name").classes
    assert {"nhsuk-select", "nhsuk-select--error"} <= page.by_id("id_region").classes
    assert {"nhsuk-textarea", "nhsuk-textarea--error"} <= page.by_id("id_notes").classes
    assert "nhsuk-file-upload__input" in page.by_id("id_staff_list").classes
    assert page.with_class("nhsuk-file-upload")[0].attrs["data-module"] == "nhsuk-file-upload"
    assert page.by_id("id_agree").classes == {"nhsuk-checkboxes__input"}
    for element_id in ["id_kind_0", "id_kind_1"]:
        radio = page.by_id(element_id)
        assert radio.classes == {"nhsuk-radios__input"} and radio.attrs["type"] == "radio"
        assert "aria-describedby" not in radio.attrs
    assert {e.attrs["for"] for e in page.with_class("nhsuk-radios__label")} == {
        "id_kind_0",
        "id_kind_1",
    }
    for element_id in ["id_days_0", "id_days_1"]:
        assert page.by_id(element_id).classes == {"nhsuk-checkboxes__input"}
    assert page.with_class("nhsuk-radios")[0].attrs["data-module"] == "nhsuk-radios"
    assert [page.by_id(f"id_born_{i}").classes for i in range(3)] == [
        {"nhsuk-input", "nhsuk-date-input__input", "nhsuk-input--width-2", "nhsuk-input--error"},
        {"nhsuk-input", "nhsuk-date-input__input", "nhsuk-input--width-2", "nhsuk-input--error"},
        {"nhsuk-input", "nhsuk-date-input__input", "nhsuk-input--width-4", "nhsuk-input--error"},
    ]
    assert [e.text for e in page.with_class("nhsuk-date-input__label")] == ["Day", "Month", "Year"]
    assert page.by_id("id_born_0").attrs["value"] == "31"
    assert page.by_id("id_born_2").attrs["value"] == "1980"
    labels = {e.attrs.get("for") for e in page.elements if e.tag == "label"}
    for name in ["full_name", "email", "region", "notes", "staff_list", "agree"]:
        assert f"id_{name}" in labels


def test_a_valid_form_has_no_error_markup():
    form = EveryKindForm(
        data={
            "full_name": "Ada Lovelace",
            "email": "ada@example.org",
            "region": "L",
            "kind": "hub",
            "days": ["mon"],
            "agree": "on",
            "notes": "None",
            "born_day": "3",
            "born_month": "4",
            "born_year": "1980",
        },
        files={"staff_list": SimpleUploadedFile("staff.csv", b"a,b\n")},
    )
    form.clean = lambda: form.cleaned_data
    assert form.is_valid(), form.errors
    assert form.cleaned_data["born"] == datetime.date(1980, 4, 3)
    page = Page(str(form))
    assert not page.with_class("nhsuk-error-summary")
    assert not page.with_class("nhsuk-error-message")
    assert page.by_id("id_full_name").described_by == {"id_full_name-hint"}


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [("31", "2", "2021"), ("3", "4", "80"), ("x", "4", "1980"), ("", "4", "1980")],
)
def test_date_field_rejects_unreal_dates(day, month, year):
    class Form(forms.Form):
        born = DateField(label="Date of birth")

    form = Form(data={"born_day": day, "born_month": month, "born_year": year})
    assert not form.is_valid()
    assert form.errors["born"][0].startswith("Enter a real date")


@pytest.mark.django_db
def test_page_shows_the_error_summary_once_above_the_heading(client):
    client.force_login(make_user(Role.LOCAL_LEAD))
    response = client.post(reverse("invite_colleague"), {"email": "nope"})
    html = response.content.decode()
    assert html.count('class="nhsuk-error-summary"') == 1
    main = html.index('id="maincontent"')
    assert main < html.index("nhsuk-error-summary") < html.index("<h1")
    assert 'href="#id_email"' in html


@pytest.mark.django_db
def test_messages_show_as_notification_banners(client):
    client.force_login(make_user(Role.LOCAL_LEAD))
    response = client.post(
        reverse("invite_colleague"), {"email": "colleague@example.org"}, follow=True
    )
    page = Page(response.content.decode())
    banner = page.with_class("nhsuk-notification-banner")
    assert len(banner) == 1
    assert "nhsuk-notification-banner--success" in banner[0].classes
    assert banner[0].attrs["role"] == "alert"
    title = page.by_id(banner[0].attrs["aria-labelledby"])
    assert title.text == "Success"
    assert "We have sent an invitation to colleague@example.org" in banner[0].text
