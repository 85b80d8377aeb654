"""The first `make` command sets up .venv, which takes minutes: it says so before it starts."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_first_make_ask_says_what_it_installs_and_how_long_it_takes(tmp_path):
    # A Python that passes the version check and stops at creating the venv, so nothing is
    # installed: what is printed before that point is what a person sees first.
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\ncase "$1" in -c) exec {sys.executable} "$@";; esac\nexit 3\n')
    python.chmod(0o755)
    result = subprocess.run(
        ["make", "ask", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    said = [line for line in result.stdout.splitlines() if not line.startswith("make")]
    assert said[0] == (
        f"Setting up {tmp_path / 'venv'} (once): uv, then torch (CPU build), factdesk and its "
        "dependencies; about 2 minutes."
    )
    assert not (tmp_path / "venv").exists()
