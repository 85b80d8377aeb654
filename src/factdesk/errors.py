"""The errors factdesk reports to people.

Every message is written for the person at the terminal or in Slack: what went wrong and what to
do about it. The CLI prints it on one line and exits non-zero; the bot turns it into a polite reply.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every status `factdesk` exits with; the README's table is generated from `MEANINGS`."""

    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    STORE_UNAVAILABLE = 3
    INCOMPATIBLE_INDEX = 4
    INDEX_BUSY = 5
    SKIPPED = 6
    GATE_FAILED = 7
    FETCH_FAILED = 8
    SLACK_UNREACHABLE = 9
    INTERRUPTED = 130


MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "unexpected failure (a bug: the message says what failed)",
    ExitCode.BAD_INPUT: (
        "bad input: an empty question, an unknown option, a missing path, a malformed question "
        "file, an invalid setting, or a token Slack refused"
    ),
    ExitCode.STORE_UNAVAILABLE: "Chroma cannot be reached or opened (the message names where)",
    ExitCode.INCOMPATIBLE_INDEX: (
        "the index was built with another model, chunking or schema: run `factdesk index --rebuild`"
    ),
    ExitCode.INDEX_BUSY: "another `factdesk index` is running on this index",
    ExitCode.SKIPPED: "`index` indexed what it could but skipped files or feed items (named)",
    ExitCode.GATE_FAILED: "`eval` measured a figure past one of its `--min-*`/`--max-*` limits",
    ExitCode.FETCH_FAILED: "`index` was given a URL or feed that cannot be fetched at all",
    ExitCode.SLACK_UNREACHABLE: "`slack` cannot reach the Slack API (the message names where)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


class FactdeskError(Exception):
    """Base of every error whose message is meant for users."""

    exit_code = ExitCode.FAILURE


class ConfigError(FactdeskError):
    """A setting is missing or invalid."""

    exit_code = ExitCode.BAD_INPUT


class NoProjectError(ConfigError):
    """factdesk was started outside any project folder, so `seeds/` and `index/` have no home."""


class QuestionError(FactdeskError):
    """The question cannot be answered as asked (empty, for instance)."""

    exit_code = ExitCode.BAD_INPUT


class QuestionFileError(FactdeskError):
    """A question file (JSONL or SQuAD) is missing, unreadable or malformed."""

    exit_code = ExitCode.BAD_INPUT


class SourceError(FactdeskError):
    """The articles to index cannot be read at all (a missing path, for instance)."""

    exit_code = ExitCode.BAD_INPUT


class FetchError(FactdeskError):
    """A URL or feed given to `factdesk index` cannot be fetched or used (dead, 404, not HTML).

    Inside a feed the same failure only skips the item; named on the command line, it stops the
    run before anything is indexed, as a missing path does.
    """

    exit_code = ExitCode.FETCH_FAILED


class SlackUnreachableError(FactdeskError):
    """The Slack API cannot be reached at all (after retries): the network, not a token."""

    exit_code = ExitCode.SLACK_UNREACHABLE


class StoreUnavailableError(FactdeskError):
    """The Chroma store cannot be reached or opened."""

    exit_code = ExitCode.STORE_UNAVAILABLE


class IncompatibleIndexError(FactdeskError):
    """The index was built with another model or chunking; mixing vectors would be wrong."""

    exit_code = ExitCode.INCOMPATIBLE_INDEX


class IndexBusyError(FactdeskError):
    """Another `factdesk index` run holds the index."""

    exit_code = ExitCode.INDEX_BUSY


class IndexInterrupted(KeyboardInterrupt):
    """Ctrl-C during indexing, saying what was kept, so the person knows that nothing indexed is
    lost: it is still an interrupt (exit status 130), which says so on its way out."""

    def __init__(self, message: str, kept: int = 0, total: int = 0) -> None:
        super().__init__(message)
        self.message, self.kept, self.total = message, kept, total

    def __str__(self) -> str:
        return self.message

    @classmethod
    def kept_of(cls, kept: int, total: int) -> IndexInterrupted:
        noun = "article" if total == 1 else "articles"
        message = (
            f"Interrupted: kept {kept} of {total} {noun}; run the same command again to finish."
        )
        return cls(message, kept, total)

    @classmethod
    def before_indexing(cls) -> IndexInterrupted:
        return cls("Interrupted before indexing began: the index is as it was.")

    @classmethod
    def during_rebuild(cls) -> IndexInterrupted:
        return cls(
            "Interrupted: the rebuild was abandoned and the index is as it was; run the same "
            "command again to rebuild."
        )
