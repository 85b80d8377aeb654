"""One settings object for the whole product, read from the environment and `.env`.

Every setting carries its description here; `.env.example` and the README's settings table are
generated from them (see docs.py). The object is created once by the entry point (CLI or bot)
and passed explicitly to everything that needs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from factdesk.errors import ConfigError
from factdesk.project import find_home, no_project

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Everything factdesk can be told, with defaults that work on a fresh checkout."""

    model_config = SettingsConfigDict(
        env_prefix="FACTDESK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path | None = Field(
        default=None,
        description="The project folder: relative paths and `.env` are read there. Empty: the "
        "checkout (factdesk's pyproject.toml) at or above the working folder.",
    )
    seeds_dir: Path = Field(
        default=Path("seeds"),
        description="Folder `factdesk index` reads when given no path, and that `ask` indexes "
        "when the index is empty.",
    )
    index_dir: Path = Field(
        default=Path("index"),
        description="Folder of the embedded Chroma store (also holds the index lock, the "
        "keyword index and the bot's database).",
    )
    collection: str = Field(
        default="factdesk",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,52}[A-Za-z0-9]$",
        description="Chroma collection name (letters, digits, dots, dashes, underscores; "
        "3-54 characters).",
    )
    desk: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9-]{0,29}$",
        description="The desk terminal commands use (`--desk` overrides it): its own sources "
        "and collection.",
    )
    desks_file: Path = Field(
        default=Path("desks.toml"),
        description="The desks: their sources and Slack channels (bot/README.md); missing: "
        "the default desk alone.",
    )
    chroma_host: str | None = Field(
        default=None,
        description="A Chroma server's host (or URL) instead of the embedded store. It has no "
        "authentication: keep it on 127.0.0.1 or behind an authenticating proxy.",
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535, description="The Chroma server's port.")
    max_file_mb: float = Field(
        default=5.0,
        gt=0,
        description="Files and fetched pages or feeds larger than this (in MB) are skipped "
        "with a warning.",
    )
    follow_outside_links: bool = Field(
        default=False,
        description="Index the files that symbolic links in an indexed folder point to outside "
        "it; off, such links are skipped with a warning (a link to /etc/shadow is not read).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Folder for the ONNX export of the embedding model (and, with a Chroma "
        "server, the keyword index). Empty: $XDG_CACHE_HOME/factdesk, else ~/.cache/factdesk.",
    )

    fetch_timeout: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Seconds a request may take in all (connecting, redirects, the server's "
        "headers and the page); slower ones fail.",
    )
    fetch_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries of a request answered 429 or 5xx: after the server's Retry-After, "
        "else 1, 2, 4 ... s.",
    )
    feed_max_items: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Items read from one feed per run, the newest first (by their dates, else "
        "in the feed's order); a longer feed is cut, with a warning.",
    )
    fetch_allow_private: bool = Field(
        default=False,
        description="Fetch from loopback, private, link-local (cloud metadata) and reserved "
        "addresses too; off, they are refused, after redirects as well. For intranets and tests.",
    )

    model_path: str | None = Field(
        default=None,
        description="Folder of a sentence-transformers model; empty: the bundled all-MiniLM-L6-v2.",
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="fp32 (the same vectors as sentence-transformers) or int8 (faster to "
        "index, a little less accurate; see README, Quality and speed).",
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        le=250,
        description="Word pieces per passage, title included (the model reads at most 256, "
        "markers included).",
    )
    chunk_overlap_tokens: int = Field(
        default=48,
        ge=0,
        le=128,
        description="Word pieces of whole sentences repeated at the start of the next passage.",
    )

    top_k: int = Field(default=3, ge=1, le=20, description="Passages cited per answer.")
    candidates: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Candidates each side (dense, keyword) contributes before fusion.",
    )
    dense_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the dense side in the fused score (the keyword side gets the "
        "rest); tuned on SciFact's train claims.",
    )
    bm25_k1: float = Field(default=0.9, gt=0.0, description="BM25 k1 of the keyword side.")
    bm25_b: float = Field(default=0.4, ge=0.0, le=1.0, description="BM25 b of the keyword side.")
    reader: Literal["none", "trained"] = Field(
        default="trained",
        description="`trained`: the span reader in the package (a short answer, a calibrated "
        "confidence); `none`: the sentence pre-rank alone (see README, How it works).",
    )
    min_confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Below this confidence factdesk declines (empty: the reader's threshold, on "
        "its model card; without the reader a cosine of 0.22). Lower answers more, and more "
        "wrongly.",
    )
    recency_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="On questions about the current state (now, still, remain, latest...), "
        "the share of its score an older article's passage can lose (0: recency off).",
    )
    recency_half_life_days: float = Field(
        default=90.0,
        gt=0,
        description="Days of age over which an older passage loses half of that share.",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Questions longer than this are cut, with a warning."
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads for the models (empty: one per core); while another question is "
        "being read, the reader runs on one.",
    )
    conversation_minutes: float = Field(
        default=30.0,
        gt=0,
        description="A direct message to the bot is read as a follow-up to the exchanges of "
        "the last this many minutes.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any other value is refused).",
    )

    llm_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+/v1/?$",
        description="Base URL of an OpenAI-compatible API, ending in /v1 (Ollama, vLLM, "
        "llama.cpp, OpenAI); its answers are checked against the passages they cite.",
    )
    llm_model: str | None = Field(
        default=None, description="The model name the endpoint knows. Needed with the URL."
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key, if the endpoint wants one. A secret: never printed or logged.",
    )
    llm_timeout: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Seconds a question may wait for the LLM in all (condensing a follow-up "
        "and answering), after which the quoted answer is given.",
    )

    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_BOT_TOKEN",
        description="Bot User OAuth Token (OAuth & Permissions in the app's settings). "
        "Always needed by `factdesk slack`.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_APP_TOKEN",
        description="App-level token with the connections:write scope (Basic Information > "
        "App-Level Tokens). Needed in Socket Mode, the default.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_SIGNING_SECRET",
        description="Signing Secret (Basic Information > App Credentials). Needed by "
        "`factdesk slack --http`, which refuses every request not signed with it.",
    )
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL,
        validation_alias="SLACK_API_URL",
        description="Base URL of the Slack Web API: change it only for a proxy (or a fake "
        "Slack in tests); response_url replies go to its host too.",
    )
    http_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="The address `factdesk slack --http` and `factdesk serve` listen on "
        "(`--host` overrides it). Loopback: put an HTTPS reverse proxy in front; in a container, "
        "0.0.0.0 (`serve` then needs FACTDESK_API_TOKENS).",
    )
    slack_admins: str = Field(
        default="",
        description="Slack user IDs (U0123ABCD, comma-separated) who may `/factdesk add` and "
        "`remove` sources; empty: nobody.",
    )
    refresh_minutes: float = Field(
        default=60.0,
        ge=0,
        description="The bot fetches desks' URLs and feeds again this often, on one replica "
        "(0: never).",
    )
    redis_url: str | None = Field(
        default=None,
        pattern=r"^(redis|rediss|unix)://\S+$",
        description="Bots on several hosts: redis://host:6379/0 keeps their memory (events "
        "seen, threads, added sources) in Redis. Empty: SQLite beside the index (one host).",
    )

    api_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens `factdesk serve` accepts, comma-separated, each of 16 "
        "characters or more; `TOKEN=energy+politics` limits one to those desks. Needed to "
        "listen on any address but loopback. Secrets: never printed or logged.",
    )
    api_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Questions `factdesk serve` (or `mcp`) answers at once, over the API, MCP "
        "and chat together (each on a thread); with an LLM, more (its answers mostly wait).",
    )
    api_queue: int = Field(
        default=32,
        ge=0,
        le=10000,
        description="Questions that may wait for one of those; past them a request gets 429 "
        "Too Many Requests at once.",
    )

    @model_validator(mode="before")
    @classmethod
    def _host_given_as_url(cls, data: object) -> object:
        """`http://localhost:8000` is read as host `localhost`, port 8000."""
        if not isinstance(data, dict):
            return data
        host = data.get("chroma_host")
        if isinstance(host, str) and "://" in host:
            from urllib.parse import urlsplit

            parts = urlsplit(host.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{host!r} is not a host name or an http(s) URL")
            data = {**data, "chroma_host": parts.hostname}
            if parts.port:
                data["chroma_port"] = parts.port
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object, info: ValidationInfo) -> object:
        """An empty value (`FACTDESK_THREADS=`, as .env.example writes it) means the default,
        for every setting whose default is unset."""
        blank = isinstance(value, str) and not value.strip()
        unset = info.field_name is not None and cls.model_fields[info.field_name].default is None
        return None if blank and unset else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        """`info` is as good as `INFO`; anything else is refused before logging is set up."""
        return value.strip().upper() if isinstance(value, str) else value

    def in_project(self, home: Path | None, cwd: Path) -> Settings:
        """These settings with their relative paths read against the project folder; without
        one, the seeds and index folders must be given as absolute paths."""
        relative = {
            name: value
            for name in PROJECT_PATHS
            if (value := getattr(self, name)) is not None and not value.is_absolute()
        }
        if home is None:
            if relative.keys() & {"seeds_dir", "index_dir"}:
                raise no_project(cwd)
            return self
        return self.model_copy(
            update={"home": home, **{name: home / value for name, value in relative.items()}}
        )

    @property
    def collection_name(self) -> str:
        """The desk's Chroma collection: the default desk keeps the plain name."""
        return self.collection if self.desk == "default" else f"{self.collection}-{self.desk}"

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_admins.split(",") if u.strip())

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def uses_llm(self) -> bool:
        return self.llm_url is not None

    @property
    def cache_path(self) -> Path:
        return self.cache_dir or default_cache_dir()

    @property
    def uses_chroma_server(self) -> bool:
        return self.chroma_host is not None

    @property
    def store_description(self) -> str:
        """Where the index lives, in words a user can act on."""
        if self.uses_chroma_server:
            return f"Chroma server at {self.chroma_host}:{self.chroma_port}"
        return f"embedded Chroma at {shown_path(self.index_dir)}"


