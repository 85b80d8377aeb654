"""What the bot remembers across restarts, in one SQLite file beside the index.

- `answers`: every answer posted, so a button click can find the answer it belongs to;
- `threads`: the threads the bot has replied in, so follow-ups there need no new mention;
- `votes`: 👍/👎 feedback, one row per person and answer, with the question, the answer and its
  sources copied in, so the feedback stays readable whatever happens to the index;
- `turns`: each question answered and the answer given, by conversation (a thread, or a direct
  message channel outside threads), so follow-ups are read with what came before;
- `seen`: the events and messages already taken up (see dedupe.py), until they expire;
- `sources`: the sources people added to a desk from Slack, who added them, and the articles
  each one brought (so that removing it removes them).

Each call opens its own connection: handlers run on several threads, and SQLite's own locking
(in WAL mode, so readers never wait for the writer) is all the coordination they need, between
threads and between bot processes on one host alike. Bots on several hosts keep `threads`,
`turns`, `seen` and `sources` in Redis instead (redis_memory.py); both satisfy `Memory`.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

from factdesk.answer.answers import Answer, Citation, ShortAnswer
from factdesk.answer.conversation import Turn
from factdesk.config import Settings
from factdesk.desk_manager import AddedSource, SourceMemory

FILENAME = "feedback.sqlite3"

# An event's id is kept longer than Slack goes on re-sending it (its last retry comes about
# 5 minutes after the first attempt; a delivery it times out on is counted as one more).
SEEN_SECONDS = 3600.0
# Threads, and the exchanges follow-ups are read with, are forgotten after this long.
THREAD_SECONDS = 30 * 86400.0

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    user TEXT,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    shared_by TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (channel, thread_ts)
);
CREATE TABLE IF NOT EXISTS turns (
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (channel, thread_ts, created_at);
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_by_expiry ON seen (expires_at);
CREATE TABLE IF NOT EXISTS sources (
    desk TEXT NOT NULL,
    source TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    doc_ids TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    PRIMARY KEY (desk, source)
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers (id),
    user TEXT NOT NULL,
    channel TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    voted_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL,
    PRIMARY KEY (answer_id, user)
);
"""


@dataclass(frozen=True)
class StoredAnswer:
    """An answer as posted: who asked, and who shared it to the channel (if anyone did)."""

    answer: Answer
    user: str | None
    shared_by: str | None


class Votes(NamedTuple):
    """The 👍 and 👎 an answer has received, one per person."""

    up: int
    down: int


@dataclass(frozen=True)
class QuestionVotes:
    """How one question's answers were received."""

    question: str
    down: int
    up: int


@dataclass(frozen=True)
class ModeVotes:
    """How the answers of one mode ("llm" or "extractive") were received."""

    mode: str
    answers: int
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackSummary:
    """Totals, by mode, and the questions people found least helpful, worst first."""

    answers: int
    up: int
    down: int
    most_down: list[QuestionVotes]
    by_mode: list[ModeVotes] = field(default_factory=list)


def database_path(settings: Settings) -> Path:
    """Where the bot's database lives: beside the index it answers from."""
    return settings.index_dir / FILENAME


class Memory(SourceMemory, Protocol):
    """What the bot must remember between events, wherever it is kept: the deliveries already
    taken up, the threads it answers in, each conversation's exchanges, and the sources added
    to desks (SourceMemory, whose `first_time` also tells a delivery seen from a new one)."""

    def remember_thread(self, channel: str, thread_ts: str) -> None: ...

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool: ...

    def save_turn(
        self, channel: str, thread_ts: str | None, question: str, answer: str
    ) -> None: ...

    def history(
        self, channel: str, thread_ts: str | None, limit: int, within: timedelta | None = None
    ) -> list[Turn]: ...


