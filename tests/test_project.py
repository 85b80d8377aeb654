"""The project folder: relative paths (`seeds/`, `index/`, `.env`) are read against the checkout
found above the working folder, or FACTDESK_HOME; anywhere else factdesk stops and creates
nothing."""

from __future__ import annotations

import os

import pytest

from factdesk.config import load_settings
from factdesk.errors import NoProjectError

from .conftest import REPO, invoke_factdesk


@pytest.mark.parametrize(
    "args", [["ask", "How many advisers remain?"], ["index"], ["status"], ["eval"], ["chat"]]
)
def test_outside_a_project_it_says_what_to_do_and_creates_nothing(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke_factdesk(*args, env=dict(os.environ))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {tmp_path} is not in a factdesk project folder: run factdesk in its checkout "
        "(or a folder below it), or set FACTDESK_HOME to your project folder.\n"
    )
    assert result.stdout == "" and list(tmp_path.iterdir()) == []


def test_from_a_subfolder_of_the_checkout_paths_are_the_checkout_s(monkeypatch):
    monkeypatch.chdir(REPO / "src" / "factdesk")
    settings = load_settings(_env_file=None)
    assert settings.home == REPO
    assert settings.index_dir == REPO / "index" and settings.seeds_dir == REPO / "seeds"
    assert settings.desks_file == REPO / "desks.toml"


def test_factdesk_home_is_the_project_folder_with_its_env_file(tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "newsroom", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / ".env").write_text("FACTDESK_TOP_K=7\nFACTDESK_INDEX_DIR=store\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("FACTDESK_HOME", str(home))
    settings = load_settings()
    assert settings.top_k == 7 and settings.index_dir == home / "store"
    assert settings.seeds_dir == home / "seeds"

    from factdesk import cli

    monkeypatch.setattr(cli, "stdout", cli._Output(highlight=False, width=300))
    status = invoke_factdesk("status", env={**os.environ})
    assert status.returncode == 0, status.stderr
    assert f"embedded Chroma at {home / 'store'}\n" in status.stdout
    assert "run `factdesk index`" in status.stdout and list(elsewhere.iterdir()) == []


def test_a_missing_factdesk_home_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke_factdesk("status", env={**os.environ, "FACTDESK_HOME": "no/such"})
    assert result.returncode == 2
    assert result.stderr == (
        "Error: Invalid setting FACTDESK_HOME='no/such' (in the environment): no such folder\n"
    )


def test_absolute_folders_need_no_project(tmp_path, monkeypatch):
    """A service or cron job that names its folders runs from anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTDESK_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("FACTDESK_SEEDS_DIR", str(tmp_path / "seeds"))
    assert load_settings().index_dir == tmp_path / "index"
    monkeypatch.delenv("FACTDESK_SEEDS_DIR")
    with pytest.raises(NoProjectError):
        load_settings()


def test_another_python_project_is_not_a_factdesk_project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    with pytest.raises(NoProjectError):
        load_settings()


def test_a_script_may_name_its_project(tmp_path, monkeypatch):
    """benchmarks/ run from any folder, in the checkout they belong to."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None, home=REPO)
    assert settings.home == REPO and settings.seeds_dir == REPO / "seeds"
