"""Desks from their TOML file: which desk answers in which channel, what a bad file says, and
the terminal commands on one desk (`--desk NAME`)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from factdesk.desks import DEFAULT, Desks, check_desk, index_targets, load_desks, settings_for
from factdesk.errors import ConfigError

from .conftest import SEEDS, invoke_factdesk, make_settings
from .newsserver import NEWS


def desks_from(tmp_path, text: str) -> Desks:
    path = tmp_path / "desks.toml"
    path.write_text(text)
    return load_desks(make_settings(tmp_path / "index", desks_file=path))


def test_without_a_file_there_is_the_default_desk_alone(tmp_path):
    desks = load_desks(make_settings(tmp_path / "index", desks_file=tmp_path / "absent.toml"))
    assert desks.names == [DEFAULT]
    assert desks.for_channel("C1").name == DEFAULT


def test_channels_answer_from_their_desk_and_others_from_the_default(tmp_path):
    desks = desks_from(
        tmp_path,
        '[desks.energy]\nsources = ["articles/energy", "https://example.com/oil.rss"]\n'
        'channels = ["CENERGY"]\n\n[desks.politics]\nchannels = ["CPOL", "CPOL2"]\n',
    )
    assert desks.names == [DEFAULT, "energy", "politics"]
    assert desks.for_channel("CENERGY").name == "energy"
    assert desks.for_channel("CPOL2").name == "politics"
    assert desks.for_channel("CELSEWHERE").name == DEFAULT
    # Paths are read relative to the file, URLs as they are.
    assert desks.get("energy").sources == (
        str(tmp_path / "articles" / "energy"),
        "https://example.com/oil.rss",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[desks.energy\n", "Cannot read the desks file"),
        ('[desks.Energy]\nchannels = ["C1"]\n', "'Energy' is not a desk name"),
        ('[desks.a]\nchannels = ["C1"]\n[desks.b]\nchannels = ["C1"]\n', "channel C1 is mapped"),
        ('[desks.a]\nchanels = ["C1"]\n', "unknown key 'chanels'"),
        ('[desks.a]\nsources = "feed.xml"\n', "sources must be a list of strings"),
        ('[desk.a]\nsources = ["x"]\n', "unknown table 'desk'"),
    ],
)
def test_a_bad_desks_file_is_one_clear_error_naming_it(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as error:
        desks_from(tmp_path, text)
    assert "desks.toml" in str(error.value)


def test_each_desk_has_its_own_collection(tmp_path):
    settings = make_settings(tmp_path / "index")
    assert settings.collection_name == "factdesk"
    assert settings_for(settings, "energy").collection_name == "factdesk-energy"
    with pytest.raises(ConfigError, match="not a desk name"):
        settings_for(settings, "../energy")


def test_a_desk_must_be_in_the_file_and_indexes_its_sources_by_default(tmp_path):
    path = tmp_path / "desks.toml"
    path.write_text('[desks.energy]\nsources = ["energy"]\n[desks.empty]\n')
    settings = make_settings(tmp_path / "index", desks_file=path)
    assert index_targets(settings) == [str(SEEDS)]
    assert index_targets(settings_for(settings, "energy")) == [str(tmp_path / "energy")]
    with pytest.raises(ConfigError, match="The empty desk lists no sources"):
        index_targets(settings_for(settings, "empty"))
    with pytest.raises(ConfigError, match=r"There is no 'sport' desk in .*desks: default, energy"):
        check_desk(settings_for(settings, "sport"))


@pytest.mark.slow
def test_the_terminal_commands_work_on_the_desk_named(tmp_path):
    (tmp_path / "energy").mkdir()
    shutil.copy(NEWS / "pdvsa_debt.txt", tmp_path / "energy")
    (tmp_path / "desks.toml").write_text('[desks.energy]\nsources = ["energy"]\n')
    env = {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
        "FACTDESK_DESKS_FILE": str(tmp_path / "desks.toml"),
    }
    indexed = invoke_factdesk("index", "--desk", "energy", env=env)
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.startswith("Indexed 1 document: 1 added")
    status = invoke_factdesk("status", "--desk", "energy", env=env)
    shown = " ".join(status.stdout.split())
    assert "Desk energy Collection factdesk-energy" in shown and "PDVSA Ships" in shown
    question = "How many barrels per day did PDVSA export in April?"
    energy = invoke_factdesk("ask", "--desk", "energy", "--json", question, env=env)
    assert "812,000" in energy.stdout
    # The default desk never saw the energy article: it indexes seeds/ and declines.
    default = invoke_factdesk("ask", "--json", question, env=env)
    (line,) = [line for line in default.stdout.splitlines() if line.startswith("{")]
    answer = json.loads(line)
    assert not answer["answered"]
    assert all("pdvsa" not in citation["source"] for citation in answer["citations"])
    questions = tmp_path / "energy.jsonl"
    questions.write_text(json.dumps({"question": question, "evidence": ["812,000"]}) + "\n")
    gated = ("eval", "--questions", str(questions), "--json", "--min-hit1", "1")
    assert invoke_factdesk(*gated, "--desk", "energy", env=env).returncode == 0
    assert invoke_factdesk(*gated, env=env).returncode == 7  # the default desk misses it
    unknown = invoke_factdesk("ask", "--desk", "sport", question, env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Error: There is no 'sport' desk in ")