class BotDatabase:
    """The bot's SQLite database (answers, votes, conversations); safe to share between threads
    and processes."""

    def __init__(
        self,
        path: Path,
        seen_seconds: float = SEEN_SECONDS,
        thread_seconds: float = THREAD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._seen_seconds = seen_seconds
        self._thread_seconds = thread_seconds
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=10)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
        self.forget_old_threads()

    def first_time(self, key: str) -> bool:
        """True the first time a key is offered (until it expires), False ever after, whichever
        thread or process offered it first: the insert is atomic, and the file outlives the
        process."""
        now = self._clock()
        with self._transaction() as db:
            db.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            inserted = db.execute(
                "INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, now + self._seen_seconds)
            )
            return inserted.rowcount == 1

    def forget_old_threads(self) -> None:
        """Drop threads and exchanges older than `thread_seconds` (done at start-up)."""
        cutoff = _iso(self._clock() - self._thread_seconds)
        with self._transaction() as db:
            db.execute("DELETE FROM threads WHERE created_at < ?", (cutoff,))
            db.execute("DELETE FROM turns WHERE created_at < ?", (cutoff,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One connection per call. synchronous=NORMAL is WAL's recommended setting: a commit
        survives the process crashing, and only a power cut can lose the last few, while a
        commit no longer waits for the disk (events are checked here before every ack)."""
        with closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            connection.execute("PRAGMA synchronous=NORMAL")
            yield connection

    def save_answer(
        self, answer: Answer, *, channel: str, user: str | None, shared_by: str | None = None
    ) -> str:
        """Keep an answer for the buttons under it; returns the id the buttons carry."""
        answer_id = uuid.uuid4().hex
        row = (answer_id, _now(), channel, user, answer.question, _to_json(answer), shared_by)
        with self._transaction() as db:
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        return answer_id

    def load_answer(self, answer_id: str) -> StoredAnswer | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT answer_json, user, shared_by FROM answers WHERE id = ?", (answer_id,)
            ).fetchone()
        if row is None:
            return None
        return StoredAnswer(answer=_from_json(row[0]), user=row[1], shared_by=row[2])

    def save_source(self, source: AddedSource) -> None:
        """Record a source added to a desk from Slack (added again, or refreshed: replace it)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                (
                    source.desk,
                    source.source,
                    source.added_by,
                    source.added_at,
                    json.dumps(list(source.doc_ids)),
                    source.refreshed_at,
                ),
            )

    def remove_source(self, desk: str, source: str) -> AddedSource | None:
        """Forget a source; the record it had, or None when the desk has no such source."""
        with self._transaction() as db:
            row = db.execute(
                "DELETE FROM sources WHERE desk = ? AND source = ? RETURNING *", (desk, source)
            ).fetchone()
        return _source(row) if row else None

    def added_sources(self, desk: str) -> list[AddedSource]:
        """The sources added to `desk` from Slack, oldest first."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM sources WHERE desk = ? ORDER BY added_at, source", (desk,)
            ).fetchall()
        return [_source(row) for row in rows]

    def remember_thread(self, channel: str, thread_ts: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO threads VALUES (?, ?, ?)", (channel, thread_ts, _now())
            )

    def save_turn(self, channel: str, thread_ts: str | None, question: str, answer: str) -> None:
        """Remember an exchange; `thread_ts` None is a direct message outside any thread."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                (channel, thread_ts or "", _now(precise=True), question, answer),
            )

    def history(
        self,
        channel: str,
        thread_ts: str | None,
        limit: int,
        within: timedelta | None = None,
    ) -> list[Turn]:
        """The last `limit` exchanges of a conversation, oldest first; `within` keeps only
        recent ones (a direct message channel is one long conversation)."""
        since = (datetime.now(UTC) - within).isoformat() if within else ""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT question, answer FROM turns WHERE channel = ? AND thread_ts = ?"
                " AND created_at >= ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (channel, thread_ts or "", since, limit),
            ).fetchall()
        return [Turn(question, answer) for question, answer in reversed(rows)]

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool:
        with self._transaction() as db:
            row = db.execute(
                "SELECT 1 FROM threads WHERE channel = ? AND thread_ts = ?", (channel, thread_ts)
            ).fetchone()
        return row is not None

    def record_vote(
        self, answer_id: str, answer: Answer, *, user: str, channel: str, vote: Vote
    ) -> Votes:
        """Record (or change) one person's vote on an answer; returns the answer's tally."""
        sources = json.dumps(sorted({citation.source for citation in answer.citations}))
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (answer_id, user, channel, vote, _now(), answer.question, answer.answer, sources),
            )
            up, down = db.execute(
                "SELECT COUNT(*) FILTER (WHERE vote = 'up'), COUNT(*) FILTER (WHERE vote = 'down')"
                " FROM votes WHERE answer_id = ?",
                (answer_id,),
            ).fetchone()
        return Votes(up=up, down=down)

    def summarize(self, limit: int = 10) -> FeedbackSummary:
        with self._transaction() as db:
            (answers,) = db.execute(
                "SELECT COUNT(*) FROM answers WHERE shared_by IS NULL"
            ).fetchone()
            up, down = db.execute(
                "SELECT COUNT(*) FILTER (WHERE vote = 'up'), COUNT(*) FILTER (WHERE vote = 'down')"
                " FROM votes"
            ).fetchone()
            rows = db.execute(
                "SELECT MIN(question), COUNT(*) FILTER (WHERE vote = 'down') AS down,"
                " COUNT(*) FILTER (WHERE vote = 'up') AS up"
                " FROM votes GROUP BY lower(trim(question))"
                " HAVING down > 0 ORDER BY down DESC, up ASC, MIN(question) LIMIT ?",
                (limit,),
            ).fetchall()
            by_mode = db.execute(
                "SELECT mode, COUNT(*), SUM(up), SUM(down) FROM ("
                "  SELECT COALESCE(json_extract(a.answer_json, '$.mode'), 'extractive') AS mode,"
                "  (SELECT COUNT(*) FROM votes v WHERE v.answer_id = a.id AND v.vote = 'up') AS up,"
                "  (SELECT COUNT(*) FROM votes v WHERE v.answer_id = a.id AND v.vote = 'down')"
                "  AS down FROM answers a WHERE a.shared_by IS NULL"
                ") GROUP BY mode ORDER BY mode"
            ).fetchall()
        return FeedbackSummary(
            answers=answers,
            up=up,
            down=down,
            most_down=[QuestionVotes(question=q, down=d, up=u) for q, d, u in rows],
            by_mode=[ModeVotes(m, n, u or 0, d or 0) for m, n, u, d in by_mode],
        )


def _to_json(answer: Answer) -> str:
    return json.dumps(asdict(answer))


def _from_json(text: str) -> Answer:
    data = json.loads(text)
    data["citations"] = [Citation(**citation) for citation in data["citations"]]
    if data.get("short_answer"):
        data["short_answer"] = ShortAnswer(**data["short_answer"])
    return Answer(**data)


def _source(row: tuple) -> AddedSource:
    desk, source, added_by, added_at, doc_ids, refreshed_at = row
    return AddedSource(desk, source, added_by, added_at, tuple(json.loads(doc_ids)), refreshed_at)


def _now(precise: bool = False) -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds" if precise else "seconds")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def feedback_summary(settings: Settings, limit: int = 10) -> FeedbackSummary:
    """Totals and the `limit` questions with the most 👎, from the database beside the index."""
    path = database_path(settings)
    if not path.exists():
        return FeedbackSummary(answers=0, up=0, down=0, most_down=[])
    return BotDatabase(path).summarize(limit)
