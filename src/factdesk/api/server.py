"""Running `factdesk serve`: every check before the model loads, the model and every desk loaded
once, then uvicorn until SIGTERM or Ctrl-C, which lets the answers in flight finish; and running
`factdesk mcp`, the MCP tools over stdio.

The process model is the Slack bot's (bot/README.md): one process holds the model and answers
on threads; more processes or hosts, each a `factdesk serve`, share the index through a Chroma
server (FACTDESK_CHROMA_HOST), behind any load balancer. Nothing else is shared: a conversation
travels with each request (`history`, chat `messages`), and MCP over HTTP is stateless.
"""

from __future__ import annotations

import logging

import anyio
import uvicorn

from factdesk.api.access import Tokens, check_exposure, parse_tokens
from factdesk.api.gateway import Gateway
from factdesk.api.mcp_server import create_mcp
from factdesk.config import Settings
from factdesk.desks import load_desks
from factdesk.errors import ConfigError
from factdesk.serving import RedactSecrets, keep_out_of_logs, on_stop_signals, uvicorn_config

logger = logging.getLogger("factdesk.api")

# How long a stopping server lets the answers in flight finish (an LLM's answer may take up to
# FACTDESK_LLM_TIMEOUT on top): the Slack bot's figure.
SHUTDOWN_SECONDS = 10.0
# A backstop against a flood of connections, far above what the question bounds let through:
# past it uvicorn answers 503 itself.
MAX_CONNECTIONS = 1000


def serve(settings: Settings, host: str | None, port: int) -> None:
    """Serve the API, MCP and chat on `host` (FACTDESK_HTTP_HOST unless given) and `port`,
    answering from `settings.desk` when a request names no desk."""
    host = host or settings.http_host
    tokens = parse_tokens(settings.api_tokens, load_desks(settings).names)
    check_exposure(host, tokens)
    quiet_libraries(settings, tokens)
    from factdesk.api.app import create_app  # FastAPI: only the HTTP server imports it

    app = create_app(load_gateway(settings), tokens, host)
    server = uvicorn.Server(config(app, host, port, shutdown_seconds(settings)))
    # uvicorn turns SIGTERM and SIGINT into a graceful stop, then raises the signal again to the
    # handler it found: this one lets the process end normally (exit 0), as the bot does.
    with on_stop_signals(lambda *_: None):
        server.run()
    if not server.started:
        raise ConfigError(f"Could not listen on {host}:{port} (see the error above).")


def load_gateway(settings: Settings) -> Gateway:
    """Every desk's pipeline (one model, one reader), behind the bounds of FACTDESK_API_*."""
    from factdesk.service import load_desk_pipelines

    desks = load_desks(settings)
    if settings.desk not in desks.names:
        raise ConfigError(
            f"There is no {settings.desk!r} desk in {settings.desks_file} "
            f"(desks: {', '.join(desks.names)})."
        )
    pipelines = load_desk_pipelines(settings, desks, notify=logger.info)
    return Gateway(pipelines, settings.desk, settings.api_concurrency, settings.api_queue)


def config(app, host: str, port: int, shutdown: float = SHUTDOWN_SECONDS) -> uvicorn.Config:
    """uvicorn's settings for `factdesk serve`, at most MAX_CONNECTIONS at once."""
    return uvicorn_config(app, host, port, shutdown, MAX_CONNECTIONS)


def shutdown_seconds(settings: Settings) -> float:
    return SHUTDOWN_SECONDS + (settings.llm_timeout if settings.uses_llm else 0.0)


def quiet_libraries(settings: Settings, tokens: Tokens | None = None) -> None:
    """Logging on stderr with the API tokens (and the LLM's key) redacted; the MCP SDK's line
    per request only at DEBUG."""
    secrets = tokens.secrets if tokens else []
    if settings.llm_api_key is not None:
        secrets.append(settings.llm_api_key.get_secret_value())
    keep_out_of_logs(settings.log_level, RedactSecrets(secrets))
    if settings.log_level != "DEBUG":
        logging.getLogger("mcp").setLevel(logging.WARNING)


def serve_stdio(settings: Settings) -> None:
    """`factdesk mcp`: load every desk once, then speak MCP on stdin and stdout until the client
    closes them. Progress and logs go to stderr: stdout is the protocol's."""
    quiet_libraries(settings)
    server = create_mcp(load_gateway(settings))
    anyio.run(server.run_stdio_async)
