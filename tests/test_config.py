import pytest

from factdesk.config import Settings, load_settings
from factdesk.errors import ConfigError


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTDESK_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.index_dir == tmp_path / "index" and settings.seeds_dir == tmp_path / "seeds"
    assert settings.chroma_host is None and not settings.uses_chroma_server
    assert settings.slack_api_url == "https://slack.com/api/"


def test_environment_and_env_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTDESK_HOME", str(tmp_path))
    (tmp_path / ".env").write_text("FACTDESK_TOP_K=5\nSLACK_BOT_TOKEN=xoxb-from-file\n")
    monkeypatch.setenv("FACTDESK_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("FACTDESK_CHROMA_PORT", "9001")
    settings = load_settings()
    assert settings.top_k == 5
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-file"
    assert settings.store_description == "Chroma server at 127.0.0.1:9001"


def test_secrets_never_show_in_repr(monkeypatch):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cr3t-value")
    settings = Settings(_env_file=None)
    assert "s3cr3t-value" not in repr(settings) and "s3cr3t-value" not in str(settings)


def test_blank_host_means_embedded(monkeypatch):
    monkeypatch.setenv("FACTDESK_CHROMA_HOST", " ")
    assert not Settings(_env_file=None).uses_chroma_server


def test_invalid_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("FACTDESK_TOP_K", "lots")
    with pytest.raises(ConfigError, match="FACTDESK_TOP_K"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "How many advisers remain?"],
        ["chat"],
        ["index"],
        ["status"],
        ["eval"],
        ["slack"],
        ["slack", "--http"],
        ["feedback"],
    ],
)
def test_an_invalid_log_level_is_one_error_line_from_every_command(
    args, tmp_path, monkeypatch, capsys
):
    """Checked when the settings are read, before any command does anything (loads a model,
    sets up logging): one line naming the variable and exit status 2, never a traceback."""
    from factdesk import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTDESK_LOG_LEVEL", "verbose")
    monkeypatch.setattr("sys.argv", ["factdesk", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid setting FACTDESK_LOG_LEVEL")
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "index").exists()


def test_the_log_level_is_read_in_any_case(monkeypatch):
    monkeypatch.setenv("FACTDESK_LOG_LEVEL", " debug")
    assert load_settings(_env_file=None).log_level == "DEBUG"


def test_a_chroma_host_given_as_a_url_is_read_as_host_and_port(monkeypatch):
    from factdesk.config import load_settings

    monkeypatch.setenv("FACTDESK_CHROMA_HOST", "http://localhost:8123")
    settings = load_settings()
    assert (settings.chroma_host, settings.chroma_port) == ("localhost", 8123)
    assert settings.store_description == "Chroma server at localhost:8123"


def test_a_bad_setting_names_the_variable_its_value_and_where_it_came_from(monkeypatch):
    from factdesk.config import load_settings
    from factdesk.errors import ConfigError

    monkeypatch.setenv("FACTDESK_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match=r"FACTDESK_LOG_LEVEL='loud' \(in the environment\)"):
        load_settings()


def test_a_bad_secret_is_masked(monkeypatch):
    from factdesk.config import load_settings
    from factdesk.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        load_settings(llm_api_key=["not", "a", "string"])
    assert "not" not in str(raised.value) and "****" in str(raised.value)


def test_a_misspelt_variable_is_warned_about_with_the_closest_name():
    from factdesk.config import unknown_variables

    warnings = unknown_variables({"FACTDESK_TOPK": "5", "FACTDESK_TOP_K": "3", "HOME": "/"})
    assert warnings == [
        "FACTDESK_TOPK is not a factdesk setting and is ignored; did you mean FACTDESK_TOP_K?"
    ]


def test_a_copy_of_env_example_is_a_working_env_file(tmp_path, monkeypatch):
    """The README says to copy it: every setting there, with its empty defaults, must load."""
    from .conftest import REPO

    (tmp_path / ".env").write_bytes((REPO / ".env.example").read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTDESK_HOME", str(tmp_path))
    settings = load_settings()
    assert settings == Settings(_env_file=None).in_project(tmp_path, tmp_path)
