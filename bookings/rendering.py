"""Renders message templates (``bookings/templates/bookings/messages/<name>.<channel>.*``) with
a strict engine: a missing template or a variable the context lacks raises, so a person is
never sent a message with a hole in it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError

TEMPLATE_FOLDER = "bookings/messages"
SUBJECT_PREFIX = "Subject:"


class MissingVariable(TemplateSyntaxError):
    """A message template names a variable its context does not have."""


class _RaiseOnInvalid(str):
    """Django puts ``string_if_invalid % name`` where a variable cannot be resolved; this one
    raises instead. ``{% if name %}`` still treats a missing name as false."""

    def __contains__(self, item) -> bool:
        return item == "%s"

    def __mod__(self, name):
        raise MissingVariable(f"The message template uses {{{{ {name} }}}} but it was not given.")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None = None


@functools.lru_cache(maxsize=8)
def _engine(extra_dirs: tuple[str, ...], autoescape: bool) -> Engine:
    app_dirs = [str(Path(__file__).resolve().parent / "templates")]
    return Engine(
        dirs=[*extra_dirs, *app_dirs],
        autoescape=autoescape,
        string_if_invalid=_RaiseOnInvalid("!"),
        loaders=[
            (
                "django.template.loaders.cached.Loader",
                ["django.template.loaders.filesystem.Loader"],
            )
        ],
    )


def _template(name: str, *, autoescape: bool):
    engine = _engine(tuple(str(d) for d in settings.MESSAGE_TEMPLATE_DIRS), autoescape)
    return engine.get_template(f"{TEMPLATE_FOLDER}/{name}")


def _render(name: str, context: dict, *, autoescape: bool) -> str:
    return _template(name, autoescape=autoescape).render(Context(context, autoescape=autoescape))


def render_message(template: str, channel: str, context: dict) -> RenderedMessage:
    """The subject, plain text and (for email, where an ``.email.html`` exists) HTML of one
    message. Email's text template starts with a ``Subject: ...`` line."""
    if channel == "sms":
        text = _render(f"{template}.sms.txt", context, autoescape=False).strip()
        return RenderedMessage(subject="", text=text)
    if channel != "email":
        raise ValueError(f"Unknown message channel {channel!r}")
    first, _, body = _render(f"{template}.email.txt", context, autoescape=False).partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise TemplateSyntaxError(
            f"{template}.email.txt must start with a line 'Subject: ...', not {first!r}"
        )
    subject = first.removeprefix(SUBJECT_PREFIX).strip()
    try:
        html_template = _template(f"{template}.email.html", autoescape=True)
    except TemplateDoesNotExist:
        html = None
    else:
        html = html_template.render(Context(context, autoescape=True))
    return RenderedMessage(subject=subject, text=body.strip() + "\n", html=html)
