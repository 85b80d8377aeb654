"""The one place that loads what answering needs: model, reader, store, retriever, LLM.

Front ends (the CLI, the Slack app, evaluations) ask this module for a `Service` (or an
`Answerer`) and never load a model, open the store or index articles themselves.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from factdesk.answer.answers import Answer, Answerer, Citation, CleanQuestion
from factdesk.answer.conversation import Condense, Turn, build_query
from factdesk.config import Settings
from factdesk.desks import DEFAULT as DEFAULT_DESK
from factdesk.desks import Desks, settings_for
from factdesk.errors import ConfigError
from factdesk.ingest.documents import Article
from factdesk.ingest.indexer import Indexer
from factdesk.search.retrieval import Hit, Retriever
from factdesk.search.store import DocumentRecord, Store

if TYPE_CHECKING:
    from factdesk.answer.grounding import Claim
    from factdesk.answer.llm import LLM, Budget, LLMFailure, OnText
    from factdesk.answer.reader import Reader
    from factdesk.search.embeddings import Embedder

logger = logging.getLogger("factdesk.service")

# Failures that mean the endpoint is unusable right now: after one, no second call is tried.
_ENDPOINT_DOWN = {"timeout", "unreachable"}

# What `reader` may name, as FACTDESK_READER does: no reader (the default, and the baseline of
# evaluations) or the trained one shipped in the package.
NO_READER = "none"
TRAINED_READER = "trained"


def load_answerer(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
) -> Answerer:
    """Load the model and reader and open the index once; an empty index is built from seeds/.

    `notify` receives progress messages meant for a person (the CLI prints them on stderr).
    Pass an already loaded `embedder` or `reader` to share them between several answerers.
    """
    from factdesk.search.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    indexer = Indexer(settings, embedder)
    store = Store(settings, indexer.fingerprint)
    index_seeds_if_empty(indexer, store, settings, notify)
    store.check_compatible()
    return Answerer(settings, embedder, Retriever(store, settings), _reader(reader, settings))


def load_indexer(settings: Settings) -> Indexer:
    """The indexer with its model loaded (for `factdesk index`)."""
    from factdesk.search.embeddings import Embedder

    return Indexer(settings, Embedder.from_settings(settings))


@dataclass(frozen=True)
class IndexStatus:
    """What `factdesk status` shows: the store, whether it exists, and its documents."""

    settings: Settings
    store: Store
    exists: bool
    documents: list[DocumentRecord]


def index_status(settings: Settings) -> IndexStatus:
    """The index as it stands, opened without loading the model."""
    from factdesk.ingest.indexer import fingerprint

    store = Store(settings, fingerprint(settings))
    exists = store.exists()
    return IndexStatus(settings, store, exists, store.documents() if exists else [])


def index_seeds_if_empty(
    indexer: Indexer, store: Store, settings: Settings, notify: Callable[[str], None] | None
) -> None:
    """A first run answers at once: an empty index is built from seeds/ (the one place that
    decides this; front ends never index)."""
    if settings.desk != DEFAULT_DESK or (store.exists() and store.count() > 0):
        return  # another desk has its own sources: it is never filled with the seed article
    if notify:
        notify(f"The index is empty; indexing {settings.seeds_dir}/ first.")
    report = indexer.index_paths([Path(settings.seeds_dir)])
    if notify:
        notify(report.summary())


@dataclass
class Service:
    """Answers a question in its conversation: extractive always, and, with an LLM, the LLM's
    answer instead when it passes the citation check. One per process, shared by threads."""

    answerer: Answerer
    llm: LLM | None = None

    @property
    def settings(self) -> Settings:
        return self.answerer.settings

    @property
    def streams(self) -> bool:
        """Whether answers can arrive piece by piece (only an LLM's do)."""
        return self.llm is not None

    def check_store(self) -> None:
        """Raises StoreUnavailableError when the index cannot be reached now (a health check:
        one cheap read, the same one every question starts with)."""
        self.answerer.check_store()

    def ask(
        self,
        question: str | CleanQuestion,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        on_text: OnText | None = None,
    ) -> Answer:
        """The answer to `question` after `history` (oldest first). `on_text` receives the LLM's
        text as it streams, a sentence at a time and only sentences that passed the check; the
        returned answer is the one to show in the end."""
        if not isinstance(question, CleanQuestion):
            question = CleanQuestion.of(question, self.settings.max_question_chars)
        text, warnings = question.text, list(question.warnings)
        budget = self._budget()
        failures: list[LLMFailure] = []
        query = build_query(text, history, self._condenser(budget, failures))
        answer = self.answerer.answer(query, top_k)
        answer = replace(answer, warnings=[*warnings, *answer.warnings])
        if self.llm is None or budget is None:
            return answer
        if failures and failures[-1].reason in _ENDPOINT_DOWN:
            return _withhold(answer, failures[-1].reason, str(failures[-1]))
        return self._llm_answer(self.llm, answer, query.standalone, budget, on_text)

    def search(
        self, question: str | CleanQuestion, history: Sequence[Turn] = (), limit: int | None = None
    ) -> list[Hit]:
        """The passages retrieval finds for `question` after `history`, best first, without an
        answer: a follow-up is read with its conversation as `ask` reads it, without an LLM's
        condensing, so a search costs one retrieval."""
        if not isinstance(question, CleanQuestion):
            question = CleanQuestion.of(question, self.settings.max_question_chars)
        query = build_query(question.text, history)
        return self.answerer.passages(query, limit or self.settings.top_k)

    @property
    def passage_count(self) -> int:
        """How many passages the index held at the last question (0: nothing indexed yet)."""
        return self.answerer.retriever.size

    def _budget(self) -> Budget | None:
        from factdesk.answer.llm import Budget

        return Budget.of(self.llm.timeout) if self.llm else None

    def _condenser(self, budget: Budget | None, failures: list) -> Condense | None:
        llm = self.llm
        if llm is None or budget is None:
            return None
        from factdesk.answer.llm import LLMFailure

        def condense(question: str, history: Sequence[Turn]) -> str | None:
            try:
                return llm.condense(question, history, budget)
            except LLMFailure as exc:
                failures.append(exc)
                logger.warning("LLM condense step failed (%s): %s", exc.reason, exc)
                return None

        return condense

    def _llm_answer(
        self,
        llm: LLM,
        extractive: Answer,
        standalone: str,
        budget: Budget,
        on_text: OnText | None,
    ) -> Answer:
        """The LLM's answer if it passes the check, else the extractive one, marked withheld."""
        from factdesk.answer import grounding
        from factdesk.answer.llm import LLMFailure, is_refusal

        passages = extractive.citations
        if not passages:  # nothing retrieved is even related: nothing to cite
            return extractive
        embedder = self.answerer.embedder
        stream = grounding.CheckedStream(passages, embedder, on_text) if on_text else None
        try:
            text = llm.answer(standalone, passages, budget, stream)
        except LLMFailure as exc:
            return _withhold(extractive, exc.reason, str(exc))
        if is_refusal(text):
            return _withhold(extractive, "declined", "the model found no answer in the passages")
        verdict = grounding.check(text, passages, embedder)
        if not verdict.ok:
            return _withhold(extractive, verdict.reason, verdict.detail)
        answer = " ".join(text.split())
        return replace(
            extractive,
            answered=True,
            answer=answer,
            mode="llm",
            citations=_requote(passages, verdict.claims),
        )


def _withhold(answer: Answer, reason: str | None, detail: str) -> Answer:
    logger.warning("LLM answer withheld (%s): %s", reason, detail)
    return replace(answer, withheld=reason or "error")


def _requote(citations: Sequence[Citation], claims: Sequence[Claim]) -> list[Citation]:
    """Each cited passage quoted by the sentence that best supports the LLM's claim, at its
    exact place in the article; passages cited by no claim keep their quote."""
    sources = {}
    for claim in claims:
        if claim.source and claim.source[0] not in sources:
            sources[claim.source[0]] = claim.source[1:]
    requoted = []
    for citation in citations:
        offset = citation.passage.find(citation.quote)
        if citation.n not in sources or offset < 0:
            requoted.append(citation)
            continue
        start, end = sources[citation.n]
        base = citation.start - offset
        quote = citation.passage[start:end]
        requoted.append(replace(citation, quote=quote, start=base + start, end=base + end))
    return requoted


def load_service(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
) -> Service:
    """The answerer (see `load_answerer`) and, when FACTDESK_LLM_URL is set, the LLM."""
    llm = load_llm(settings)  # a bad LLM setting fails before the model loads
    return Service(load_answerer(settings, notify, embedder, reader), llm)


class DeskServices:
    """A `Service` per desk, sharing one model, reader and LLM; what the Slack bot answers
    with. Each desk's index is opened on first use and kept; `indexer` writes into a desk."""

    def __init__(
        self,
        settings: Settings,
        desks: Desks,
        embedder: Embedder,
        reader: Reader | None,
        llm: LLM | None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.desks = desks
        self._embedder = embedder
        self._reader = reader
        self._llm = llm
        self._notify = notify
        self._services: dict[str, Service] = {}
        self._lock = threading.Lock()

    def service(self, desk: str) -> Service:
        with self._lock:
            if desk not in self._services:
                # The reader is already loaded (None: none), never to be loaded again per desk.
                reader = NO_READER if self._reader is None else self._reader
                answerer = load_answerer(
                    settings_for(self.settings, desk), self._notify, self._embedder, reader
                )
                self._services[desk] = Service(answerer, self._llm)
            return self._services[desk]

    def for_channel(self, channel: str) -> Service:
        return self.service(self.desks.for_channel(channel).name)

    def indexer(self, desk: str) -> Indexer:
        return Indexer(settings_for(self.settings, desk), self._embedder)

    def status(self, desk: str) -> IndexStatus:
        return index_status(settings_for(self.settings, desk))

    def check_store(self) -> None:
        self.service(DEFAULT_DESK).check_store()


def load_desk_services(
    settings: Settings, desks: Desks, notify: Callable[[str], None] | None = None
) -> DeskServices:
    """Load the model, reader and LLM once and open every desk's index (the default desk is
    built from seeds/ when empty, as `load_answerer` does)."""
    from factdesk.search.embeddings import Embedder

    llm = load_llm(settings)
    embedder = Embedder.from_settings(settings)
    services = DeskServices(settings, desks, embedder, _reader(None, settings), llm, notify)
    for name in desks.names:
        services.service(name)
    return services


def load_llm(settings: Settings) -> LLM | None:
    if not settings.uses_llm:
        return None
    if not settings.llm_model:
        raise ConfigError("FACTDESK_LLM_URL is set but FACTDESK_LLM_MODEL is not: name the model.")
    from factdesk.answer.llm import LLM

    return LLM(settings)


def _reader(reader: Reader | str | None, settings: Settings) -> Reader | None:
    """A loaded reader as given; else what `reader` or, when None, FACTDESK_READER names."""
    choice = settings.reader if reader is None else reader
    if not isinstance(choice, str):
        return choice
    if choice == NO_READER:
        return None
    if choice == TRAINED_READER:
        from factdesk.answer.reader import Reader

        return Reader(threads=settings.threads)
    raise ValueError(f"reader must be a Reader, None, {NO_READER!r} or {TRAINED_READER!r}")


@contextmanager
def scratch_service(
    settings: Settings,
    articles: Sequence[Article],
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
    **overrides: object,
) -> Iterator[Service]:
    """A service over a throw-away embedded index of `articles` (for evaluations), removed on
    exit; the user's own index is never touched. `overrides` change settings for this run."""
    from factdesk.search.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="factdesk-eval-") as folder:
        scratch = settings.model_copy(
            update={"index_dir": Path(folder), "chroma_host": None, **overrides}
        )
        report = Indexer(scratch, embedder).index_articles(articles)
        if notify:
            notify(report.summary())
        yield Service(load_answerer(scratch, embedder=embedder, reader=reader))
