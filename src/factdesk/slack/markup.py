"""Slack's message markup, in both directions.

Slack sends text with `&`, `<` and `>` escaped and with mentions and links written as
`<@U123>`, `<!channel>` or `<https://example.com|label>`. Questions are turned into plain text
before they are asked; everything the bot writes is escaped again, so that no article and
no question can make the bot ping `@channel`, mention a user or show a link Slack did not write.
"""

from __future__ import annotations

import re

_ENTITY = re.compile(r"<([^<>]*)>")
_SPECIAL_MENTIONS = {"here", "channel", "everyone"}


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally: the three control characters Slack escapes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, limit: int) -> str:
    """`escape(text)` cut to at most `limit` characters, never inside an `&amp;`-style entity.

    Escaping can make text up to five times longer, so the cut happens on the escaped text,
    character by character, and an ellipsis marks that something was left out.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = escape(char)
        if used + len(piece) > limit - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces).rstrip() + "…"


def to_plain(text: str, bot_user_id: str | None = None) -> str:
    """A question as a person would read it: mentions of the bot removed, markup resolved.

    `<@U1|ana>` becomes `@ana`, `<!here>` becomes `@here`, `<https://x|docs>` becomes `docs`,
    and `&lt;` and friends become the characters they stand for.
    """

    def resolve(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            if bot_user_id and target[1:] == bot_user_id:
                return " "
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            name = target[1:]
            if name in _SPECIAL_MENTIONS:
                return f"@{name}"
            return label or ""
        return label or target

    resolved = _ENTITY.sub(resolve, text)
    plain = resolved.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(plain.split())
