"""From a question to a posted reply: the part every handler shares.

Whatever goes wrong while answering (the index unreachable, the Chroma server down, a bug) ends
as a short apology in the conversation and a full traceback in the log; the handler returns
normally, so the app keeps serving and answers again as soon as the fault is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from slack_sdk import WebClient

from factdesk.answers import Answer
from factdesk.errors import QuestionError
from factdesk.slack.blocks import APOLOGY, Message, notice, render_answer
from factdesk.slack.dedupe import SeenKeys, message_key
from factdesk.slack.store import Store

logger = logging.getLogger(__name__)

HOW_TO_ASK = (
    "Ask me a question about the indexed news articles, for example "
    "“how many Russian defense advisers are still in Venezuela?”, "
    "and I'll answer with the passages I found it in."
)


class Answering(Protocol):
    """What the bot needs from `factdesk.answers.Answerer`."""

    def answer(self, question: str, top_k: int | None = None) -> Answer: ...


@dataclass
class Replier:
    """Answers questions and posts the replies; one per app, shared by every handler."""

    answerer: Answering
    store: Store
    seen: SeenKeys = field(default_factory=SeenKeys)

    def first_time(self, channel: str, ts: str) -> bool:
        """False when this message has already been taken up, by this or another event."""
        return self.seen.first_time(message_key(channel, ts))

    def compose(
        self, question: str, *, channel: str, user: str | None, shareable: bool = False
    ) -> Message:
        """The reply to a question: the rendered answer, or a notice saying why there is none."""
        if not question:
            return notice(HOW_TO_ASK)
        try:
            answer = self.answerer.answer(question)
            answer_id = self.store.save_answer(answer, channel=channel, user=user)
        except QuestionError as exc:
            return notice(str(exc))
        except Exception:
            logger.exception("Could not answer %r in %s", question, channel)
            return notice(APOLOGY)
        return render_answer(answer, answer_id=answer_id, shareable=shareable)

    def reply(
        self,
        client: WebClient,
        *,
        channel: str,
        thread_ts: str | None,
        user: str | None,
        question: str,
    ) -> None:
        """Answer in a thread, or at the top of the conversation when `thread_ts` is None.

        The thread is remembered first, so that follow-ups asked while the answer is being
        computed are already recognised.
        """
        if thread_ts is not None:
            self.store.remember_thread(channel, thread_ts)
        message = self.compose(question, channel=channel, user=user)
        client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks
        )
