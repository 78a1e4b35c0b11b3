"""The Celery application; a worker bootstep keeps a heartbeat that /healthz reads."""

import logging
import os
import socket

from celery import Celery, bootsteps
from celery.signals import task_unknown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
logger = logging.getLogger(__name__)

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """Write this worker's heartbeat to the database every few seconds while it runs."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        self.hostname = worker.hostname or socket.gethostname()
        self.tref = worker.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_INTERVAL, self.beat, priority=10
        )
        self.beat()

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def beat(self):
        from django.db import close_old_connections

        from portal.health import record_worker_heartbeat

        # The timer thread keeps its own connection and never sees a request cycle: drop it
        # when it is broken or too old, so a database restart does not silence the heartbeat.
        close_old_connections()
        try:
            record_worker_heartbeat(self.hostname)
        except Exception:
            logger.exception("Could not record the heartbeat of worker %s", self.hostname)


app.steps["worker"].add(Heartbeat)

# The names tasks had before they were named *_task (docs/decisions/0012). A message queued
# under one of them before the deploy is sent again under the new name rather than dropped.
# Drop this once a release has passed with it: by then no queue holds the old names.
RENAMED_TASKS = {
    old: f"{old}_task"
    for old in (
        "employers.tasks.validate_staff_upload",
        "employers.tasks.import_staff_upload",
        "employers.tasks.import_waiting_uploads",
        "employers.tasks.assess_imported_staff",
        "workers.tasks.reassess_undecided",
        "bookings.tasks.route_area_workers",
        "bookings.tasks.send_messages",
        "bookings.tasks.sweep_messages",
        "bookings.tasks.release_campaign",
        "bookings.tasks.release_active_campaigns",
        "bookings.tasks.send_invitation_reminders",
        "bookings.tasks.expire_invitations",
        "portal.tasks.expire_colleague_invitations",
    )
}


@task_unknown.connect
def _forward_renamed_task(sender=None, message=None, name=None, **kwargs):
    """The worker has already rejected the message (and logged it as unknown); queue the same
    arguments again, on the same queue, under the task's new name."""
    new_name = RENAMED_TASKS.get(name)
    if new_name is None or message is None:
        return
    args, task_kwargs, _embed = message.decode()
    queue = (message.delivery_info or {}).get("routing_key") or None
    app.send_task(new_name, args=args, kwargs=task_kwargs, queue=queue)
    logger.warning("Forwarded a message for %s to %s", name, new_name)


@app.on_after_configure.connect
def _ensure_queue_folders(sender, **kwargs):
    """The filesystem transport needs its folders before web, worker or beat touch it; kombu
    creates none of them (and the control folder without its parents)."""
    if not str(sender.conf.broker_url).startswith("filesystem:"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@worker_shutdown.connect
def _forget_heartbeat(sender=None, **kwargs):
    from portal.health import forget_worker_heartbeat

    if sender is not None and getattr(sender, "hostname", None):
        forget_worker_heartbeat(sender.hostname)
