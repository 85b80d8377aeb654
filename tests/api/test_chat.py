"""The OpenAI-compatible door with the `openai` client itself, streamed and not: the answers of
`factdesk ask --json`, with their citations as text."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from factdesk.api.text import first_paragraph
from tests.api.conftest import FIRST, FOLLOW_UP, QUESTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    # Any key: a loopback server without FACTDESK_API_TOKENS reads none (Open WebUI sends one).
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def ask(client: openai.OpenAI, messages: list[dict], model: str = "factdesk-default") -> str:
    reply = client.chat.completions.create(model=model, messages=messages)
    (choice,) = reply.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert reply.model == ("factdesk-default" if model == "factdesk" else model)  # the desk asked
    return choice.message.content or ""


def test_one_model_per_desk(client):
    assert [model.id for model in client.models.list()] == ["factdesk-default", "factdesk-empty"]


def test_replies_are_the_answers_of_ask_json_with_their_citations(client, ask_json):
    for question in QUESTIONS:
        expected = ask_json[question]
        text = ask(client, [{"role": "system", "content": "Be brief."}, user(question)])
        assert first_paragraph(text) == expected["answer"]
        for citation in expected["citations"]:
            assert f"**[{citation['n']}]**" in text and citation["quote"] in text
        assert ("**Sources**" in text) == expected["answered"]


def test_a_streamed_reply_is_the_same_text_in_chunks_then_done(client):
    messages = [user(QUESTIONS[0])]
    whole = ask(client, messages)
    stream = client.chat.completions.create(
        model="factdesk-default", messages=messages, stream=True
    )
    chunks = list(stream)  # the client stops at [DONE]
    assert len(chunks) > 2 and chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == whole


def test_earlier_turns_are_the_history_of_the_last_question(client, ask_json):
    first = ask(client, [user(FIRST)])
    text = ask(client, [user(FIRST), {"role": "assistant", "content": first}, user(FOLLOW_UP)])
    assert first_paragraph(text) == ask_json[FOLLOW_UP]["answer"]


def test_the_plain_model_name_asks_the_default_desk(client, ask_json):
    assert (
        first_paragraph(ask(client, [user(QUESTIONS[0])], model="factdesk"))
        == (ask_json[QUESTIONS[0]]["answer"])
    )


def test_refusals_arrive_as_the_clients_own_errors(client):
    with pytest.raises(openai.NotFoundError, match="model_not_found"):
        client.chat.completions.create(model="gpt-4o", messages=[user("Hello?")])
    with pytest.raises(openai.UnprocessableEntityError, match="last message"):
        client.chat.completions.create(
            model="factdesk", messages=[user("Hi"), {"role": "assistant", "content": "Hello"}]
        )
    with pytest.raises(openai.ConflictError, match="empty_index"):
        client.chat.completions.create(model="factdesk-empty", messages=[user("Anything?")])
    assert ask(client, [user(QUESTIONS[0])])  # and it goes on answering


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_a_request_shaped_as_open_webui_sends_it(server, ask_json):
    """What Open WebUI's backend posts (its headers, sampling and streaming options, a system
    prompt, the last message as content parts), read as its frontend reads the stream."""
    body = {
        "model": "factdesk-default",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.8,
        "max_tokens": 512,
        "metadata": {"chat_id": "c1"},
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": QUESTIONS[1], "cache_control": {"type": "ephemeral"}}
                ],
            },
        ],
    }
    headers = {"Authorization": "Bearer sk-anything", "X-OpenWebUI-User-Name": "Ana"}
    text, done = "", False
    with httpx.stream(
        "POST", f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            for choice in json.loads(line.removeprefix("data: "))["choices"]:
                text += choice["delta"].get("content") or ""
    assert done and first_paragraph(text) == ask_json[QUESTIONS[1]]["answer"]
