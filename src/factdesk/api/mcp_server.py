"""The MCP door, with the official SDK: tools `ask` and `search`, and a resource per desk
listing its articles. `factdesk mcp` serves it over stdio (a desktop client starts the process);
`factdesk serve` over Streamable HTTP at /mcp, stateless, so that any replica can take any
request (server.py runs both).

A tool result carries the answer as text (what a model reads) and as structured content, the
same object as `factdesk ask --json`, so an agent can quote the citations exactly.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from factdesk import __version__
from factdesk.answer.conversation import MAX_HISTORY_TURNS
from factdesk.answer.schema import AnswerJSON
from factdesk.api.access import EVERY_DESK, Grant
from factdesk.api.gateway import Gateway, Refusal, turns
from factdesk.api.models import MAX_SEARCH_PASSAGES, HistoryTurn, PassageJSON, SearchResults
from factdesk.api.text import answer_text, passages_text

logger = logging.getLogger("factdesk.mcp")

# Where the HTTP door leaves the request's grant (its token's desks) for the tools to read.
GRANT_KEY = "factdesk.grant"
_grant: ContextVar[Grant | None] = ContextVar("factdesk_mcp_grant", default=None)
SOURCES_URI = "factdesk://desks/{desk}/sources"

INSTRUCTIONS = """\
factdesk answers questions from a newsroom's own indexed news articles, with citations.
Use `ask` for an answer: its structured content holds the citations (the sentences quoted, \
their articles, titles, URLs and dates); quote them rather than restating figures from memory. \
When `answered` is false the articles do not say: do not guess, and treat its citations as \
related reading only. Pass earlier turns as `history` for a follow-up ("What did he say?"). \
Use `search` for passages on a topic without an answer. Each desk has its own articles \
(resources factdesk://desks/NAME/sources list them)."""

Question = Annotated[str, Field(min_length=1, description="The question, in plain words.")]
Desk = Annotated[
    str | None,
    Field(description="The desk to ask (see the resources); unset: the default desk."),
]
History = Annotated[
    list[HistoryTurn] | None,
    Field(
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns of the conversation, oldest first ({question, answer}): "
        "the question is read as a follow-up to them.",
    ),
]


def create_mcp(gateway: Gateway) -> MCPServer:
    """The MCP server: its tools and resources ask `gateway`, as the other doors do."""
    server: MCPServer = MCPServer(
        "factdesk",
        title="factdesk",
        instructions=INSTRUCTIONS,
        version=__version__,
        middleware=[_grant_of_the_request],
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False, idempotent_hint=True)

    @server.tool(annotations=read_only)
    async def ask(
        question: Question, desk: Desk = None, history: History = None
    ) -> Annotated[CallToolResult, AnswerJSON]:
        """Answer a question from the desk's news articles, quoting the sentences it rests on
        as numbered citations; when the articles do not say, a decline and related passages."""
        try:
            name = gateway.desk(desk, _current_grant())
            answer = await gateway.ask(name, question, turns(history or []))
        except Refusal as exc:
            raise ToolError(exc.message) from None
        structured = AnswerJSON.of(answer).model_dump(mode="json")
        return CallToolResult(
            content=[TextContent(type="text", text=answer_text(answer))],
            structured_content=structured,
        )

    @server.tool(annotations=read_only)
    async def search(
        query: Annotated[str, Field(min_length=1, description="A question or keywords.")],
        desk: Desk = None,
        limit: Annotated[
            int, Field(ge=1, le=MAX_SEARCH_PASSAGES, description="How many passages.")
        ] = 5,
    ) -> Annotated[CallToolResult, SearchResults]:
        """The passages of the desk's articles that bear on a query, best first, without an
        answer."""
        try:
            name = gateway.desk(desk, _current_grant())
            read, hits = await gateway.search(name, query, limit)
        except Refusal as exc:
            raise ToolError(exc.message) from None
        passages = [PassageJSON.of(n, hit) for n, hit in enumerate(hits, 1)]
        results = SearchResults(query=read, desk=name, passages=passages)
        return CallToolResult(
            content=[TextContent(type="text", text=passages_text(hits))],
            structured_content=results.model_dump(mode="json"),
        )

    for name in gateway.names:
        server.add_resource(
            FunctionResource.from_function(
                _sources_of(gateway, name),
                uri=SOURCES_URI.format(desk=name),
                name=f"{name}-sources",
                title=f"The {name} desk's articles",
                description=f"The articles the {name} desk answers from (JSON: source, title, "
                "url, published, passages).",
                mime_type="application/json",
            )
        )
    return server


def _sources_of(gateway: Gateway, desk: str) -> Any:
    async def sources() -> str:
        if not _current_grant().allows(desk):
            raise ResourceError(f"This token may not read the {desk} desk.")
        try:
            return (await gateway.sources(desk)).model_dump_json()
        except Refusal as exc:
            raise ResourceError(exc.message) from None

    return sources


async def _grant_of_the_request(ctx: Any, call_next: Any) -> Any:
    """MCP middleware: what the request may ask, from the token the HTTP door checked (over
    stdio, whoever started the process may ask everything); a resource list shows only the
    desks it may read."""
    scope = getattr(getattr(ctx, "request", None), "scope", None)
    grant = EVERY_DESK if scope is None else scope.get(GRANT_KEY)
    reset = _grant.set(grant)
    try:
        result = await call_next(ctx)
    finally:
        _grant.reset(reset)
    if ctx.method == "resources/list" and isinstance(result, dict) and grant is not None:
        # The chain hands back the result as it goes on the wire: a dict.
        listed = result.get("resources", [])
        result["resources"] = [r for r in listed if grant.allows(_desk_of(str(r.get("uri"))))]
    return result


def _desk_of(uri: str) -> str:
    return uri.removeprefix("factdesk://desks/").partition("/")[0]


def _current_grant() -> Grant:
    grant = _grant.get()
    if grant is None:  # an HTTP request that did not come through the token check: refuse
        raise ToolError("This request carries no grant.")
    return grant
