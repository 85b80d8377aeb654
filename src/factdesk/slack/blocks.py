"""Block Kit messages: answers with their citations, notices and apologies.

Every piece of text that comes from an article or a question goes through `markup.escape`, and
every message stays within Slack's limits (3,000 characters per text object, 50 blocks), with a
plain-text `text` fallback for notifications and clients that cannot show blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from factdesk.answer.answers import Answer, Citation
from factdesk.slack.database import Votes
from factdesk.slack.markup import escape, escape_within

MAX_TEXT = 3000
MAX_BLOCKS = 50
MAX_LINK_URL = 1000
MAX_TITLE = 200
MAX_QUESTION = 500

VOTE_UP = "factdesk_vote_up"
VOTE_DOWN = "factdesk_vote_down"
SHARE = "factdesk_share"

APOLOGY = (
    "Sorry, I couldn't answer that just now. The problem has been logged; "
    "please try again in a minute."
)
GONE = "That answer is no longer available; ask again with `/factdesk QUESTION`."
WRITING = "Writing an answer…"
DRAFT_NOTE = "Writing… every sentence is checked against the sources before it appears."
LLM_NOTE = "Written by an LLM from the sources below; every sentence was checked against them."

# Blocks around the citations: answer, question context, buttons, feedback note.
_FIXED_BLOCKS = 4
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_SAFE_SCHEMES = ("https://", "http://")


@dataclass(frozen=True)
class Message:
    """What `chat.postMessage`, `chat.update` and `respond` need: fallback text and blocks."""

    text: str
    blocks: list[dict]


def notice(text: str) -> Message:
    """A short message with no buttons: usage hints, question errors, apologies."""
    escaped = escape_within(text, MAX_TEXT)
    return Message(text=escaped, blocks=[_section(escaped)])


def render_answer(
    answer: Answer,
    *,
    answer_id: str,
    shareable: bool = False,
    shared_by: str | None = None,
    votes: Votes | None = None,
) -> Message:
    """An answer, its citations, the question it answers and the feedback buttons.

    `shareable` adds the "Post to channel" button of a slash command's private answer;
    `shared_by` names who posted it publicly; `votes` shows that feedback was received.
    """
    citations = answer.citations[: MAX_BLOCKS - _FIXED_BLOCKS]
    marked = _marked_answer(answer)
    blocks = [_section(marked or escape_within(answer.answer, MAX_TEXT))]
    blocks += [_section(_citation_text(c, quoted=not (marked and c.n == 1))) for c in citations]
    blocks.append(_context(_footer(answer, shared_by)))
    blocks.append(_buttons(answer_id, shareable))
    if votes is not None:
        blocks.append(_context([f"Feedback received, thanks! 👍 {votes.up} · 👎 {votes.down}"]))
    return Message(text=_fallback(answer, citations), blocks=blocks)


def _marked_answer(answer: Answer) -> str | None:
    """The short answer in bold, then the sentence holding it quoted with the answer's words in
    bold; None for answers without a short answer (declined, or an LLM's)."""
    parts = answer.marked_quote()
    if parts is None or answer.short_answer is None:
        return None
    limit = (MAX_TEXT - 40) // 4
    head, before, span, after = (
        escape_within(_spaced(part), limit) for part in (answer.short_answer.text, *parts)
    )
    return f"*{head.strip()}*\n> {before.lstrip()}*{span.strip()}*{after.rstrip()} *[1]*"


def _spaced(text: str) -> str:
    """Runs of whitespace as one space, keeping a space at either end if there was one."""
    inner = " ".join(text.split())
    if not inner:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + inner + (" " if text[-1].isspace() else "")


def _citation_text(citation: Citation, quoted: bool = True) -> str:
    dated = f" ({citation.published})" if citation.published else ""
    header = f"*[{citation.n}]* {_link(citation)}{dated}"
    if not quoted:
        return header
    header += "\n"
    quote = " ".join(citation.quote.split())
    return header + "> " + escape_within(quote, MAX_TEXT - len(header) - 2)


def _link(citation: Citation) -> str:
    """The source title, as a link when the article has a plain http(s) URL."""
    title = escape_within(citation.title or citation.source, MAX_TITLE)
    url = citation.url or ""
    if (
        not url.startswith(_SAFE_SCHEMES)
        or len(url) > MAX_LINK_URL
        or any(c.isspace() for c in url)
    ):
        return f"*{title}*"
    return f"<{escape(url).replace('|', '%7C')}|{title}>"


def draft(text: str) -> Message:
    """An answer still being written: its checked sentences so far, and a note saying so."""
    escaped = escape_within(text.strip() or WRITING, MAX_TEXT)
    return Message(text=escaped, blocks=[_section(escaped), _context([DRAFT_NOTE])])


def _footer(answer: Answer, shared_by: str | None) -> list[str]:
    lines = [f"Question: {escape_within(answer.question, MAX_QUESTION)}"]
    if answer.answered:
        lines.append(f"Confidence {answer.confidence:.0%}")
    if answer.standalone:
        lines.append(f"Read as: {escape_within(answer.standalone, MAX_QUESTION)}")
    if answer.mode == "llm":
        lines.append(LLM_NOTE)
    elif answer.withheld:
        reason = answer.withheld.replace("_", " ")
        lines.append(f"An LLM answer was withheld ({escape_within(reason, 100)}); quoted instead.")
    if shared_by and _USER_ID.match(shared_by):
        lines.append(f"Shared by <@{shared_by}> with /factdesk")
    lines += [f"⚠️ {escape_within(warning, MAX_QUESTION)}" for warning in answer.warnings]
    return lines[:10]


def _fallback(answer: Answer, citations: list[Citation]) -> str:
    lines = [answer.answer]
    for citation in citations:
        source = citation.title or citation.source
        if citation.published:
            source += f" ({citation.published})"
        lines.append(f"[{citation.n}] {source}" + (f" ({citation.url})" if citation.url else ""))
    return escape_within("\n".join(lines), MAX_TEXT)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(texts: list[str]) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _buttons(answer_id: str, shareable: bool) -> dict:
    elements = [
        _button("👍 Helpful", VOTE_UP, answer_id),
        _button("👎 Not helpful", VOTE_DOWN, answer_id),
    ]
    if shareable:
        elements.append(_button("Post to channel", SHARE, answer_id, style="primary"))
    return {"type": "actions", "block_id": "factdesk_actions", "elements": elements}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
