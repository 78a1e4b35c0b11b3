"""The real pieces the outbox talks to, run inside the test: an SMTP server (aiosmtpd) that
keeps what it receives, and a local HTTP server standing in for GOV.UK Notify's API that
records every request the Notify client makes."""

from __future__ import annotations

import email
import json
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

HERE = Path(__file__).resolve().parent
SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
API_SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
NOTIFY_API_KEY = f"carevax_test-{SERVICE_ID}-{API_SECRET}"
EMAIL_TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE_ID = "289d8b5e-b52c-4c33-9b07-cc2ef7f3e3f3"


@pytest.fixture(autouse=True)
def message_templates(settings):
    """The test templates under tests/messaging/templates (greeting, plain, nosubject)."""
    settings.MESSAGE_TEMPLATE_DIRS = [str(HERE / "templates")]
    settings.MESSAGE_RATE_LIMITS = {"email": None, "sms": None}


@pytest.fixture
def enqueued(monkeypatch):
    """Records what the outbox puts on the queues (ids by channel, countdown) instead of
    reaching the broker."""
    from bookings import outbox

    calls: list[tuple[dict, float | None]] = []
    monkeypatch.setattr(
        outbox,
        "enqueue",
        lambda ids_by_channel, countdown=None: calls.append((dict(ids_by_channel), countdown)),
    )
    return calls


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SinkHandler:
    """Keeps every message the server accepts. ``refuse`` maps a recipient to the reply to
    give it instead of 250; ``before_reply`` runs with the message count as each message's
    final "." arrives, before the server answers it."""

    def __init__(self):
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self.before_reply = None
        self.on_recipient = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        if self.on_recipient is not None:
            self.on_recipient(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
            count = len(self.received)
        if self.before_reply is not None:
            self.before_reply(count)
        return f"250 2.0.0 Ok: queued as {count}"


@dataclass
class SMTPSink:
    handler: SinkHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[email.message.Message]:
        return [email.message_from_bytes(content) for _rcpt, content in self.handler.received]

    def recipients(self) -> Counter:
        with self.handler.lock:
            return Counter(address for rcpt, _content in self.handler.received for address in rcpt)


@pytest.fixture
def smtp_sink():
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    yield SMTPSink(handler=handler, port=controller.port)
    controller.stop()


@pytest.fixture
def smtp_email(settings, smtp_sink):
    """Django's SMTP email backend pointed at the sink."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    return smtp_sink


@dataclass
class NotifyRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: dict | None


@dataclass
class FakeNotify:
    """GOV.UK Notify's v2 API as far as the outbox uses it."""

    port: int
    requests: list[NotifyRequest] = field(default_factory=list)
    # reference -> notifications Notify holds for it (as GET /v2/notifications lists them)
    notifications: dict[str, list[dict]] = field(default_factory=dict)
    # the next POSTs are answered with these (status, JSON body) instead of 201
    failures: list[tuple[int, dict]] = field(default_factory=list)
    # the next GETs are answered with these instead of the notifications found
    get_failures: list[tuple[int, dict]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def posts(self) -> list[NotifyRequest]:
        return [request for request in self.requests if request.method == "POST"]


def _notify_handler(fake: FakeNotify):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _record(self) -> NotifyRequest:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = NotifyRequest(
                method=self.command,
                path=parts.path,
                query={key: values[0] for key, values in parse_qs(parts.query).items()},
                headers={key.lower(): value for key, value in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            fake.requests.append(request)
            return request

        def do_POST(self):  # noqa: N802
            request = self._record()
            if fake.failures:
                self._answer(*fake.failures.pop(0))
                return
            kind = request.path.rsplit("/", 1)[-1]
            notification = {
                "id": str(uuid.uuid4()),
                "reference": request.body.get("reference"),
                "type": kind,
                "status": "created",
                "created_at": "2026-12-01T06:00:00.000000Z",
            }
            fake.notifications.setdefault(str(request.body.get("reference")), []).append(
                notification
            )
            self._answer(
                201,
                {
                    "id": notification["id"],
                    "reference": notification["reference"],
                    "content": {"body": request.body["personalisation"]["body"]},
                    "uri": f"{fake.base_url}/v2/notifications/{notification['id']}",
                    "template": {"id": request.body["template_id"], "version": 1, "uri": ""},
                },
            )

        def do_GET(self):  # noqa: N802
            request = self._record()
            if fake.get_failures:
                self._answer(*fake.get_failures.pop(0))
                return
            if request.path != "/v2/notifications":
                self._answer(404, {"errors": [{"error": "NotFound"}]})
                return
            found = [
                item
                for item in fake.notifications.get(request.query.get("reference", ""), [])
                if item["type"] == request.query.get("template_type", item["type"])
            ]
            self._answer(200, {"notifications": found, "links": {"current": self.path}})

    return Handler


@pytest.fixture
def fake_notify():
    fake = FakeNotify(port=free_port())
    server = ThreadingHTTPServer(("127.0.0.1", fake.port), _notify_handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def notify_settings(settings, fake_notify):
    settings.NOTIFY_API_KEY = NOTIFY_API_KEY
    settings.NOTIFY_BASE_URL = fake_notify.base_url
    settings.NOTIFY_EMAIL_TEMPLATE_ID = EMAIL_TEMPLATE_ID
    settings.NOTIFY_SMS_TEMPLATE_ID = SMS_TEMPLATE_ID
    settings.NOTIFY_CHANNELS = ["email", "sms"]
    settings.NOTIFY_TIMEOUT = 5
    return fake_notify
