"""The client's address for rate limits, allauth and the audit: X-Forwarded-For counts only
for the hops our own proxies wrote (TRUSTED_PROXY_COUNT), and a hop that is not an address
never turns a request into an error."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from portal.client_address import client_ip, rate_limit_key
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import PASSWORD, EmployerFactory, make_user

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"


def wrong_sign_in(client, email="nobody@example.org", **headers):
    return client.post(
        reverse("account_login"), {"login": email, "password": "not the password"}, **headers
    )


@pytest.mark.parametrize(
    ("trusted", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.5", "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 203.0.113.5", PROXY, "203.0.113.5"),
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.9", PROXY, "203.0.113.5"),
        (2, "203.0.113.5", PROXY, "203.0.113.5"),
        (1, "", PROXY, PROXY),
        (1, "not-an-ip", PROXY, PROXY),
        (1, "999.1.1.1", PROXY, PROXY),
        (2, "203.0.113.5, junk", PROXY, "203.0.113.5"),
        (1, "203.0.113.5:4711", PROXY, "203.0.113.5"),
        (1, "[2001:db8::1]:443", PROXY, "2001:db8::1"),
        (1, "::ffff:203.0.113.5", PROXY, "203.0.113.5"),
        (1, "fe80::1%eth0", PROXY, PROXY),
        (0, "", "not-an-ip", None),
        (1, "junk", "", None),
    ],
)
def test_the_client_is_the_hop_our_proxies_vouch_for(
    settings, trusted, forwarded, remote, expected
):
    settings.TRUSTED_PROXY_COUNT = trusted
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_limits_count_an_ipv6_client_by_its_64():
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    assert rate_limit_key(request) == "2001:db8:1:2::"
    assert rate_limit_key(RequestFactory().get("/", REMOTE_ADDR="junk")) == "unknown"


def test_a_forged_header_from_an_untrusted_peer_is_not_the_audit_address(client):
    wrong_sign_in(client, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert AuditEvent.objects.get(verb="sign_in_failed").ip_address == "198.51.100.7"


def test_behind_one_proxy_the_audit_address_is_the_client(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    wrong_sign_in(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert AuditEvent.objects.get(verb="sign_in_failed").ip_address == "203.0.113.5"


@pytest.mark.parametrize("trusted", [0, 1])
@pytest.mark.parametrize(
    ("forwarded", "remote"),
    [("not-an-ip", PROXY), ("999.1.1.1", PROXY), ("999.1.1.1", "not-an-ip")],
)
def test_junk_addresses_do_not_break_an_audited_request(
    client, settings, trusted, forwarded, remote
):
    settings.TRUSTED_PROXY_COUNT = trusted
    response = wrong_sign_in(client, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert response.status_code == 200
    expected = PROXY if remote == PROXY else None
    assert AuditEvent.objects.get(verb="sign_in_failed").ip_address == expected


def test_allauths_limit_per_address_counts_the_client_behind_the_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # Different emails each time, so only allauth's per-address limit (20 a minute) applies;
    # a forged hop on the left changes nothing.
    for n in range(20):
        forwarded = f"6.6.6.{n}, 203.0.113.66"
        response = wrong_sign_in(
            client, f"guess{n}@example.org", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded
        )
        assert b"too many attempts" not in response.content
    limited = wrong_sign_in(
        client,
        "guess@example.org",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="6.6.6.99, 203.0.113.66",
    )
    assert b"too many attempts to sign in from here" in limited.content

    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert response.status_code == 302
