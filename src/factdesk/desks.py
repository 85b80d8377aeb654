"""Desks: named sets of sources, each in its own Chroma collection, and the Slack channels each
one answers in.

They are declared in one TOML file (FACTDESK_DESKS_FILE, `desks.toml` by default)::

    [desks.energy]
    sources = ["https://example.com/oil.rss", "articles/energy"]
    channels = ["C0123ENERGY"]

A channel named by no desk answers from the default desk, and a missing file means the default
desk alone: what factdesk did before desks existed. Sources added from Slack are kept in the
bot's memory, beside these.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from factdesk.config import Settings
from factdesk.errors import ConfigError

DEFAULT = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")


@dataclass(frozen=True)
class Desk:
    """One desk: its name, the sources `factdesk index --desk NAME` reads, its channels."""

    name: str
    sources: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Desks:
    """Every desk, the default one included, and which desk answers in which channel."""

    desks: dict[str, Desk]

    @property
    def names(self) -> list[str]:
        return list(self.desks)

    def get(self, name: str) -> Desk:
        """The desk called `name`; one not in the file is a desk without declared sources."""
        return self.desks.get(name) or Desk(name)

    def for_channel(self, channel: str) -> Desk:
        for desk in self.desks.values():
            if channel in desk.channels:
                return desk
        return self.desks[DEFAULT]

    @classmethod
    def single(cls) -> Desks:
        return cls({DEFAULT: Desk(DEFAULT)})


def settings_for(settings: Settings, desk: str) -> Settings:
    """The settings for answering from, or indexing into, `desk`."""
    if not NAME.match(desk):
        raise ConfigError(
            f"{desk!r} is not a desk name: use lowercase letters, digits and hyphens (at most 30)."
        )
    return settings if settings.desk == desk else settings.model_copy(update={"desk": desk})


def check_desk(settings: Settings) -> None:
    """A ConfigError unless `settings.desk` is the default desk or one in the desks file."""
    desks = load_desks(settings)
    if settings.desk not in desks.desks:
        raise ConfigError(
            f"There is no {settings.desk!r} desk in {settings.desks_file} "
            f"(desks: {', '.join(desks.names)})."
        )


def index_targets(settings: Settings) -> list[str]:
    """What `factdesk index` reads when given nothing: the desk's sources in the desks file;
    without any, the seeds folder for the default desk (and an error for another)."""
    sources = load_desks(settings).get(settings.desk).sources
    if sources:
        return list(sources)
    if settings.desk == DEFAULT:
        return [str(settings.seeds_dir)]
    raise ConfigError(
        f"The {settings.desk} desk lists no sources in {settings.desks_file}: name what to "
        f"index, or list them under [desks.{settings.desk}] there."
    )


def load_desks(settings: Settings) -> Desks:
    """The desks in FACTDESK_DESKS_FILE; a missing file means the default desk alone. A file
    that cannot be used is a one-line ConfigError naming it."""
    path = Path(settings.desks_file)
    if not path.exists():
        return Desks.single()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read the desks file {path}: {exc}") from None
    unknown = set(data) - {"desks"}
    if unknown:
        raise ConfigError(f"{path}: unknown table {sorted(unknown)[0]!r}; desks go in [desks.NAME]")
    table = data.get("desks", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `desks` must be a table of [desks.NAME] tables")
    desks = {DEFAULT: Desk(DEFAULT)}
    owner: dict[str, str] = {}
    for name, entry in table.items():
        desk = _desk(path, name, entry)
        for channel in desk.channels:
            if channel in owner:
                raise ConfigError(
                    f"{path}: channel {channel} is mapped to both {owner[channel]!r} and {name!r}"
                )
            owner[channel] = name
        desks[name] = desk
    return Desks(desks)


def _desk(path: Path, name: str, entry: object) -> Desk:
    if not NAME.match(name):
        raise ConfigError(
            f"{path}: {name!r} is not a desk name (lowercase letters, digits and hyphens)"
        )
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: [desks.{name}] must be a table")
    unknown = set(entry) - {"sources", "channels"}
    if unknown:
        raise ConfigError(
            f"{path}: [desks.{name}] has an unknown key {sorted(unknown)[0]!r} "
            "(it takes `sources` and `channels`)"
        )
    sources = _strings(path, name, "sources", entry.get("sources", []))
    base = path.resolve().parent
    resolved = tuple(
        s if re.match(r"^https?://", s, re.IGNORECASE) else str(base / s) for s in sources
    )
    return Desk(name, resolved, _strings(path, name, "channels", entry.get("channels", [])))


def _strings(path: Path, name: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{path}: [desks.{name}] {key} must be a list of strings")
    return tuple(dict.fromkeys(v.strip() for v in value))
