"""Counting attempts in the shared cache (Redis in production): the counter every per-address
limit uses, and the sign-in throttle, which slows one address that keeps getting the password
wrong for one email without holding up the owner signing in from anywhere else."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from portal.client_address import rate_limit_key

# A failed sign-in is forgotten a day after the address's last failure for that email.
SIGN_IN_FAILURE_MEMORY = 24 * 60 * 60


def count_attempt(key: str, *, window: int) -> int:
    """Count one attempt under ``key``; the count starts again ``window`` seconds after the
    first. Returns the count including this attempt."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:
        # The window ran out between add and incr.
        cache.set(key, 1, timeout=window)
        return 1


def _sign_in_keys(email: str, request: HttpRequest) -> tuple[str, str, str, str]:
    """Keys for the email's failures from everywhere; and from this address, its failures,
    when it last failed and its turn. The email is hashed so the cache holds no email
    addresses, and an email nobody uses is counted exactly like a known one, so the
    throttle says nothing about which accounts exist."""
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    address = f"signin:{account}:{rate_limit_key(request)}"
    return f"signin:{account}", address, f"{address}:last", f"{address}:turn"


def sign_in_wait(*, failures: int, account_failures: int) -> int:
    """Seconds an address with ``failures`` for an email waits between tries: none for the
    first LOGIN_FAILURE_LIMIT, then 1, 2, 4 … up to LOGIN_THROTTLE_MAX. Once the email has
    LOGIN_ACCOUNT_FAILURE_LIMIT failures from everywhere (many addresses guessing), any
    address that has failed waits the longest; one that has not still gets its try."""
    longest = int(settings.LOGIN_THROTTLE_MAX.total_seconds())
    if account_failures >= settings.LOGIN_ACCOUNT_FAILURE_LIMIT:
        return longest if failures else 0
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return 0
    return min(2 ** (failures - settings.LOGIN_FAILURE_LIMIT), longest)


def sign_in_may_proceed(*, email: str, request: HttpRequest) -> bool:
    """Whether this attempt's password may be checked at all: not until the address's wait
    since its last failure is over.

    Once it is, the first attempt takes the turn by adding a key, so of attempts sent
    together only one is checked.
    """
    account_key, failures_key, last_key, turn_key = _sign_in_keys(email, request)
    counts = cache.get_many([account_key, failures_key, last_key])
    wait = sign_in_wait(
        failures=counts.get(failures_key, 0), account_failures=counts.get(account_key, 0)
    )
    if not wait:
        return True
    if time.time() < counts.get(last_key, 0) + wait:
        return False
    return cache.add(turn_key, 1, timeout=wait)


def note_sign_in_failure(*, email: str, request: HttpRequest) -> int:
    """Count one wrong password for ``email`` from this address; returns that address's
    failures for it so far."""
    account_key, failures_key, last_key, _ = _sign_in_keys(email, request)
    count_attempt(account_key, window=SIGN_IN_FAILURE_MEMORY)
    failures = count_attempt(failures_key, window=SIGN_IN_FAILURE_MEMORY)
    cache.touch(failures_key, SIGN_IN_FAILURE_MEMORY)
    # The turn taken for this attempt stays until its wait runs out, and the new wait from
    # now is no shorter, so the next turn cannot come early.
    cache.set(last_key, time.time(), timeout=SIGN_IN_FAILURE_MEMORY)
    return failures


def clear_sign_in_failures(*, email: str, request: HttpRequest) -> bool:
    """Forget this address's failures for ``email`` (it has proved it knows the password or
    controls the mailbox); returns whether there were any. The count from everywhere stays
    until it runs out: the owner signing in does not give many guessing addresses their free
    tries back.
    """
    _, failures_key, last_key, turn_key = _sign_in_keys(email, request)
    had_failures = bool(cache.get(failures_key))
    cache.delete_many([failures_key, last_key, turn_key])
    return had_failures
