"""The store protocol on Redis: session hashes with a sliding TTL, Streams for event logs, ``SET NX PX`` locks and
sorted-set sliding windows — every conditional write a Lua script, so it is atomic on the server."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

import redis

from ...errors import StoreError
from .base import INT_FIELDS, SESSION_FIELDS, SessionStatus, now

_ADVANCE = """
local s = redis.call('HMGET', KEYS[1], 'status', 'reader', 'step', 'position')
if s[1] ~= ARGV[8] or s[2] ~= ARGV[1] or s[3] ~= ARGV[2] or s[4] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[4], 'position', ARGV[5], 'last_activity', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

_SET_STATUS = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if #ARGV > 5 then
  local ok = false
  for i = 6, #ARGV do if ARGV[i] == status then ok = true end end
  if not ok then return 0 end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'last_activity', ARGV[4])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'reader', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_REWIND = """
local s = redis.call('HMGET', KEYS[1], 'status', 'step', 'position')
if s[1] ~= ARGV[5] then return 0 end
local step, position = tonumber(ARGV[1]), tonumber(ARGV[2])
local at_step, at_position = tonumber(s[2]), tonumber(s[3])
if position > at_position or (position == at_position and step > at_step) then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[1], 'position', ARGV[2], 'last_activity', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_APPEND = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '0-' .. seq, 'e', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return seq
"""

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_HIT_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return tostring(math.max(0.001, tonumber(oldest[2]) + window - now))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return '0'
"""


@contextmanager
def map_redis_errors():
    """Any ``redis`` failure (connection refused or lost, timeout, script error) leaves as ``StoreError``; usable
    as a ``with`` block or as a method decorator."""
    try:
        yield
    except redis.RedisError as error:
        raise StoreError() from error


class RedisStore:
    def __init__(self, url: str, prefix: str = "tutor:"):
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10,
                                           health_check_interval=30, retry_on_timeout=True)
        self.prefix = prefix
        self._advance = self.client.register_script(_ADVANCE)
        self._set_status = self.client.register_script(_SET_STATUS)
        self._rewind = self.client.register_script(_REWIND)
        self._append = self.client.register_script(_APPEND)
        self._refresh = self.client.register_script(_REFRESH)
        self._release = self.client.register_script(_RELEASE)
        self._hit_window = self.client.register_script(_HIT_WINDOW)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    @map_redis_errors()
    def put_session(self, state: dict, ttl: int) -> None:
        key = self._key("session", state["id"])
        fields = {k: ("" if state.get(k) is None else state[k]) for k in SESSION_FIELDS}
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key).hset(key, mapping=fields).expire(key, ttl).execute()

    @map_redis_errors()
    def get_session(self, session_id: str, ttl: int) -> dict | None:
        key = self._key("session", session_id)
        with self.client.pipeline(transaction=True) as pipe:
            state, _ = pipe.hgetall(key).expire(key, ttl, xx=False).execute()
        return _decode(state)

    @map_redis_errors()
    def advance(self, session_id, reader, step, position, new_step, new_position, ttl) -> bool:
        return self._advance(keys=[self._key("session", session_id)],
                             args=[reader, step, position, new_step, new_position, ttl, now(),
                                   SessionStatus.STREAMING]) == 1

    @map_redis_errors()
    def advance_many(self, moves: list[tuple]) -> list[bool]:
        for attempt in (1, 2):
            with self.client.pipeline(transaction=False) as pipe:
                for session_id, reader, step, position, new_step, new_position, ttl in moves:
                    pipe.evalsha(self._advance.sha, 1, self._key("session", session_id), reader, step, position,
                                 new_step, new_position, ttl, now(), SessionStatus.STREAMING)
                results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
                self.client.script_load(_ADVANCE)  # a restarted Redis lost the script
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise StoreError() from result
            return [result == 1 for result in results]
        return []

    @map_redis_errors()
    def set_status(self, session_id, status, *, expect, ttl, reader=None):
        key = self._key("session", session_id)
        args = [status, "0" if reader is None else "1", ttl, now(), reader or "", *(expect or ())]
        if not self._set_status(keys=[key], args=args):
            return None
        return _decode(self.client.hgetall(key))

    @map_redis_errors()
    def rewind(self, session_id, step, position, *, ttl):
        key = self._key("session", session_id)
        if not self._rewind(keys=[key], args=[step, position, ttl, now(), SessionStatus.PAUSED]):
            return None
        return _decode(self.client.hgetall(key))

    @map_redis_errors()
    def delete_session(self, session_id: str) -> None:
        self.client.delete(self._key("session", session_id))

    @map_redis_errors()
    def append(self, log_id: str, entry: dict, ttl: int) -> int:
        return int(self._append(keys=[self._key("log", log_id), self._key("logseq", log_id)],
                                args=[json.dumps(entry), ttl]))

    @map_redis_errors()
    def read(self, log_id: str, after: int = 0, block_ms: int = 0) -> list[tuple[int, dict]]:
        key = self._key("log", log_id)
        if block_ms > 0:
            found = self.client.xread({key: f"0-{after}"}, block=block_ms)
            items = found[0][1] if found else []
        else:
            items = self.client.xrange(key, min=f"({'0-%d' % after}" if after else "-")
        return [(int(entry_id.split("-")[1]), json.loads(fields["e"])) for entry_id, fields in items]

    @map_redis_errors()
    def acquire(self, name: str, token: str, ttl_ms: int) -> bool:
        return bool(self.client.set(self._key("lock", name), token, nx=True, px=ttl_ms))

    @map_redis_errors()
    def refresh(self, name: str, token: str, ttl_ms: int) -> bool:
        return self._refresh(keys=[self._key("lock", name)], args=[token, ttl_ms]) == 1

    @map_redis_errors()
    def release(self, name: str, token: str) -> bool:
        return self._release(keys=[self._key("lock", name)], args=[token]) == 1

    @map_redis_errors()
    def holder(self, name: str) -> str | None:
        return self.client.get(self._key("lock", name))

    @map_redis_errors()
    def held(self, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        tokens = self.client.mget([self._key("lock", name) for name in names])
        return {name: token for name, token in zip(names, tokens) if token is not None}

    @map_redis_errors()
    def hit_window(self, key: str, limit: int, window_s: float) -> float:
        return float(self._hit_window(keys=[self._key("rate", key)], args=[limit, window_s, uuid.uuid4().hex]))

    @map_redis_errors()
    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()


def _decode(state: dict) -> dict | None:
    if not state:
        return None
    decoded = {k: (v if v != "" else None) for k, v in state.items()}
    for name in INT_FIELDS:
        decoded[name] = int(decoded.get(name) or 0)
    decoded["reader"] = decoded.get("reader") or ""
    return decoded
