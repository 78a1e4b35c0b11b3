"""A message queued under a task's name from before the *_task renames is sent again under the
new name, on the queue it came from, instead of being dropped by the worker."""

import pytest
from celery.signals import task_unknown

from portal.celery import RENAMED_TASKS, app
from tests.conftest import database_url, poll


class QueuedMessage:
    """The parts of a kombu message the forwarding reads (protocol 2 body)."""

    def __init__(self, args, kwargs, routing_key):
        self.body = [args, kwargs, {"callbacks": None, "errbacks": None}]
        self.delivery_info = {"routing_key": routing_key}

    def decode(self):
        return self.body


def test_every_old_name_forwards_to_a_registered_task():
    app.loader.import_default_modules()
    assert set(RENAMED_TASKS.values()) <= set(app.tasks)
    assert not set(RENAMED_TASKS) & set(app.tasks)


def test_an_old_name_is_sent_again_under_its_new_name(monkeypatch):
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options)))
    message = QueuedMessage([[4, 5]], {}, "outbox.email")

    task_unknown.send(
        sender=None, message=message, exc=KeyError(), name="bookings.tasks.send_messages", id="x"
    )

    assert sent == [
        (
            "bookings.tasks.send_messages_task",
            {"args": [[4, 5]], "kwargs": {}, "queue": "outbox.email"},
        )
    ]


def test_a_name_that_was_never_renamed_is_left_dropped(monkeypatch):
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append(name))
    message = QueuedMessage([], {}, "celery")

    task_unknown.send(sender=None, message=message, exc=KeyError(), name="nowhere.task", id="x")

    assert sent == []


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_a_message_queued_under_an_old_name(postgres, redis_url, start_worker):
    app.set_current()
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url)

    app.send_task("bookings.tasks.sweep_messages")

    ran = poll(
        worker.output, lambda output: "sweep_messages_task[" in output and "succeeded" in output
    )
    assert "Forwarded a message for bookings.tasks.sweep_messages" in ran, ran
