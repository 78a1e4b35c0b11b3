"""The ways a message leaves the portal, behind one interface: Django's email backend
(``EMAIL_URL``: SMTP, or Django's file or console backend on a laptop), GOV.UK Notify for
email and text messages (``NOTIFY_API_KEY``), and, for text messages on a laptop without
Notify, a file or the console (``SMS_BACKEND``), as Django's own backends do for email.

A channel calls ``handover(reference)`` just before the step after which the provider may
deliver; the outbox records that (see docs/decisions/0007-outbox-and-exactly-once.md) and the
channel gives up if it answers False, because another worker has taken the message over."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import smtplib
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.utils import timezone

from bookings.models import Message
from bookings.rendering import RenderedMessage

logger = logging.getLogger(__name__)

Handover = Callable[[str], bool]
# The same for a group of messages: handover(message, reference).
GroupHandover = Callable[[Message, str], bool]


class SendFailed(Exception):
    """The provider did not take the message; ``str(error)`` says why."""


class TemporaryFailure(SendFailed):
    """Worth trying again later (the server is busy or unreachable)."""


class PermanentFailure(SendFailed):
    """Trying again will not help (the address does not exist, the request is invalid)."""


class Unconfirmed(Exception):  # noqa: N818 - a state, not a failure
    """The message was handed over but the provider's answer never came: it may have gone."""


class ClaimLost(Exception):  # noqa: N818 - a state, not a failure
    """Another worker took the message over while this one waited; this one must not send."""


@dataclass(frozen=True)
class ProviderRecord:
    """What a provider that can be asked knows of one message."""

    reference: str
    status: str


class Channel:
    """One way out. Use as a context manager around a batch: connections are reused."""

    provider = ""
    # True where the provider can be asked afterwards whether it has a message of ours.
    reconcilable = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    # How many messages send_many is given at once.
    batch_size = 1

    def send(self, message: Message, rendered: RenderedMessage, handover: Handover) -> str:
        """Send one message and return the provider's reference for it."""
        raise NotImplementedError

    def send_many(
        self, group: list[tuple[Message, RenderedMessage]], handover: GroupHandover
    ) -> list[str | Exception]:
        """Send a group of messages; for each, in order, its reference or the exception that
        says what happened to it (SendFailed, ClaimLost, Unconfirmed, or anything else)."""
        outcomes: list[str | Exception] = []
        for message, rendered in group:
            try:
                outcomes.append(self.send(message, rendered, functools.partial(handover, message)))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def find(self, message: Message) -> ProviderRecord | None:
        """The provider's record of ``message`` (by our reference), if it has one."""
        raise NotImplementedError


def _sender_domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "carevax.invalid"


_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass
class _Conversation:
    """One message's SMTP transaction on one of the pooled connections."""

    index: int
    message: Message
    backend: SMTPBackend
    sender: str
    recipient: str
    content: bytes
    reference: str


