"""The `factdesk serve` and `factdesk mcp` commands: what stops them before the model loads,
and the real `factdesk serve` process under benchmarks/api_load.py's load, stopped by SIGTERM."""

from __future__ import annotations

import os

import pytest

from tests.conftest import SEEDS, invoke_factdesk


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
    }


def assert_one_line_error(ran, code: int, text: str) -> None:
    assert ran.returncode == code, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], lines


def test_any_address_but_loopback_needs_tokens(env):
    ran = invoke_factdesk("serve", "--host", "0.0.0.0", env=env)
    assert_one_line_error(ran, 2, "Refusing to listen on 0.0.0.0 without FACTDESK_API_TOKENS")
    ran = invoke_factdesk("serve", env={**env, "FACTDESK_HTTP_HOST": "0.0.0.0"})
    assert_one_line_error(ran, 2, "Refusing to listen on 0.0.0.0")


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        ("tiny-secret", "token 1 is shorter than 16 characters"),
        ("a-long-enough-secret-token=sports", "unknown desk 'sports'"),
    ],
)
def test_a_bad_token_setting_stops_it_without_showing_the_token(env, tokens, text):
    ran = invoke_factdesk("serve", env={**env, "FACTDESK_API_TOKENS": tokens})
    assert_one_line_error(ran, 2, text)
    assert tokens.partition("=")[0] not in ran.stderr + ran.stdout


@pytest.mark.parametrize("command", ["serve", "mcp"])
def test_an_unknown_desk_stops_it(env, command):
    ran = invoke_factdesk(command, "--desk", "sports", env=env)
    assert_one_line_error(ran, 2, "There is no 'sports' desk")


@pytest.mark.slow
def test_the_real_command_answers_under_load_and_stops_cleanly(
    benchmark_script, tmp_path, seed_index
):
    # The server starts on tmp_path/index: seed_index put the seed article's index there.
    load = benchmark_script("api_load")
    result = load.run_server_load(tmp_path, clients=3, seconds=2)
    assert result["error_samples"] == [] and result["log_errors"] == []
    assert result["answers"] == result["requests"] > 0
    assert result["exit_status"] == 0  # SIGTERM: a graceful stop
    assert not result["token_in_log"]
