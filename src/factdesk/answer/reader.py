"""The reader: finds the short answer to a question in a passage, or says there is none.

Sentence similarity finds the passage about the question; it cannot tell which words answer it,
or that none do. The reader is a small extractive span model (all-MiniLM-L6-v2 fine-tuned on
SQuAD, see models/reader/MODEL_CARD.md and benchmarks/train_reader.py): for every word piece of
the passage it scores how likely the answer starts and ends there, and the [CLS] piece scores
"no answer". It runs with onnxruntime and the `tokenizers` tokenizer, so the question path never
loads torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factdesk.answer.calibration import Calibration

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "reader"
MODEL_FILE = "reader.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reader.json"
# A short answer is at most this many word pieces (SQuAD's answers: 99% are under 30).
MAX_ANSWER_PIECES = 30
# Only the best few starts and ends are paired: the best span is among them.
_TOP = 20
# [CLS] question [SEP] passage [SEP]
_MARKERS = 3


@dataclass(frozen=True)
class Span:
    """The best answer the reader found in one passage: character offsets into that passage's
    text, and how far its score beats the passage's "no answer" score (logits)."""

    passage: int
    start: int
    end: int
    text: str
    margin: float


class Reader:
    """Reads (question, passage) pairs; load once, share between threads."""

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int | None = None,
        model_file: Path | None = None,
        tokenizer_file: Path | None = None,
        busy_threads: int | None = 1,
    ) -> None:
        """`threads` run inside each model run (None: one per core); while another question is
        being read, `busy_threads` do (None: `threads` too). One thread a run when questions
        come at once: the cores are shared between questions instead of each run's threads
        waiting on the others' (benchmarks/README.md, "Speed and memory")."""
        from tokenizers import Tokenizer

        from factdesk.search.embeddings import cpu_session

        folder = Path(model_dir or (Path(model_file).parent if model_file else MODEL_DIR))
        config_path = folder / CONFIG_FILE
        self.config = json.loads(config_path.read_text()) if config_path.exists() else {}
        self.version = str(self.config.get("version", "unversioned"))
        # The confidence: a logistic curve over the span's features, fitted on held-out articles
        # (see the model card).
        self.calibration = Calibration.of(self.config.get("calibration", {}))
        self.threshold = float(self.config.get("threshold", 0.5))
        # How much of its confidence a span in a passage below the first counts when the span to
        # quote is chosen (fitted on the tune articles; 1 for readers fitted before it was).
        self.lower_passage_weight = float(self.config.get("lower_passage_weight", 1.0))
        max_length = int(self.config.get("max_length", 256))
        stride = int(self.config.get("stride", 64))
        # A window holds the question, three markers and the passage; the question gets what
        # leaves the passage two strides, so windows always move on. A longer question would
        # make the tokenizer fail (or panic, which no `except Exception` catches).
        self.max_question_tokens = max(1, max_length - _MARKERS - 2 * stride)
        path = str(tokenizer_file or folder / TOKENIZER_FILE)
        self._pieces = Tokenizer.from_file(path)  # untruncated: to measure questions
        self._pieces.no_truncation()
        self._pieces.no_padding()
        self._tokenizer = Tokenizer.from_file(path)
        self._tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
        self._tokenizer.no_padding()
        self._model_path = Path(model_file or folder / MODEL_FILE)
        self._session = cpu_session(self._model_path, threads, spin=True)
        self._lock = threading.Lock()
        self._busy_threads = busy_threads if busy_threads != threads else None
        self._busy_session = None  # made the first time two questions are read at once
        self._reading = 0
        self._reading_lock = threading.Lock()

    def confidence(self, margin: float, passage_cosine: float = 0.5) -> float:
        """The calibrated probability that a span with this margin, found in a passage with
        this cosine to the question, is the right answer. (The cosine is absolute, unlike the
        fused retrieval score, which depends on how many passages compete.)"""
        return self.calibration.confidence({"margin": margin, "passage_cosine": passage_cosine})

    def read(self, question: str, passages: Sequence[str]) -> list[Span | None]:
        """Each passage's best span (None where no span fits), read in windows if long.

        Windows are run one at a time, unpadded: the int8 model scales its activations per run,
        so in a batch a window's scores would move with the others and their padding.
        """
        if not passages:
            return []
        with self._lock:  # a fast tokenizer is not safe to share between threads
            question = self._fitted(question)
            try:
                encodings = self._tokenizer.encode_batch([(question, p) for p in passages])
            except BaseException as exc:  # a Rust panic is a BaseException: make it an error
                if isinstance(exc, Exception | KeyboardInterrupt | SystemExit):
                    raise
                raise RuntimeError(f"the reader's tokenizer failed: {exc}") from None
        spans: list[Span | None] = []
        with self._reading_session() as session:
            for number, (encoding, passage) in enumerate(zip(encodings, passages, strict=True)):
                best: Span | None = None
                for window in [encoding, *encoding.overflowing]:
                    span = self._best_in(session, window, passage, number)
                    if span is not None and (best is None or span.margin > best.margin):
                        best = span
                spans.append(best)
        return spans

    @contextmanager
    def _reading_session(self) -> Iterator:
        """The session to read one question with, counted as being read until the block ends:
        the busy one (fewer threads a run) while another question is being read. Both give the
        same scores."""
        from factdesk.search.embeddings import cpu_session

        with self._reading_lock:
            self._reading += 1
            session = self._session
            if self._reading > 1 and self._busy_threads is not None:
                if self._busy_session is None:
                    self._busy_session = cpu_session(self._model_path, self._busy_threads)
                session = self._busy_session
        try:
            yield session
        finally:
            with self._reading_lock:
                self._reading -= 1

    def fits(self, question: str) -> bool:
        """Whether the reader reads all of `question` (else only its first word pieces)."""
        with self._lock:
            return len(self._pieces.encode(question, add_special_tokens=False)) <= (
                self.max_question_tokens
            )

    def _fitted(self, question: str) -> str:
        """The question cut to the word pieces a window has room for (lock held)."""
        offsets = self._pieces.encode(question, add_special_tokens=False).offsets
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]

    def best_span(self, question: str, passages: Sequence[str]) -> Span | None:
        """The best span over all passages, by margin over "no answer"."""
        found = [s for s in self.read(question, passages) if s is not None]
        return max(found, key=lambda s: s.margin, default=None)

    def _best_in(self, session, window, passage: str, number: int) -> Span | None:
        context = np.array([s == 1 for s in window.sequence_ids])
        if not context.any():
            return None
        feeds = {
            "input_ids": np.array([window.ids], dtype=np.int64),
            "attention_mask": np.array([window.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([window.type_ids], dtype=np.int64),
        }
        starts, ends = (out[0] for out in session.run(["start_logits", "end_logits"], feeds))
        null = float(starts[0] + ends[0])
        masked_starts = np.where(context, starts, -np.inf)
        masked_ends = np.where(context, ends, -np.inf)
        top_starts = np.argsort(-masked_starts)[:_TOP]
        top_ends = np.argsort(-masked_ends)[:_TOP]
        best, best_score = None, -np.inf
        for i in top_starts:
            if not context[i]:
                continue
            for j in top_ends:
                if not context[j] or j < i or j - i >= MAX_ANSWER_PIECES:
                    continue
                score = float(masked_starts[i] + masked_ends[j])
                if score > best_score:
                    best, best_score = (int(i), int(j)), score
        if best is None:
            return None
        start, end = window.offsets[best[0]][0], window.offsets[best[1]][1]
        text = passage[start:end]
        if not text.strip():
            return None
        return Span(number, start, end, text, best_score - null)
