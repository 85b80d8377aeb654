"""The MCP door with the official SDK's own client: over Streamable HTTP inside `factdesk serve`'s
app, and over stdio from a real `factdesk mcp` process, as a desktop client starts it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.api.conftest import (
    DEFAULT_ONLY,
    FIRST,
    FOLLOW_UP,
    FULL_TOKEN,
    QUESTIONS,
    copy_index,
)
from tests.conftest import REPO, SEEDS

pytestmark = pytest.mark.slow


def with_token(url: str, token: str) -> Client:
    """A client sending `Authorization: Bearer token`, as a remote MCP client is configured."""
    headers = {"Authorization": f"Bearer {token}"}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)))


def test_tools_answer_as_ask_json_with_citations_as_structured_content(server, ask_json):
    async def session() -> None:
        async with Client(f"{server.url}/mcp") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == {"ask", "search"}
            assert "citations" in tools["ask"].output_schema["properties"]
            assert tools["ask"].annotations.read_only_hint
            for question in QUESTIONS:
                result = await client.call_tool("ask", {"question": question})
                assert not result.is_error
                assert result.structured_content == ask_json[question]
                (text,) = result.content
                assert text.text.startswith(ask_json[question]["answer"])
            first = await client.call_tool("ask", {"question": FIRST})
            history = [{"question": FIRST, "answer": first.structured_content["answer"]}]
            follow_up = await client.call_tool("ask", {"question": FOLLOW_UP, "history": history})
            assert follow_up.structured_content == ask_json[FOLLOW_UP]

    anyio.run(session)


def test_search_and_the_desks_sources(server):
    async def session() -> None:
        async with Client(f"{server.url}/mcp") as client:
            found = await client.call_tool("search", {"query": "Rostec advisers", "limit": 2})
            assert not found.is_error
            passages = found.structured_content["passages"]
            assert len(passages) == 2 and "Rostec" in passages[0]["passage"]
            listed = (await client.list_resources()).resources
            uris = sorted(str(resource.uri) for resource in listed)
            assert uris == ["factdesk://desks/default/sources", "factdesk://desks/empty/sources"]
            read = await client.read_resource("factdesk://desks/default/sources")
            (article,) = json.loads(read.contents[0].text)["articles"]
            assert article["source"].startswith("seeds/")

    anyio.run(session)


def test_bad_calls_are_tool_errors_and_the_server_goes_on(server, ask_json):
    async def session() -> None:
        async with Client(f"{server.url}/mcp") as client:
            for arguments, text in [
                ({"question": "x", "desk": "nope"}, "no 'nope' desk"),
                ({"question": "Anything?", "desk": "empty"}, "index is empty"),
                ({"question": 42}, "valid string"),
                ({"question": "x" * 3000}, "at most 2,000"),
            ]:
                result = await client.call_tool("ask", arguments)
                assert result.is_error and text in result.content[0].text, result.content
            result = await client.call_tool("ask", {"question": QUESTIONS[0]})
            assert result.structured_content == ask_json[QUESTIONS[0]]

    anyio.run(session)


def test_the_handshake_era_protocol_works_too(server, ask_json):
    async def session() -> None:
        async with Client(f"{server.url}/mcp", mode="legacy") as client:
            result = await client.call_tool("ask", {"question": QUESTIONS[1]})
            assert result.structured_content == ask_json[QUESTIONS[1]]

    anyio.run(session)


def test_a_token_limits_the_desks_a_client_sees_and_asks(guarded, ask_json):
    url = f"{guarded.url}/mcp"

    async def session() -> None:
        async with with_token(url, DEFAULT_ONLY) as client:
            listed = (await client.list_resources()).resources
            assert [str(r.uri) for r in listed] == ["factdesk://desks/default/sources"]
            refused = await client.call_tool("ask", {"question": "x", "desk": "empty"})
            assert refused.is_error and "may not ask the 'empty' desk" in refused.content[0].text
            result = await client.call_tool("ask", {"question": QUESTIONS[0]})
            assert result.structured_content == ask_json[QUESTIONS[0]]
        async with with_token(url, FULL_TOKEN) as client:
            assert len((await client.list_resources()).resources) == 2

    anyio.run(session)


def test_factdesk_mcp_answers_over_stdio(seed_settings, tmp_path, ask_json):
    settings = copy_index(seed_settings, tmp_path)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FACTDESK_", "SLACK_"))},
        "FACTDESK_INDEX_DIR": str(settings.index_dir),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
    }
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "factdesk", "mcp"], env=environment, cwd=REPO
    )
    log = tmp_path / "stderr.log"

    async def session() -> None:
        with log.open("w") as errors:
            async with Client(stdio_client(parameters, errlog=errors)) as client:
                assert client.server_info and client.server_info.name == "factdesk"
                for question in QUESTIONS[:2]:
                    result = await client.call_tool("ask", {"question": question})
                    assert result.structured_content == ask_json[question]

    anyio.run(session)
    assert "Traceback" not in Path(log).read_text()
