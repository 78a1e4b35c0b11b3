"""Per-channel send rates (MESSAGE_RATE_LIMITS), shared by every worker process on every
machine: a token bucket kept in Redis and taken from atomically by a Lua script.

Celery's own ``rate_limit`` counts per worker process, so four workers would send four times
the limit a provider (GOV.UK Notify: 3,000 a minute per service) or an SMTP relay allows. On a
laptop without Redis the bucket lives in the one worker process."""

from __future__ import annotations

import functools
import threading
import time

from django.conf import settings

# KEYS[1]: the bucket; ARGV: rate per second, burst. Returns 0 when a token was taken, else
# the milliseconds until one will be there. Redis's clock, so workers' clocks need not agree.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return wait
"""


class LocalBucket:
    """The same bucket in one process's memory (development without Redis)."""

    def __init__(self, rate: float):
        self.rate, self.burst = rate, max(1.0, rate)
        self.tokens, self.at = self.burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class RedisBucket:
    def __init__(self, url: str, key: str, rate: float):
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(BUCKET_SCRIPT)
        self.key, self.rate, self.burst = key, rate, max(1.0, rate)

    def take(self) -> float:
        return int(self.script(keys=[self.key], args=[self.rate, self.burst])) / 1000


@functools.lru_cache(maxsize=16)
def _bucket(channel: str, rate: float, redis_url: str):
    if redis_url:
        return RedisBucket(redis_url, f"carevax:message-rate:{channel}", rate)
    return LocalBucket(rate)


def wait_for_turn(channel: str) -> float:
    """Block until ``channel`` may send one more message; returns the seconds waited."""
    rate = settings.MESSAGE_RATE_LIMITS.get(channel)
    if not rate:
        return 0.0
    bucket = _bucket(channel, rate, settings.REDIS_URL)
    waited = 0.0
    while (wait := bucket.take()) > 0:
        time.sleep(wait)
        waited += wait
    return waited
