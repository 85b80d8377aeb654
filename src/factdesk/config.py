"""One settings object for the whole product, read from the environment and `.env`.

Every setting is documented in `.env.example`. The object is created once by the entry point
(CLI or bot) and passed explicitly to everything that needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from factdesk.errors import ConfigError

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

    # Where articles come from and where the index lives.
    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    collection: str = Field(
        default="factdesk", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,52}[A-Za-z0-9]$"
    )
    chroma_host: str | None = None
    chroma_port: int = Field(default=8000, ge=1, le=65535)

    # Exported models and, for a Chroma server, its keyword index; empty means ~/.cache/factdesk.
    cache_dir: Path | None = None

    # Model and chunking. Changing any of these requires `factdesk index --rebuild`.
    model_path: str | None = None
    embedding_precision: Literal["fp32", "int8"] = "fp32"
    chunk_tokens: int = Field(default=200, ge=32, le=250)
    chunk_overlap_tokens: int = Field(default=48, ge=0, le=128)
    max_file_mb: float = Field(default=5.0, gt=0)

    # Fetching article URLs and feeds.
    fetch_timeout: float = Field(default=20.0, gt=0, le=600)
    fetch_retries: int = Field(default=3, ge=0, le=10)

    # Retrieval and answers.
    top_k: int = Field(default=3, ge=1, le=20)
    candidates: int = Field(default=50, ge=1, le=1000)
    dense_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    bm25_k1: float = Field(default=0.9, gt=0.0)
    bm25_b: float = Field(default=0.4, ge=0.0, le=1.0)
    # Below this reader confidence factdesk declines; unset, the threshold tuned with the reader.
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    # Recency: on questions about the current state, older articles' passages lose up to
    # `recency_weight` of their score, half of it per `recency_half_life_days` of age.
    recency_half_life_days: float = Field(default=90.0, gt=0)
    recency_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=2000, ge=10)
    threads: int | None = Field(default=None, ge=1)

    # Slack. Tokens are secrets: they are never printed or logged.
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    # HTTP mode: the address `factdesk slack --http` listens on (loopback unless told otherwise;
    # 0.0.0.0 in a container, where the port is published by the container runtime).
    http_host: str = Field(default="127.0.0.1", min_length=1)
    # Bots on several hosts: a Redis server holding the events seen and the thread memory, so
    # that no event is answered twice whichever host receives it. Unset: SQLite beside the index.
    redis_url: str | None = Field(default=None, pattern=r"^(redis|rediss|unix)://\S+$")

    # Conversations: how long a direct-message exchange counts as one conversation.
    conversation_minutes: float = Field(default=30.0, gt=0)

    # An optional LLM behind an OpenAI-compatible API (unset: extractive answers only). The key
    # is a secret: it is never printed or logged.
    llm_url: str | None = Field(default=None, pattern=r"^https?://\S+/v1/?$")
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=20.0, gt=0, le=600)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("chroma_host", mode="before")
    @classmethod
    def _blank_host_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_url", "llm_model", "llm_api_key", "redis_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        """`info` is as good as `INFO`; anything else is refused before logging is set up."""
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def uses_llm(self) -> bool:
        return self.llm_url is not None

    @property
    def cache_path(self) -> Path:
        from factdesk.embeddings import default_cache_dir

        return self.cache_dir or default_cache_dir()

    @property
    def uses_chroma_server(self) -> bool:
        return self.chroma_host is not None

    @property
    def store_description(self) -> str:
        """Where the index lives, in words a user can act on."""
        if self.uses_chroma_server:
            return f"Chroma server at {self.chroma_host}:{self.chroma_port}"
        return f"embedded Chroma at {self.index_dir}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, `.env` and overrides, as a user-facing error if bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        name = f"FACTDESK_{field.upper()}" if field in Settings.model_fields else field
        raise ConfigError(f"Invalid setting {name}: {first['msg']}") from None
