"""The JSON API over loopback with httpx: the same answers as `factdesk ask --json`, follow-ups,
streaming, search, sources, status and the OpenAPI schema."""

from __future__ import annotations

import json

import httpx
import pytest

from factdesk.answer.schema import AnswerJSON, CitationJSON
from tests.api.conftest import FIRST, FOLLOW_UP, QUESTIONS
from tests.conftest import SEED_QUESTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def test_the_questions_are_seed_questions():
    lines = SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()
    assert set(QUESTIONS) <= {json.loads(line)["question"] for line in lines}


def test_answers_are_those_of_ask_json(api, ask_json):
    for question in QUESTIONS:
        reply = api.post("/v1/ask", json={"question": question})
        assert reply.status_code == 200, reply.text
        assert reply.json() == ask_json[question]
    answered = [ask_json[q] for q in QUESTIONS]
    assert all(a["answered"] and a["citations"] for a in answered[:-1])
    assert not answered[-1]["answered"]  # the capital of France is not in the article


def test_a_follow_up_is_read_with_its_history(api, ask_json):
    first = api.post("/v1/ask", json={"question": FIRST}).json()
    history = [{"question": FIRST, "answer": first["answer"]}]
    reply = api.post("/v1/ask", json={"question": FOLLOW_UP, "history": history})
    assert reply.status_code == 200, reply.text
    assert reply.json() == ask_json[FOLLOW_UP]
    assert reply.json()["standalone_question"]  # read as a question about the ambassador


def test_a_streamed_answer_ends_with_the_answer_event(api, ask_json):
    question = QUESTIONS[0]
    with api.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = _events(reply.iter_lines())
    # Without an LLM nothing is written piece by piece: the answer comes whole.
    assert [name for name, _ in events] == ["answer"]
    assert events[-1][1] == ask_json[question]


def test_top_k_bounds_the_citations(api):
    reply = api.post("/v1/ask", json={"question": QUESTIONS[0], "top_k": 1})
    assert len(reply.json()["citations"]) == 1


def test_search_returns_passages_best_first(api):
    reply = api.post("/v1/search", json={"query": "Rostec defense advisers", "limit": 2})
    assert reply.status_code == 200, reply.text
    results = reply.json()
    assert results["desk"] == "default" and results["query"] == "Rostec defense advisers"
    passages = results["passages"]
    assert [p["n"] for p in passages] == [1, 2]
    assert passages[0]["score"] >= passages[1]["score"]
    assert "Rostec" in passages[0]["passage"] and passages[0]["source"].endswith(".txt")
    assert passages[0]["end"] - passages[0]["start"] >= len(passages[0]["passage"]) // 2


def test_sources_and_status_describe_the_desks(api):
    sources = api.get("/v1/sources").json()
    assert sources["desk"] == "default"
    (article,) = sources["articles"]
    assert article["source"].startswith("seeds/") and article["passages"] == 3
    assert api.get("/v1/sources", params={"desk": "empty"}).json()["articles"] == []
    status = api.get("/v1/status").json()
    assert status["default_desk"] == "default" and status["reader"] and status["llm"] is False
    assert [(d["name"], d["articles"]) for d in status["desks"]] == [("default", 1), ("empty", 0)]


def test_healthz(api):
    assert api.get("/healthz").json() == {"ok": True}
    assert api.head("/healthz").status_code == 200


def test_the_openapi_schema_documents_every_answer_field_as_ask_json_does(api):
    schema = api.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/sources", "/v1/status", "/v1/chat/completions"} <= set(
        schema["paths"]
    )
    components = schema["components"]["schemas"]
    for model in (AnswerJSON, CitationJSON):
        documented = components[model.__name__]["properties"]
        assert set(documented) == set(model.model_fields)
        for name, field in model.model_fields.items():
            assert documented[name]["description"] == field.description
    assert "bearer" in json.dumps(schema["components"]["securitySchemes"]).lower()


def _events(lines) -> list[tuple[str, dict]]:
    """Server-sent events as (name, data) pairs."""
    events, name = [], "message"
    for line in lines:
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.partition(":")[2])))
            name = "message"
    return events
