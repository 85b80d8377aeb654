"""The project folder: where `seeds/`, `index/`, `.env` and the other relative paths live.

It is FACTDESK_HOME when set, else the nearest folder at or above the working folder that holds
factdesk's own pyproject.toml (the checkout), so that `factdesk` works the same from any of its
subfolders and never scatters an `index/` wherever it happens to be started.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from factdesk.errors import ConfigError, NoProjectError

HOME_VARIABLE = "FACTDESK_HOME"


def find_home(environ: Mapping[str, str], cwd: Path) -> Path | None:
    """FACTDESK_HOME (an existing folder), else the checkout at or above `cwd`, else None."""
    given = environ.get(HOME_VARIABLE, "").strip()
    if given:
        home = (cwd / Path(given).expanduser()).resolve()
        if not home.is_dir():
            raise ConfigError(
                f"Invalid setting {HOME_VARIABLE}={given!r} (in the environment): no such folder"
            )
        return home
    return next((folder for folder in (cwd, *cwd.parents) if is_checkout(folder)), None)


def is_checkout(folder: Path) -> bool:
    """Whether `folder` holds factdesk's pyproject.toml (not just any Python project's)."""
    try:
        with (folder / "pyproject.toml").open("rb") as file:
            return tomllib.load(file).get("project", {}).get("name") == "factdesk"
    except (OSError, tomllib.TOMLDecodeError):
        return False


def no_project(cwd: Path) -> NoProjectError:
    """What to do when relative paths have no project folder to live in."""
    return NoProjectError(
        f"{cwd} is not in a factdesk project folder: run factdesk in its checkout (or a folder "
        f"below it), or set {HOME_VARIABLE} to your project folder."
    )