class EmailBackendChannel(Channel):
    """Email through Django's configured backend. For SMTP it speaks the transaction itself, so
    that the message is recorded as sent before the final "." that makes the server deliver:
    a worker killed before that line leaves nothing at the server, one killed after it has
    recorded the send (decision 0007).

    SMTP allows one transaction at a time on a connection, and each command waits for its
    answer, so a group of messages goes over MESSAGE_SMTP_CONNECTIONS connections at once:
    their MAIL, RCPT and DATA commands and their bodies overlap. The final "." still goes one
    message at a time, each after its own recorded send and after the server answered the
    previous one, so at most one message is ever between "recorded" and "delivered"."""

    def __init__(self):
        self.backend = get_connection(fail_silently=False)
        self.is_smtp = isinstance(self.backend, SMTPBackend)
        self.provider = "smtp" if self.is_smtp else self.backend.__module__.rpartition(".")[2]
        self.batch_size = max(1, settings.MESSAGE_SMTP_CONNECTIONS) if self.is_smtp else 1
        self._pool: list[SMTPBackend] = [self.backend] if self.is_smtp else []
        self._senders: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        if self.is_smtp:
            for backend in self._pool:
                self._drop(backend)
        else:
            self.backend.close()

    def _email(self, message: Message, rendered: RenderedMessage) -> EmailMultiAlternatives:
        # One Message-ID per message, however many attempts: it is also our reference.
        message_id = f"<carevax-message-{message.pk}@{_sender_domain()}>"
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": message_id},
        )
        if rendered.html:
            email.attach_alternative(rendered.html, "text/html")
        return email

    def send(self, message: Message, rendered: RenderedMessage, handover: Handover) -> str:
        if self.is_smtp:
            [outcome] = self.send_many([(message, rendered)], lambda _m, ref: handover(ref))
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        email = self._email(message, rendered)
        reference = email.extra_headers["Message-ID"]
        if not handover(reference):
            raise ClaimLost
        try:
            self.backend.send_messages([email])
        except Exception as error:
            raise TemporaryFailure(f"The email backend failed: {error}") from error
        return reference

    def send_many(
        self, group: list[tuple[Message, RenderedMessage]], handover: GroupHandover
    ) -> list[str | Exception]:
        if not self.is_smtp:
            return super().send_many(group, handover)
        return self._send_smtp(group, handover)

    # --- SMTP, one transaction at a time on each of a few reused connections --------------

    @staticmethod
    def _drop(backend: SMTPBackend) -> None:
        """Close the socket without QUIT: inside DATA a QUIT would be part of the message, and
        a connection closed before the final "." makes the server discard it."""
        connection, backend.connection = backend.connection, None
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()

    @staticmethod
    def _refused(stage: str, code: int, reply: bytes) -> SendFailed:
        text = f"The SMTP server refused the {stage}: {code} {reply.decode(errors='replace')}"
        return TemporaryFailure(text) if 400 <= code < 500 else PermanentFailure(text)

    def _connection(self, index: int) -> SMTPBackend:
        while len(self._pool) <= index:
            self._pool.append(get_connection(fail_silently=False))
        backend = self._pool[index]
        if backend.connection is None:
            backend.open()
            # The body and the final "." are two writes: without this, Nagle's algorithm
            # holds the "." back until the server's delayed acknowledgement (40 ms).
            backend.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        backend.connection.ehlo_or_helo_if_needed()
        return backend

    def _conversation(self, index: int, message: Message, rendered: RenderedMessage):
        email = self._email(message, rendered)
        encoding = email.encoding or settings.DEFAULT_CHARSET
        key = (email.from_email, encoding)
        if key not in self._senders:  # the same for every message: encode it once
            self._senders[key] = sanitize_address(email.from_email, encoding)
        content = email.message().as_bytes(linesep="\r\n")
        content = _LEADING_DOT.sub(b"..", content)
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        return _Conversation(
            index=index,
            message=message,
            backend=self._connection(index),
            sender=self._senders[key],
            recipient=sanitize_address(email.to[0], encoding),
            content=content,
            reference=email.extra_headers["Message-ID"],
        )

    def _send_smtp(
        self, group: list[tuple[Message, RenderedMessage]], handover: GroupHandover
    ) -> list[str | Exception]:
        outcomes: list[str | Exception | None] = [None] * len(group)
        talking: list[_Conversation] = []

        def unreachable(conversation: _Conversation, error: Exception) -> None:
            self._drop(conversation.backend)
            outcomes[conversation.index] = TemporaryFailure(
                f"Could not reach the SMTP server: {error}"
            )

        for index, (message, rendered) in enumerate(group):
            try:
                talking.append(self._conversation(index, message, rendered))
            except (smtplib.SMTPException, OSError) as error:
                if index < len(self._pool):
                    self._drop(self._pool[index])
                outcomes[index] = TemporaryFailure(f"Could not reach the SMTP server: {error}")
            except Exception as error:  # the message itself could not be made
                outcomes[index] = error
        # Each command goes out on every connection before any answer is read.
        for stage, command, accepted in (
            ("sender", "mail", {250}),
            ("recipient", "rcpt", {250, 251}),
            ("message", "data", {354}),
        ):
            asked = []
            for conversation in talking:
                argument = {
                    "mail": f"FROM:{smtplib.quoteaddr(conversation.sender)}",
                    "rcpt": f"TO:{smtplib.quoteaddr(conversation.recipient)}",
                    "data": "",
                }[command]
                try:
                    conversation.backend.connection.putcmd(command, argument)
                    asked.append(conversation)
                except (smtplib.SMTPException, OSError) as error:
                    unreachable(conversation, error)
            talking = []
            for conversation in asked:
                smtp = conversation.backend.connection
                try:
                    code, reply = smtp.getreply()
                    if code not in accepted:
                        smtp.rset()
                        outcomes[conversation.index] = self._refused(stage, code, reply)
                        continue
                except (smtplib.SMTPException, OSError) as error:
                    unreachable(conversation, error)
                    continue
                talking.append(conversation)
        ready = []
        for conversation in talking:
            try:
                conversation.backend.connection.send(conversation.content)
                ready.append(conversation)
            except (smtplib.SMTPException, OSError) as error:
                unreachable(conversation, error)
        for conversation in ready:
            outcomes[conversation.index] = self._finish(conversation, handover)
        return outcomes

    def _finish(self, conversation: _Conversation, handover: GroupHandover) -> str | Exception:
        """The point of no return is the final "." below: record the send first, and wait for
        the server's answer before the next message is recorded."""
        if not handover(conversation.message, conversation.reference):
            self._drop(conversation.backend)
            return ClaimLost()
        smtp = conversation.backend.connection
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPException, OSError) as error:
            self._drop(conversation.backend)
            return Unconfirmed(f"The SMTP server did not confirm the message: {error}")
        if code != 250:
            return self._refused("message", code, reply)
        return conversation.reference


