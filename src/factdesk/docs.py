"""The parts of the documentation that the code already knows, generated so they cannot drift.

`cog` runs these from markers in README.md and .env.example (`make docs` rewrites them,
`make lint` fails when they are stale): the commands and their options from the click commands,
every setting with its default and description from `config.Settings`, an answer's JSON fields
from `answer.schema`, and the exit codes from `errors.ExitCode`.
"""

from __future__ import annotations

import textwrap

import click

from factdesk.config import SECTIONS, Settings, env_name
from factdesk.errors import MEANINGS

ENV_HEADER = """\
# factdesk settings. Copy to .env (never commit .env) or set them in the environment.
# Every setting has a working default; the values below are the defaults.
# Generated from src/factdesk/config.py by `make docs`: edit the descriptions there."""


def env_example() -> str:
    """The whole of .env.example: every setting, grouped, with its description as a comment."""
    lines = [ENV_HEADER]
    for name, field in Settings.model_fields.items():
        if name in SECTIONS:
            lines += ["", f"# --- {SECTIONS[name]} ---"]
        lines += textwrap.wrap(field.description or "", 98, initial_indent="# ",
                               subsequent_indent="# ")  # fmt: skip
        lines.append(f"{env_name(name)}={_default(field.default)}")
    return "\n".join(lines) + "\n"


def settings_table() -> str:
    """The README's settings table, one row per setting."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = _default(field.default)
        shown = f"`{default}`" if default else "unset"
        rows.append(f"| `{env_name(name)}` | {shown} | {_cell(field.description or '')} |")
    return "\n".join(rows) + "\n"


def commands_table() -> str:
    """The README's command table: each command's usage and first help line."""
    from factdesk.cli import cli

    rows = ["| command | what it does |", "| --- | --- |"]
    with click.Context(cli, info_name="factdesk") as context:
        for name in cli.list_commands(context):
            command = cli.get_command(context, name)
            assert command is not None  # listed a moment ago
            arguments = " ".join(
                p.make_metavar(context) for p in command.params if isinstance(p, click.Argument)
            )
            options = ", ".join(
                f"`{p.opts[-1]}`"
                for p in command.params
                if isinstance(p, click.Option) and p.name != "help"
            )
            summary = command.get_short_help_str(limit=200)
            if options:
                summary += f" Options: {options}."
            usage = f"factdesk {name} {arguments}".rstrip()
            rows.append(f"| `{usage}` | {_cell(summary)} |")
    return "\n".join(rows) + "\n"


def answer_fields_table() -> str:
    """The README's table of an answer's JSON fields (`ask --json`, the API, the MCP tools), from
    the descriptions in answer/schema.py."""
    from factdesk.answer.schema import AnswerJSON, CitationJSON

    rows = ["| field | meaning |", "| --- | --- |"]
    for prefix, model in (("", AnswerJSON), ("citations[].", CitationJSON)):
        for name, field in model.model_fields.items():
            rows.append(f"| `{prefix}{name}` | {_cell(field.description or '')} |")
    return "\n".join(rows) + "\n"


def exit_codes_table() -> str:
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{int(code)}` | {_cell(meaning)} |" for code, meaning in MEANINGS.items()]
    return "\n".join(rows) + "\n"


def _default(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
