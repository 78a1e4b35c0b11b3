"""Every invitation message renders with a realistic context through the outbox's strict
renderer, names the worker, the employer, the site and the link, fits a text message in two
parts, and reads plainly (short sentences, few long words: reading age about 9)."""

import re

import pytest

from bookings.rendering import render_message

SMS_TWO_PARTS = 306  # GSM characters in two concatenated text messages
LINK = "https://carevax.nhs.uk/i/Zk3P0qRw8JmT2vYb1xHd4A/"

INVITATION = {
    "first_name": "Aisha",
    "employer_name": "Riverside Home Care Ltd",
    "site_name": "St Thomas' Hospital hub",
    "site_address": "Westminster Bridge Road, London, SE1 7EH",
    "site_kind": "hospital hub",
    "why_this_site": "It is a hospital hub near your home with free appointments.",
    "alternatives": [
        {"name": "Guy's vaccination centre"},
        {"name": "Lambeth pharmacy vaccination service"},
    ],
    "expires_on": "Tuesday 29 December 2026",
    "expires_short": "29 Dec",
    "link": LINK,
}
CANCELLED = {
    "first_name": "Aisha",
    "site_name": "St Thomas' Hospital hub",
    "appointment": "Friday 4 December 2026 at 10:15",
    "expires_on": "Tuesday 29 December 2026",
    "link": LINK,
}
TEMPLATES = [
    ("invitation", INVITATION),
    ("invitation_reminder", INVITATION),
    ("invitation_resend", INVITATION),
    ("session_cancelled", CANCELLED),
]
GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def sentences(text: str) -> list[list[str]]:
    """Sentences of prose (links and list items left out), as lists of words."""
    prose = " ".join(line for line in text.splitlines() if line.strip() and "://" not in line)
    return [
        re.findall(r"[A-Za-z0-9']+", sentence)
        for sentence in re.split(r"(?<=[.!?:])\s+|\n", prose)
        if re.search(r"[A-Za-z]", sentence)
    ]


def syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower().removesuffix("e"))
    return max(1, len(groups))


@pytest.mark.parametrize(("template", "context"), TEMPLATES)
def test_email_names_everything_and_reads_plainly(template, context):
    message = render_message(template, "email", context)
    text = message.text
    assert message.subject and len(message.subject) < 60
    assert "Aisha" in text and "St Thomas' Hospital hub" in text and LINK in text
    assert context["expires_on"] in text
    assert "{" not in text and "}" not in text and "&#" not in text
    if "employer_name" in context:
        assert "Riverside Home Care Ltd" in text and "Guy's vaccination centre" in text
        # No distance: the home postcode may be another employer's (docs/decisions/0011).
        assert " km" not in text
        assert "hospital hub near your home" in text
    found = sentences(text)
    words = [word for sentence in found for word in sentence]
    average = len(words) / len(found)
    long_words = sum(1 for word in words if syllables(word) >= 3) / len(words)
    assert average <= 12, f"sentences average {average:.1f} words"
    assert long_words <= 0.12, f"{long_words:.0%} of words have three or more syllables"


@pytest.mark.parametrize(("template", "context"), TEMPLATES)
def test_text_message_fits_two_parts(template, context):
    text = render_message(template, "sms", context).text
    assert "Aisha" in text and LINK in text and "St Thomas' Hospital hub" in text
    assert "{" not in text
    assert set(text) <= GSM, f"not plain GSM: {set(text) - GSM}"
    assert len(text) <= SMS_TWO_PARTS, f"{len(text)} characters"


@pytest.mark.parametrize(("template", "context"), TEMPLATES)
def test_a_missing_detail_fails_rather_than_leaving_a_hole(template, context):
    incomplete = {key: value for key, value in context.items() if key != "link"}
    with pytest.raises(Exception, match="link"):
        render_message(template, "email", incomplete)