class NotifyChannel(Channel):
    """GOV.UK Notify. Each message goes with our id as its reference, so after a crash the
    outbox asks Notify whether it has the message before sending it again."""

    provider = "notify"
    reconcilable = True

    def __init__(self, kind: str):
        from notifications_python_client.notifications import NotificationsAPIClient

        self.kind = kind
        self.client = NotificationsAPIClient(
            settings.NOTIFY_API_KEY,
            base_url=settings.NOTIFY_BASE_URL,
            timeout=settings.NOTIFY_TIMEOUT,
        )

    def close(self) -> None:
        self.client.request_session.close()

    @staticmethod
    def _failure(error) -> SendFailed:
        text = f"GOV.UK Notify answered {error}"
        # 400: the request itself is wrong (a bad address or number); anything else (403 key,
        # 429 rate limit, 5xx, no connection) may pass.
        return PermanentFailure(text) if error.status_code == 400 else TemporaryFailure(text)

    def send(self, message: Message, rendered: RenderedMessage, handover: Handover) -> str:
        from notifications_python_client.errors import APIError

        if not handover(""):
            raise ClaimLost
        try:
            if self.kind == Message.Channel.EMAIL:
                response = self.client.send_email_notification(
                    email_address=message.recipient,
                    template_id=settings.NOTIFY_EMAIL_TEMPLATE_ID,
                    personalisation={"subject": rendered.subject, "body": rendered.text},
                    reference=str(message.pk),
                )
            else:
                response = self.client.send_sms_notification(
                    phone_number=message.recipient,
                    template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
                    personalisation={"body": rendered.text},
                    reference=str(message.pk),
                )
        except APIError as error:
            raise self._failure(error) from error
        return str(response["id"])

    def find(self, message: Message) -> ProviderRecord | None:
        from notifications_python_client.errors import APIError

        try:
            response = self.client.get_all_notifications(
                reference=str(message.pk), template_type=self.kind
            )
        except APIError as error:
            raise TemporaryFailure(f"GOV.UK Notify answered {error}") from error
        found = sorted(
            response.get("notifications") or [], key=lambda item: item.get("created_at") or ""
        )
        if not found:
            return None
        return ProviderRecord(reference=str(found[-1]["id"]), status=found[-1]["status"])


class FileSMSChannel(Channel):
    """Development only: text messages appended to a file per process under SMS_FILE_PATH,
    like Django's file email backend."""

    provider = "file"

    def _write(self, text: str) -> None:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{timezone.now():%Y%m%d}-{os.getpid()}.log"
        with (folder / name).open("a", encoding="utf-8") as stream:
            stream.write(text)

    def send(self, message: Message, rendered: RenderedMessage, handover: Handover) -> str:
        reference = f"sms-{message.pk}"
        if not handover(reference):
            raise ClaimLost
        try:
            self._write(
                f"To: {message.recipient}\nReference: {reference}\n\n{rendered.text}\n---\n"
            )
        except OSError as error:
            raise TemporaryFailure(f"Could not write the text message file: {error}") from error
        return reference


class ConsoleSMSChannel(FileSMSChannel):
    """Development only: text messages printed to standard output."""

    provider = "console"

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


class NoSMSChannel(Channel):
    """Production without GOV.UK Notify has no way to send text messages: say so on each."""

    provider = "none"

    def send(self, message: Message, rendered: RenderedMessage, handover: Handover) -> str:
        raise PermanentFailure(
            "Text messages are not set up: they need GOV.UK Notify (set NOTIFY_API_KEY)."
        )


def _via_notify(kind: str) -> bool:
    return bool(settings.NOTIFY_API_KEY) and kind in settings.NOTIFY_CHANNELS


def channel_for(kind: str) -> Channel:
    """The channel that sends messages of ``kind`` (email or sms) as configured now."""
    if _via_notify(kind):
        return NotifyChannel(kind)
    if kind == Message.Channel.EMAIL:
        return EmailBackendChannel()
    return {"file": FileSMSChannel, "console": ConsoleSMSChannel}.get(
        settings.SMS_BACKEND, NoSMSChannel
    )()


def sms_available() -> bool:
    """Whether text messages can go anywhere (Notify, or a development backend)."""
    return _via_notify(Message.Channel.SMS) or bool(settings.SMS_BACKEND)


def reconciler_for(provider: str, kind: str) -> Channel | None:
    """A channel that can look up what ``provider`` did with a message, if it can be asked."""
    if provider == NotifyChannel.provider and settings.NOTIFY_API_KEY:
        return NotifyChannel(kind)
    return None
