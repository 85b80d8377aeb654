"""An optional language model, reached through any OpenAI-compatible endpoint.

Set FACTDESK_LLM_URL and FACTDESK_LLM_MODEL and factdesk asks the model two things: to condense a
follow-up into a standalone question, and to answer from the numbered passages retrieval found.
It speaks through llama-index's `OpenAILike`, so Ollama, vLLM, a llama.cpp server or OpenAI all
work. Whatever the model writes is checked (grounding.py) before anyone sees it; this module only
makes sure that a model that is down, slow or broken costs at most FACTDESK_LLM_TIMEOUT seconds,
in all, per question, and then says why it failed.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from factdesk.config import Settings

if TYPE_CHECKING:
    from factdesk.answer.answers import Citation
    from factdesk.answer.conversation import Turn

logger = logging.getLogger("factdesk.answer.llm")

# What the model is asked to say when the passages do not hold the answer.
NOT_IN_PASSAGES = "NOT IN PASSAGES"
# What the model may write in one reply, in its own tokens.
MAX_REPLY_TOKENS = 300
MAX_STANDALONE_CHARS = 400
# A passage is shown to the model whole, but never longer than this.
MAX_PASSAGE_CHARS = 2500

ANSWER_SYSTEM = f"""\
You answer questions about news articles using only the numbered passages you are given.
Write one to three short sentences in plain words. End every sentence with the number of the \
passage it comes from in square brackets, like [1], or [1][2] when it draws on two.
Use only facts, names and numbers that appear in the passages you cite; do not add anything else.
If the passages do not contain the answer, reply with exactly: {NOT_IN_PASSAGES}"""

# llama-index's CondenseQuestionChatEngine prompt, so a follow-up is condensed the same way.
CONDENSE_TEMPLATE = """\
Given a conversation (between Human and Assistant) and a follow up message from Human, \
rewrite the message to be a standalone question that captures all relevant context \
from the conversation. Reply with the standalone question only.

<Chat History>
{chat_history}

<Follow Up Message>
{question}

<Standalone question>
"""

OnText = Callable[[str], None]


class LLMFailure(Exception):
    """The model could not be used for this question; `reason` is a short code for the JSON
    ("timeout", "unreachable", "error", "empty"), the message a line for the log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Budget:
    """The seconds a question may still spend waiting for the model, across all its calls."""

    deadline: float

    @classmethod
    def of(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    @property
    def left(self) -> float:
        return self.deadline - time.monotonic()


class LLM:
    """One configured model; thread-safe, as the OpenAI client it wraps is."""

    def __init__(self, settings: Settings) -> None:
        from llama_index.llms.openai_like import OpenAILike

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none"
        self.model = settings.llm_model or ""
        self.timeout = settings.llm_timeout
        self._llm = OpenAILike(
            model=self.model,
            api_base=str(settings.llm_url).rstrip("/"),
            api_key=key,
            is_chat_model=True,
            timeout=settings.llm_timeout,
            max_retries=0,  # a retry would spend the budget the fallback needs
            temperature=0.0,
            max_tokens=MAX_REPLY_TOKENS,
            reuse_client=True,
        )

    def __repr__(self) -> str:  # never the key, whatever a caller logs
        return f"LLM(model={self.model!r})"

    def answer(
        self,
        question: str,
        passages: Sequence[Citation],
        budget: Budget,
        on_text: OnText | None = None,
    ) -> str:
        """The model's answer from passages numbered as their citations are; streamed to
        `on_text` piece by piece when given."""
        return self.chat(
            [("system", ANSWER_SYSTEM), ("user", answer_prompt(question, passages))],
            budget,
            on_text,
        )

    def condense(self, question: str, history: Sequence[Turn], budget: Budget) -> str:
        """A follow-up rewritten as a standalone question; raises LLMFailure if the reply is
        not one (empty, several lines, far too long)."""
        prompt = CONDENSE_TEMPLATE.format(chat_history=format_history(history), question=question)
        text = self.chat([("user", prompt)], budget).strip().strip('"“”').strip()
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != 1 or len(text) > MAX_STANDALONE_CHARS:
            raise LLMFailure("garbage", f"the condensed question is not one line: {text[:80]!r}")
        return lines[0].strip()

    def chat(
        self,
        messages: Sequence[tuple[str, str]],
        budget: Budget,
        on_text: OnText | None = None,
    ) -> str:
        """The model's reply, within the budget: the call runs on a worker thread and is
        abandoned (it ends at the client's own timeout) when the budget runs out first."""
        if budget.left <= 0:
            raise LLMFailure("timeout", "no time left for the model")
        pieces: queue.Queue = queue.Queue()
        worker = threading.Thread(
            target=self._call, args=(messages, on_text is not None, pieces), daemon=True
        )
        worker.start()
        text = []
        while True:
            try:
                kind, value = pieces.get(timeout=max(budget.left, 0.001))
            except queue.Empty:
                raise LLMFailure("timeout", f"no answer within {self.timeout:g} s") from None
            if kind == "text":
                text.append(value)
                if on_text:
                    on_text(value)
            elif kind == "error":
                raise value
            else:
                break
        reply = "".join(text)
        if not reply.strip():
            raise LLMFailure("empty", "the model returned no text")
        return reply

    def _call(self, messages, stream: bool, pieces: queue.Queue) -> None:
        from llama_index.core.llms import ChatMessage

        chat_messages = [ChatMessage(role=role, content=content) for role, content in messages]
        try:
            if stream:
                for chunk in self._llm.stream_chat(chat_messages):
                    if chunk.delta:
                        pieces.put(("text", chunk.delta))
            else:
                pieces.put(("text", self._llm.chat(chat_messages).message.content or ""))
            pieces.put(("done", None))
        except Exception as exc:  # every failure of the client is a reason to fall back
            pieces.put(("error", _failure(exc)))


def _failure(exc: Exception) -> LLMFailure:
    """A client exception as a reason code and a log line that names no secret."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return LLMFailure("timeout", "the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMFailure("unreachable", f"cannot reach the model: {exc.__cause__ or exc}")
    if isinstance(exc, openai.APIStatusError):
        return LLMFailure("error", f"the model's endpoint answered HTTP {exc.status_code}")
    return LLMFailure("error", f"the model's reply could not be read ({type(exc).__name__})")


def answer_prompt(question: str, passages: Sequence[Citation]) -> str:
    """The passages as [n] blocks, numbered as the answer's citations are, then the question."""
    blocks = []
    for citation in passages:
        title = f" ({citation.title})" if citation.title else ""
        blocks.append(f"[{citation.n}]{title}\n{citation.passage[:MAX_PASSAGE_CHARS]}")
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"


def format_history(history: Sequence[Turn]) -> str:
    """Earlier turns as the condense prompt shows them, citation markers removed."""
    from factdesk.answer.conversation import clean_answer

    lines = []
    for turn in history:
        lines.append(f"Human: {turn.question}")
        if turn.answer:
            lines.append(f"Assistant: {clean_answer(turn.answer)}")
    return "\n".join(lines)


_REFUSAL = re.compile(
    r"not in (the )?passages|(passages?|articles?|context) (do(es)?n[’']t|do(es)? not) "
    r"(contain|hold|mention|say|include|provide)|no information|cannot (be )?answer"
    r"|can[’']t (be )?answer|unable to answer|not (mentioned|stated|provided)",
    re.I,
)


def is_refusal(text: str) -> bool:
    """Whether the model said the passages do not hold the answer (in any of its usual words)."""
    return bool(_REFUSAL.search(text)) and "[" not in text
