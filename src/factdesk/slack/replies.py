"""From a question to a posted reply: the part every handler shares.

A question asked in a thread is read with the thread's earlier questions and answers (which the
bot stores itself); one asked in a direct message outside a thread, with the exchanges of the
last FACTDESK_CONVERSATION_MINUTES. With an LLM, a placeholder is posted at once and updated as
checked sentences arrive, then replaced by the final answer and its citations.

Whatever goes wrong while answering (the index unreachable, the Chroma server down, a bug) ends
as a short apology in the conversation and a full traceback in the log; the handler returns
normally, so the app keeps serving and answers again as soon as the fault is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, runtime_checkable

from slack_sdk import WebClient

from factdesk.answer.answers import Answer, Answerer
from factdesk.answer.conversation import MAX_TURNS, Turn
from factdesk.errors import QuestionError
from factdesk.slack.blocks import APOLOGY, WRITING, Message, notice, render_answer
from factdesk.slack.database import BotDatabase, Memory
from factdesk.slack.dedupe import message_key
from factdesk.slack.streaming import DraftUpdater

logger = logging.getLogger(__name__)

HOW_TO_ASK = (
    "Ask me a question about the indexed news articles, for example "
    "“how many Russian defense advisers are still in Venezuela?”, "
    "and I'll answer with the passages I found it in."
)


@runtime_checkable
class ChannelAnswerers(Protocol):
    """What answers in each channel: its desk's pipeline (`service.DeskPipelines`)."""

    def for_channel(self, channel: str) -> Answerer: ...


@dataclass
class Replier:
    """Answers questions and posts the replies; one per app, shared by every handler.

    `database` keeps the answers (for their buttons) and the votes; `memory` the deliveries seen,
    the bot's threads and the conversations: the same SQLite database, unless the bots share a
    Redis server (`shared_memory`). `answerer` answers everywhere, or, given desks, each
    channel from its desk.
    """

    answerer: Answerer | ChannelAnswerers
    database: BotDatabase
    shared_memory: Memory | None = None
    dm_window: timedelta = timedelta(minutes=30)
    update_seconds: float = 1.0

    @property
    def memory(self) -> Memory:
        return self.shared_memory or self.database

    def answerer_for(self, channel: str) -> Answerer:
        """What answers in `channel`: its desk's pipeline (direct messages: the default desk)."""
        if isinstance(self.answerer, ChannelAnswerers):
            return self.answerer.for_channel(channel)
        return self.answerer

    def first_time(self, channel: str, ts: str) -> bool:
        """False when this message has already been taken up, by this or another event (or
        another bot process)."""
        return self.memory.first_time(message_key(channel, ts))

    def compose(
        self, question: str, *, channel: str, user: str | None, shareable: bool = False
    ) -> Message:
        """The reply to a question asked on its own (a slash command)."""
        return self._answer(question, channel=channel, user=user, shareable=shareable)[1]

    def reply(
        self,
        client: WebClient,
        *,
        channel: str,
        thread_ts: str | None,
        user: str | None,
        question: str,
    ) -> None:
        """Answer in a thread, or at the top of a direct message when `thread_ts` is None.

        The thread is remembered first, so that follow-ups asked while the answer is being
        computed are already recognised; the turn is saved before the answer is shown, so that
        a follow-up sent the moment it appears is read with it.
        """
        if thread_ts is not None:
            self.memory.remember_thread(channel, thread_ts)
        within = None if thread_ts else self.dm_window
        history = self.memory.history(channel, thread_ts, MAX_TURNS, within)
        if self.answerer_for(channel).streams and question:
            self._reply_streaming(client, channel, thread_ts, user, question, history)
            return
        answer, message = self._answer(question, channel=channel, user=user, history=history)
        self._save_turn(channel, thread_ts, answer)
        client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks
        )

    def _save_turn(self, channel: str, thread_ts: str | None, answer: Answer | None) -> None:
        if answer is not None:
            self.memory.save_turn(
                channel, thread_ts, answer.question, answer.answer if answer.answered else ""
            )

    def _reply_streaming(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str | None,
        user: str | None,
        question: str,
        history: list[Turn],
    ) -> None:
        """Post a placeholder, update it as checked sentences arrive, then replace it."""
        placeholder = notice(WRITING)
        posted = client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=placeholder.text, blocks=placeholder.blocks
        )
        draft = DraftUpdater(client, channel, posted["ts"], self.update_seconds)
        answer, message = self._answer(
            question, channel=channel, user=user, history=history, on_text=draft
        )
        self._save_turn(channel, thread_ts, answer)
        client.chat_update(
            channel=channel, ts=posted["ts"], text=message.text, blocks=message.blocks
        )

    def _answer(
        self,
        question: str,
        *,
        channel: str,
        user: str | None,
        shareable: bool = False,
        history: Sequence[Turn] = (),
        on_text: Callable[[str], None] | None = None,
    ) -> tuple[Answer | None, Message]:
        """The answer and its rendering, or no answer and a notice saying why there is none."""
        if not question:
            return None, notice(HOW_TO_ASK)
        try:
            answer = self.answerer_for(channel).ask(question, history, on_text=on_text)
            answer_id = self.database.save_answer(answer, channel=channel, user=user)
        except QuestionError as exc:
            return None, notice(str(exc))
        except Exception:
            logger.exception("Could not answer %r in %s", question, channel)
            return None, notice(APOLOGY)
        return answer, render_answer(answer, answer_id=answer_id, shareable=shareable)