# Settings that name a file or folder: a relative one is read against the project folder.
PROJECT_PATHS = ("seeds_dir", "index_dir", "desks_file", "cache_dir")

# Headings of the generated docs (.env.example, README): the first setting of each group.
SECTIONS = {
    "home": "Articles and index",
    "fetch_timeout": "Fetching article URLs and feeds (`factdesk index URL ...`)",
    "model_path": "Model and chunking (changing these requires `factdesk index --rebuild`)",
    "top_k": "Retrieval and answers",
    "llm_url": "Optional LLM answers (unset: answers are quoted from the articles)",
    "slack_bot_token": "Slack (tokens are secrets: keep them in .env, never in git)",
    "api_tokens": "The API, MCP and chat server (`factdesk serve`, `factdesk mcp`)",
}


def env_name(name: str) -> str:
    """The environment variable of a setting."""
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else f"FACTDESK_{name.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, the project folder's `.env` and overrides, as a
    user-facing error if bad: the error names the variable, its value (secrets masked) and where
    it came from. Unknown FACTDESK_ variables are warned about, with the closest known name.
    Relative paths are read against the project folder (`home`, else see project.py)."""
    for warning in unknown_variables(os.environ):
        logging.getLogger("factdesk.config").warning(warning)
    cwd = Path.cwd()
    given = overrides.get("home")  # a script that knows its project (benchmarks/)
    home = Path(given).resolve() if given else find_home(os.environ, cwd)
    overrides.setdefault("_env_file", home / ".env" if home else ".env")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        if field not in Settings.model_fields:
            raise ConfigError(f"Invalid setting {field}: {first['msg']}") from None
        name = env_name(field)
        where = "in the environment" if name in os.environ else "in .env"
        if field in overrides:
            where = "as given"
        value = (
            os.environ.get(name, first.get("input")) if where != "as given" else overrides[field]
        )
        shown = "****" if _secret(field) else repr(value)
        raise ConfigError(f"Invalid setting {name}={shown} ({where}): {first['msg']}") from None
    return settings.in_project(home, cwd)


def _secret(field: str) -> bool:
    annotation = str(Settings.model_fields[field].annotation)
    return "SecretStr" in annotation or any(w in field for w in ("token", "secret", "key"))


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each FACTDESK_ variable no setting reads, with the closest known name."""
    import difflib

    known = {env_name(name) for name in Settings.model_fields}
    warnings = []
    for variable in sorted(environ):
        if variable.startswith("FACTDESK_") and variable not in known:
            close = difflib.get_close_matches(variable, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"{variable} is not a factdesk setting and is ignored{hint}")
    return warnings


def shown_path(path: Path) -> str:
    """A path as short as it can be said: relative to the working folder when inside it."""
    try:
        return path.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return path.as_posix()


def default_cache_dir() -> Path:
    """Where exported models are kept: $XDG_CACHE_HOME/factdesk, else ~/.cache/factdesk."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "factdesk"
