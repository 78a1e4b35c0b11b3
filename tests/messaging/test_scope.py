"""Who may see which messages: they are person-level, scoped like the workers they go to."""

import pytest
from django.db import transaction

from bookings.models import Message
from bookings.outbox import OutgoingMessage, queue_messages
from portal.roles import Role
from tests.factories import EmploymentFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def messages(local_authority, other_local_authority, monkeypatch):
    from bookings import outbox

    monkeypatch.setattr(outbox, "enqueue", lambda *args, **kwargs: None)
    here = EmploymentFactory(employer__local_authority=local_authority).worker
    there = EmploymentFactory(employer__local_authority=other_local_authority).worker
    with transaction.atomic():
        ids = queue_messages(
            [
                OutgoingMessage("email", "plain", "here@example.org", {}, worker_id=here.pk),
                OutgoingMessage("email", "plain", "there@example.org", {}, worker_id=there.pk),
                OutgoingMessage("email", "plain", "nobody@example.org", {}),
            ]
        )
    return dict(zip(["here", "there", "nobody"], ids, strict=True))


def visible(user) -> set[int]:
    return set(Message.objects.visible_to(user).values_list("pk", flat=True))


def test_local_leads_see_messages_to_workers_of_their_authority(messages, local_authority):
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    assert visible(lead) == {messages["here"]}


def test_nhs_team_members_see_their_region_or_england(messages, local_authority):
    regional = make_user(Role.NHS_TEAM, region_code=local_authority.region_code)
    national = make_user(Role.NHS_TEAM, region_code="")
    assert visible(regional) == {messages["here"]}
    assert visible(national) == set(messages.values())


def test_administrators_see_all_and_others_none(messages, local_authority):
    assert visible(make_user(Role.ADMINISTRATOR)) == set(messages.values())
    employer_user = make_user(Role.EMPLOYER)
    assert visible(employer_user) == set()
    assert visible(make_user(Role.SITE_STAFF)) == set()
