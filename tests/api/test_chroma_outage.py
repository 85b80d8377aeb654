"""The doors over a real `chroma run` server that goes away and comes back while they serve:
each door says so in a clean error, /healthz turns 503, and answers resume on their own."""

from __future__ import annotations

import anyio
import httpx
import openai
import pytest
from mcp import Client

from factdesk.desks import Desks
from factdesk.service import DeskPipelines
from tests.api.conftest import QUESTIONS, start
from tests.conftest import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.server]


def test_every_door_reports_the_outage_and_recovers(
    tmp_path, chroma_server, embedder, seed_pipeline
):
    settings = make_settings(
        tmp_path / "local", chroma_host="127.0.0.1", chroma_port=chroma_server.port
    )
    pipelines = DeskPipelines(settings, Desks.single(), embedder, seed_pipeline.reader, None)
    pipelines.pipeline("default")  # indexes the seed article into the server
    served = start(pipelines)
    chat = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
    question = {"question": QUESTIONS[0]}
    try:
        with httpx.Client(base_url=served.url, timeout=60) as api:
            assert api.post("/v1/ask", json=question).json()["answered"]
            chroma_server.stop()
            for reply in (
                api.post("/v1/ask", json=question),
                api.post("/v1/search", json={"query": "advisers"}),
            ):
                assert reply.status_code == 503, reply.text
                error = reply.json()["error"]
                assert error["code"] == "store_unavailable" and "try again" in error["message"]
                assert str(chroma_server.port) not in reply.text  # where it is stays in the log
            health = api.get("/healthz")
            assert health.status_code == 503
            assert health.json() == {"ok": False, "reason": "cannot reach the index"}
            with pytest.raises(openai.InternalServerError, match="store_unavailable"):
                chat.chat.completions.create(
                    model="factdesk", messages=[{"role": "user", "content": QUESTIONS[0]}]
                )
            assert "cannot be reached" in anyio.run(_mcp_text, served.url)

            chroma_server.start()
            assert api.get("/healthz").json() == {"ok": True}
            assert api.post("/v1/ask", json=question).json()["answered"]
    finally:
        served.stop()
        served.join()


async def _mcp_text(url: str) -> str:
    async with Client(f"{url}/mcp") as client:
        result = await client.call_tool("ask", {"question": QUESTIONS[0]})
        assert result.is_error
        return result.content[0].text
