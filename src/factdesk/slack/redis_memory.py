"""The bot's memory in Redis, for bots on several hosts (FACTDESK_REDIS_URL).

The same records as in SQLite (store.py), shared by every host: the deliveries already taken up
(so a retry reaching another host is not answered again), the threads the bot answers in, and
each conversation's exchanges, and the sources added to desks from Slack. Every key but the
sources expires on its own (Redis's TTL), after as long as the SQLite rows are kept. Answers and
votes stay in each host's SQLite database.

A Redis that cannot be reached makes the event fail (Slack gets a 500 and re-sends it later):
better than answering without knowing whether another host already has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from factdesk.answer.conversation import Turn
from factdesk.desk_manager import AddedSource
from factdesk.errors import FactdeskError
from factdesk.slack.database import SEEN_SECONDS, THREAD_SECONDS

PREFIX = "factdesk:"
KEPT_TURNS = 50  # per conversation: far more than follow-ups are ever read with


class RedisMemory:
    """`Memory` (see store.py) on a Redis server; safe to share between threads."""

    def __init__(
        self,
        client,
        prefix: str = PREFIX,
        seen_seconds: float = SEEN_SECONDS,
        thread_seconds: float = THREAD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._seen_seconds = int(seen_seconds)
        self._thread_seconds = int(thread_seconds)
        self._clock = clock

    @classmethod
    def connect(cls, url: str, prefix: str = PREFIX, **options: Any) -> RedisMemory:
        """Connect and check the server answers; a user-facing error naming the server (never
        the password a URL may hold) when it does not."""
        import redis

        client = open_client(url)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise FactdeskError(
                f"Cannot reach Redis at {describe(url)} (FACTDESK_REDIS_URL): {exc}"
            ) from None
        return cls(client, prefix, **options)

    def ping(self) -> None:
        """Raises when the server cannot be reached (for the health check)."""
        self._redis.ping()

    def first_time(self, key: str) -> bool:
        """SET NX: exactly one of any number of hosts and threads gets True."""
        return bool(self._redis.set(self._key("seen", key), 1, nx=True, ex=self._seen_seconds))

    def remember_thread(self, channel: str, thread_ts: str) -> None:
        self._redis.set(self._key("thread", channel, thread_ts), 1, ex=self._thread_seconds)

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(self._key("thread", channel, thread_ts)))

    def save_turn(self, channel: str, thread_ts: str | None, question: str, answer: str) -> None:
        key = self._key("turns", channel, thread_ts or "")
        turn = json.dumps({"at": self._clock(), "question": question, "answer": answer})
        with self._redis.pipeline() as pipe:  # MULTI/EXEC: the list is never left untrimmed
            pipe.rpush(key, turn)
            pipe.ltrim(key, -KEPT_TURNS, -1)
            pipe.expire(key, self._thread_seconds)
            pipe.execute()

    def history(
        self, channel: str, thread_ts: str | None, limit: int, within: timedelta | None = None
    ) -> list[Turn]:
        """The last `limit` exchanges, oldest first; `within` keeps only recent ones."""
        since = self._clock() - within.total_seconds() if within else float("-inf")
        rows = self._redis.lrange(self._key("turns", channel, thread_ts or ""), -limit, -1)
        turns = [json.loads(row) for row in rows]
        return [Turn(t["question"], t["answer"]) for t in turns if t["at"] >= since]

    def save_source(self, source: AddedSource) -> None:
        self._redis.hset(self._key("sources", source.desk), source.source, source.to_json())

    def remove_source(self, desk: str, source: str) -> AddedSource | None:
        key = self._key("sources", desk)
        with self._redis.pipeline() as pipe:  # read and delete in one MULTI/EXEC
            pipe.hget(key, source)
            pipe.hdel(key, source)
            raw, _ = pipe.execute()
        return AddedSource.from_json(raw) if raw else None

    def added_sources(self, desk: str) -> list[AddedSource]:
        rows = self._redis.hvals(self._key("sources", desk))
        found = [AddedSource.from_json(raw) for raw in rows]
        return sorted(found, key=lambda s: (s.added_at, s.source))

    def _key(self, kind: str, *parts: str) -> str:
        return self._prefix + ":".join((kind, *parts))


def open_client(url: str):
    """A client that gives up within about a second: the duplicate check runs before every
    acknowledgement, which Slack wants within 3 s (redis-py's default retries take longer)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=1,
        socket_connect_timeout=1,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2),
    )


def describe(url: str) -> str:
    """host:port (or the socket path) of a Redis URL, without its credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"
