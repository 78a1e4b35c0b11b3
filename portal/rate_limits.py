"""Counting attempts in fixed windows in the shared cache (Redis in production), so every
web process sees the same counts: ``exceeded`` says whether any counter is over its limit."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.cache import cache


def exceeded(limits: Sequence[tuple[str, int]], *, window_seconds: int) -> bool:
    """Count one attempt on each ``(key, limit)`` counter; True when any is over its limit
    (0 means no limit). Refused attempts count too, so hammering keeps the window full."""
    over = False
    for key, limit in limits:
        if not limit:
            continue
        name = f"carevax.rate:{key}"
        cache.add(name, 0, timeout=window_seconds)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=window_seconds)
            count = 1
        over = over or count > limit
    return over
