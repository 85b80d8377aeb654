"""The errors factdesk reports to people.

Every message is written for the person at the terminal or in Slack: what went wrong and what to
do about it. The CLI prints it on one line and exits non-zero; the bot turns it into a polite reply.
"""

from __future__ import annotations


class FactdeskError(Exception):
    """Base of every error whose message is meant for users."""

    exit_code = 1


class ConfigError(FactdeskError):
    """A setting is missing or invalid."""

    exit_code = 2


class QuestionError(FactdeskError):
    """The question cannot be answered as asked (empty, for instance)."""

    exit_code = 2


class QuestionFileError(FactdeskError):
    """A question file (JSONL or SQuAD) is missing, unreadable or malformed."""

    exit_code = 2


class SourceError(FactdeskError):
    """The articles to index cannot be read at all (a missing path, for instance)."""

    exit_code = 2


class FetchError(FactdeskError):
    """A URL or feed given to `factdesk index` cannot be fetched or used (dead, 404, not HTML).

    Inside a feed the same failure only skips the item; named on the command line, it stops the
    run before anything is indexed, as a missing path does.
    """

    exit_code = 8


class StoreUnavailableError(FactdeskError):
    """The Chroma store cannot be reached or opened."""

    exit_code = 3


class IncompatibleIndexError(FactdeskError):
    """The index was built with another model or chunking; mixing vectors would be wrong."""

    exit_code = 4


class IndexBusyError(FactdeskError):
    """Another `factdesk index` run holds the index."""

    exit_code = 5
