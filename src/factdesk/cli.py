"""The `factdesk` command: parses arguments and prints; the library does the work.

Errors meant for users (FactdeskError, bad options) are printed as one line on stderr with a
non-zero exit status, never as a traceback. Whatever is printed shows its control characters
escaped (printable.py): articles, file names and questions never reach the terminal raw.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click
from rich.console import Console, ConsoleOptions, RenderableType, RenderHook
from rich.segment import Segment

from factdesk import __version__
from factdesk.config import Settings, load_settings
from factdesk.errors import ExitCode, FactdeskError, IndexInterrupted
from factdesk.printable import escape_json_controls, printable

if TYPE_CHECKING:
    from factdesk.answer.answers import Answer, Answerer


class _Output(Console):
    """stdout: a closed pipe ends the command quietly (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        _closed_pipe()


class Printable(RenderHook):
    """Escapes the control characters of everything a console prints, once rich has laid it
    out: its own colours and styles are untouched."""

    def process_renderables(self, renderables: list) -> list:
        return [_Escaped(renderable) for renderable in renderables]


class _Escaped:
    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for segment in console.render(self.inner, options):
            if segment.control or segment.text.isprintable() or segment.text == "\n":
                yield segment
            else:
                yield Segment(printable(segment.text), segment.style, segment.control)


stdout = _Output(highlight=False)
stderr = Console(stderr=True, highlight=False)
for _console in (stdout, stderr):
    _console.push_render_hook(Printable())


def main(args: Sequence[str] | None = None) -> None:
    """Entry point: run the command (from `args`, else the command line) and turn every
    user-facing failure into one line."""
    try:
        code = cli.main(args=args, prog_name="factdesk", standalone_mode=False)
    except click.UsageError as exc:
        _fail(f"{exc.format_message()} (see `factdesk --help`)", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt, EOFError) as exc:
        if not isinstance(exc, click.Abort):  # click has ended the line after the ^C already
            stderr.print()
        interrupted = exc if isinstance(exc, IndexInterrupted) else exc.__cause__
        if isinstance(interrupted, IndexInterrupted):
            _notify(str(interrupted))
        sys.exit(ExitCode.INTERRUPTED)
    except FactdeskError as exc:
        _fail(str(exc), exc.exit_code)
    except BrokenPipeError:
        _closed_pipe()
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The installed command: `main`, then an exit without the interpreter's last garbage
    collection, which would walk every object the libraries made just to free them."""
    try:
        main()
    finally:
        gc.freeze()


def _closed_pipe() -> None:
    """The reader of our output went away (`factdesk ask - | head`): nothing is wrong, so stop
    quietly, with nothing left to flush into the closed pipe."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(ExitCode.OK)


def _fail(message: str, code: int) -> None:
    stderr.print(f"Error: {printable(message, lines=False)}", markup=False, soft_wrap=True)
    sys.exit(code)


def _notify(message: str) -> None:
    stderr.print(printable(message, lines=False), markup=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="factdesk")
def cli() -> None:
    """Answers questions about news articles with cited passages."""


class _Interval(click.ParamType):
    """A time span such as 90s, 15m, 1h or 1d (plain numbers are seconds)."""

    name = "interval"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, float):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value).lower())
        if not match or float(match[1]) <= 0:
            self.fail(f"{value!r} is not an interval such as 30s, 15m or 1h", param, ctx)
        return float(match[1]) * self._UNITS[match[2]]


desk_option = click.option(
    "--desk",
    metavar="NAME",
    help="The desk to use (see FACTDESK_DESKS_FILE) [FACTDESK_DESK, else default].",
)


def _settings(desk: str | None) -> Settings:
    """The settings, for `desk` when one is named (it must be in the desks file)."""
    if desk is None:
        return load_settings()
    from factdesk.desks import check_desk

    settings = load_settings(desk=desk)
    check_desk(settings)
    return settings


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("--rebuild", is_flag=True, help="Start over: re-embed every article.")
@click.option(
    "--every",
    type=_Interval(),
    metavar="INTERVAL",
    help="Index again every INTERVAL (30s, 15m, 1h) until Ctrl-C.",
)
@desk_option
def index(targets: tuple[str, ...], rebuild: bool, every: float | None, desk: str | None) -> int:
    """Index articles from TARGETS: files, folders, article URLs and RSS/Atom feed URLs
    (default: the desk's sources in the desks file, or the seeds folder).

    Unchanged articles are skipped, changed ones replaced and deleted files removed; articles
    from the web stay until the index is rebuilt. Exits 6 when some files or feed items were
    skipped (each named on stderr), 8 when a URL or feed cannot be fetched at all, 130 on
    Ctrl-C, which keeps what was indexed (the same command finishes the job).
    """
    from factdesk.desks import index_targets
    from factdesk.ingest.sources import check_targets

    settings = _settings(desk)
    chosen = list(targets) or index_targets(settings)
    if rebuild and every:
        raise click.UsageError("--rebuild runs once; leave out --every")
    check_targets(chosen)  # before fetching or loading the model, which takes seconds
    indexer = _indexer_loader(settings)
    if every is None:
        return _index_once(settings, chosen, indexer, rebuild)
    return _index_every(settings, chosen, indexer, every)


def _indexer_loader(settings: Settings):
    """The indexer, with its model loaded on first use and only once (`--every` reuses it)."""

    @functools.cache
    def load():
        from factdesk.service import load_indexer

        return load_indexer(settings)

    return load


def _index_once(settings: Settings, targets: list[str], indexer, rebuild: bool) -> int:
    from factdesk.ingest.indexer import index_sources
    from factdesk.ingest.sources import is_url

    _announce([Path(target) for target in targets if not is_url(target)])
    # One bar at a time (older rich draws one live display only): the files', unless feeds too.
    web = any(map(is_url, targets))
    report = index_sources(
        targets,
        settings,
        indexer,  # the model loads before the bar starts, which then moves steadily
        rebuild=rebuild,
        fetching=(lambda: _progress("Fetching", "feed items")) if web else None,
        reading=None if web else (lambda: _progress("Reading", "files", lines=False)),
        indexing=lambda: _progress("Indexing", "articles"),
    )
    assert report is not None  # nothing stops this run before it indexes
    for line in report.note_lines():
        _notify(f"Note: {line}")
    for line in [*report.notes, *report.skipped_lines()]:
        _notify(f"Warning: {line}")
    stdout.print(report.summary(), markup=False, soft_wrap=True)
    return ExitCode.SKIPPED if report.skipped else ExitCode.OK


def _announce(paths: list[Path]) -> None:
    """How many files the folders hold, said before anything slow starts; a warning first when
    they look like no news folder (a cache, a package), the usual mistaken path."""
    from factdesk.ingest.documents import display_path, survey_paths

    if not paths:
        return
    survey = survey_paths(paths)
    where = ", ".join(display_path(path) for path in paths)
    if survey.looks_mistaken:
        kinds = ", ".join(survey.examples)
        _notify(
            f"Warning: {where} looks like no news folder: {survey.unlikely:,} of its "
            f"{survey.files:,} files are licences, code or caches ({kinds}). Ctrl-C stops; "
            "what is indexed by then is kept."
        )
    others = survey.files - survey.articles
    also = f" ({_count(others, 'other file')} skipped)" if others else ""
    _notify(f"Found {_count(survey.articles, 'article file')} in {where}{also}.")


def _index_every(settings: Settings, targets: list[str], indexer, seconds: float) -> int:
    """Index, wait, repeat; a failed run is reported and the next one tried. Ctrl-C (or a
    SIGTERM from a service manager) stops it between or during runs, exit status 0."""
    from factdesk.ingest.indexer import every

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stderr.print(f"Indexing every {seconds:g} s; Ctrl-C stops.", markup=False)
    try:
        for _ in every(seconds):
            try:
                _index_once(settings, targets, indexer, rebuild=False)
            except FactdeskError as exc:
                _notify(f"Error: {exc}")
    except KeyboardInterrupt as exc:
        if isinstance(exc, IndexInterrupted):
            _notify(str(exc))
        stderr.print("Stopped.", markup=False)
    return ExitCode.OK


@contextmanager
def _progress(label: str, unit: str, lines: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Progress as (done, total) calls: a bar with rate and time left on a terminal, else (with
    `lines`) a line now and then, so that a log shows a long run is moving."""
    if not stderr.is_terminal:
        yield _ProgressLines(label, unit) if lines else _ignore
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        f"[progress.description]{label}",
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TextColumn("{task.fields[rate]}", style="progress.data.speed"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, rate="")

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:.1f}/s" if speed else "")

        yield update


def _ignore(done: int, total: int) -> None:
    pass


class _ProgressLines:
    """Without a terminal: a line at the start, after about every twentieth of the work (at
    least every ten items) and at the end, with the rate and the time left."""

    def __init__(self, label: str, unit: str) -> None:
        self.label, self.unit = label, unit
        self.started = time.monotonic()
        self.next_line = 0

    def __call__(self, done: int, total: int) -> None:
        if not total or (done < self.next_line and done < total):
            return
        step = max(10, total // 20)
        self.next_line = (done // step + 1) * step
        unit = self.unit if total != 1 else self.unit.removesuffix("s")
        if done == 0:
            self.started = time.monotonic()
            _notify(f"{self.label} {total:,} {unit}…")
            return
        seconds = time.monotonic() - self.started
        rate = done / seconds if seconds > 0 else 0.0
        left = f", about {_duration((total - done) / rate)} left" if rate and done < total else ""
        _notify(f"{self.label}: {done:,} of {total:,} {unit} ({rate:.1f}/s{left})")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@cli.command()
@click.argument("question")
@click.option("--top-k", type=click.IntRange(1, 20), default=None, help="Passages to cite.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (one a line for -).")
@desk_option
def ask(question: str, top_k: int | None, as_json: bool, desk: str | None) -> int:
    """Answer QUESTION from the indexed articles; `-` reads one question a line from stdin.

    With `--json -`, a line may also be {"question": ..., "history": [{"question": ...,
    "answer": ...}]}: the question is then read as a follow-up to that conversation.
    """
    from factdesk.answer.question import CleanQuestion

    settings = _settings(desk)
    # Cleaned once, here, so that an empty question fails before the model loads.
    cleaned = None if question == "-" else CleanQuestion.of(question, settings.max_question_chars)
    answerer = _load_answerer(settings)
    if cleaned is None:
        return _ask_batch(answerer, top_k, as_json)
    _answer_and_print(answerer, cleaned, [], top_k, as_json)
    return ExitCode.OK


def _load_answerer(settings: Settings) -> Answerer:
    from factdesk.service import load_pipeline

    return load_pipeline(settings, notify=_notify)


def _ask_batch(answerer: Answerer, top_k: int | None, as_json: bool) -> int:
    """Answer each stdin line with the already loaded model; errors are reported per line, and
    the first one's exit status is the run's."""
    from factdesk.answer.conversation import parse_request

    status = ExitCode.OK
    asked = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        question = line.strip()
        try:
            question, history = parse_request(line)
            if not as_json:  # each answer under its question, apart from the one before
                _heading(question, first=asked == 0)
            asked += 1
            _answer_and_print(answerer, question, history, top_k, as_json)
        except FactdeskError as exc:
            status = status or exc.exit_code
            if as_json:
                _echo_json({"question": question, "error": str(exc)})
            else:
                _notify(f"Error: {exc}")
    return status


def _heading(question: str, first: bool) -> None:
    from rich.rule import Rule
    from rich.text import Text

    if not first:
        stdout.print()
    shown = printable(" ".join(question.split()), lines=False)
    stdout.print(Rule(Text(shown, style="bold"), align="left"))


def _answer_and_print(
    answerer: Answerer, question, history, top_k: int | None, as_json: bool
) -> Answer:
    """Ask, print the answer (as JSON, or rendered) and return it. In the terminal an LLM's text
    appears on stderr as it streams; the checked answer follows on stdout."""
    stream = None if as_json or not answerer.streams else _stream_to_stderr
    answer = answerer.ask(question, history, top_k, on_text=stream)
    if stream:
        stderr.print()
    _print_warnings(answer.warnings)
    try:
        if as_json:
            from factdesk.answer.schema import answer_json

            _echo_json(answer_json(answer))
        else:
            _render(answer)
        sys.stdout.flush()
    except BrokenPipeError:  # click would exit 1 for it
        _closed_pipe()
    return answer


def _echo_json(value: object) -> None:
    """One JSON line on stdout: non-ASCII text as it is, control characters escaped."""
    click.echo(escape_json_controls(json.dumps(value, ensure_ascii=False)))


def _stream_to_stderr(text: str) -> None:
    stderr.print(text, end="", markup=False, style="dim", soft_wrap=True)


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        _notify(f"Warning: {warning}")


def _render(answer) -> None:
    from factdesk.terminal import render_answer

    stdout.print(render_answer(answer, stdout.width))


NEW_CONVERSATION = "/new"


@cli.command()
@click.option("--top-k", type=click.IntRange(1, 20), default=None, help="Passages to cite.")
@desk_option
def chat(top_k: int | None, desk: str | None) -> int:
    """Ask questions one after another; follow-ups use the conversation so far.

    `/new` starts a new conversation; Ctrl-D leaves.
    """
    import readline  # noqa: F401  (gives input() line editing and history)

    from factdesk.answer.conversation import Session

    settings = _settings(desk)
    answerer = _load_answerer(settings)
    session = Session()
    stderr.print(
        f"Ask about the indexed articles. {NEW_CONVERSATION} starts over, Ctrl-D leaves.",
        markup=False,
    )
    while True:
        try:
            question = input("? ")
        except EOFError:
            stderr.print()
            return ExitCode.OK
        if question.strip() == NEW_CONVERSATION:
            session.clear()
            stderr.print("New conversation.", markup=False)
            continue
        if not question.strip():
            continue
        try:
            answer = _answer_and_print(answerer, question, session.turns, top_k, False)
        except FactdeskError as exc:
            _notify(f"Error: {exc}")
            continue
        session.add(question, answer.answer)


@cli.command()
@desk_option
def status(desk: str | None) -> int:
    """Show where the index is, what it holds and how it was built."""
    from factdesk.service import index_status
    from factdesk.terminal import render_status, trimmed

    stdout.print(trimmed(stdout, render_status(index_status(_settings(desk)), stdout.width)))
    return ExitCode.OK


@cli.command("eval")
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL question file [default: the seed questions shipped with factdesk].",
)
@click.option(
    "--conversations",
    "conversations_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL conversations, run with and without history (tests/seed_conversations.jsonl).",
)
@click.option(
    "--squad",
    "squad_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A SQuAD v1.1/v2.0 JSON file, run end to end in a scratch index.",
)
@click.option(
    "--top-k",
    type=click.IntRange(1, 20),
    default=None,
    help="Passages cited [5; FACTDESK_TOP_K with --squad].",
)
@click.option(
    "--articles",
    "article_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Files or folders the questions are about, indexed in a scratch index [the seeds folder].",
)
@click.option(
    "--use-index",
    is_flag=True,
    help="Measure the open index instead, whatever else it holds (the figures change with it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures and misses as JSON.")
@click.option(
    "--baseline",
    is_flag=True,
    help="Answer without a reader whatever FACTDESK_READER says, for comparison.",
)
@click.option("--min-hit1", type=click.FloatRange(0, 1), help="Least hit@1 to pass.")
@click.option("--min-hit3", type=click.FloatRange(0, 1), help="Least hit@3 to pass.")
@click.option("--min-hit5", type=click.FloatRange(0, 1), help="Least hit@5 to pass.")
@click.option("--min-mrr", type=click.FloatRange(0, 1), help="Least mean reciprocal rank.")
@click.option(
    "--min-evidence", type=click.FloatRange(0, 1), help="Least share of answers quoting evidence."
)
@click.option("--min-span", type=click.FloatRange(0, 1), help="SQuAD: least span rate.")
@click.option("--min-correct", type=click.FloatRange(0, 1), help="SQuAD: least correct rate.")
@click.option(
    "--min-declined", type=click.FloatRange(0, 1), help="Least share of unanswerables declined."
)
@click.option(
    "--max-wrongly-declined", type=click.FloatRange(0, 1), help="Most answerables declined."
)
@click.option(
    "--min-follow-ups",
    type=click.FloatRange(0, 1),
    help="Conversations: least share of follow-ups answered correctly with history.",
)
@desk_option
def evaluate(
    questions_file: Path | None,
    conversations_file: Path | None,
    squad_file: Path | None,
    top_k: int | None,
    article_paths: tuple[Path, ...],
    use_index: bool,
    as_json: bool,
    baseline: bool,
    desk: str | None,
    **limits: float | None,
) -> int:
    """Measure answers against questions with known answers, to gate changes in CI.

    Each line of a --questions file is {"question": ..., "evidence": [...]} or {"question": ...,
    "answerable": false}. A --squad file's paragraphs become articles of a scratch index and
    every question is asked. Each line of a --conversations file is {"id": ..., "turns":
    [{"question": ..., "evidence": [...]}, ...]}: every follow-up is asked with the conversation
    so far and alone, side by side. Questions and conversations are asked in a scratch index
    of their articles (--articles, else the seeds folder), so that nothing else indexed moves
    the figures; --use-index asks the open index instead, as does a --desk other than the
    default (its sources may be feeds). Exits 7 when a figure misses a
    --min-*/--max-* limit (each failure is named on stderr), 2 when the question file is
    missing or malformed.
    """
    from factdesk.desks import DEFAULT as DEFAULT_DESK
    from factdesk.evaluation.questions import failed_gates
    from factdesk.evaluation.reports import render_evaluation
    from factdesk.service import NO_READER

    if sum(bool(f) for f in (questions_file, squad_file, conversations_file)) > 1:
        raise click.UsageError("Give one of --questions, --squad or --conversations.")
    if use_index and article_paths:
        raise click.UsageError("--use-index measures the open index: leave out --articles.")
    if squad_file and (use_index or article_paths):
        raise click.UsageError(
            "--squad indexes its own paragraphs: leave out --use-index and --articles."
        )
    settings = _settings(desk)
    # Another desk's articles are its sources, feeds among them: it is measured in its own index.
    if settings.desk != DEFAULT_DESK and not (article_paths or squad_file):
        use_index = True
    reader = NO_READER if baseline else None
    index = _Measured(settings, list(article_paths), use_index, reader)
    if conversations_file:
        return _evaluate_conversations(
            index, conversations_file, top_k, as_json, limits["min_follow_ups"]
        )
    if squad_file:
        report = _evaluate_squad(settings, squad_file, top_k, reader)
        where = "a scratch index of its paragraphs"
    else:
        report = _evaluate_questions(index, questions_file, top_k)
        where = index.where
    if as_json:
        _echo_json(report.to_dict())
    else:
        stdout.print(render_evaluation(report, where))
    failures = failed_gates(report.figures(), **_gates(limits))
    for failure in failures:
        stderr.print(f"Failed: {failure}", markup=False, soft_wrap=True)
    return ExitCode.GATE_FAILED if failures else ExitCode.OK


class _Measured:
    """Where `eval` asks its questions: a scratch index of the question set's articles, or, told
    so, the open index, with a warning that whatever else it holds moves the figures."""

    def __init__(self, settings: Settings, paths: list[Path], use_index: bool, reader) -> None:
        self.settings, self.paths, self.use_index, self.reader = settings, paths, use_index, reader
        self.where = ""

    @contextmanager
    def answerer(self) -> Iterator[Answerer]:
        from factdesk.ingest.documents import display_path, scan_paths
        from factdesk.service import index_status, load_pipeline, scratch_pipeline

        if self.use_index:
            pipeline = load_pipeline(self.settings, notify=_notify, reader=self.reader)
            count = _count(len(index_status(self.settings).documents), "article")
            self.where = f"the open index ({count})"
            _notify(
                f"Warning: measuring the open index, {self.settings.store_description} "
                f"({count}): every other article in it moves the figures; without "
                "--use-index, eval measures in a scratch index of the question set's articles."
            )
            yield pipeline
            return
        paths = self.paths or [self.settings.seeds_dir]
        scan = scan_paths(
            paths,
            self.settings.max_file_bytes,
            follow_outside_links=self.settings.follow_outside_links,
        )
        for item in scan.skipped:
            _notify(f"Warning: Skipped {item.source} ({item.reason})")
        names = ", ".join(display_path(path) for path in paths)
        self.where = f"a scratch index of {names} ({_count(len(scan.articles), 'article')})"
        with scratch_pipeline(
            self.settings, scan.articles, notify=_notify, reader=self.reader
        ) as pipeline:
            yield pipeline


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def _evaluate_questions(index: _Measured, path: Path | None, top_k: int | None):
    from factdesk.evaluation.questions import (
        DEFAULT_QUESTIONS,
        HIT_DEPTHS,
        evaluate,
        load_questions,
    )

    path = path or DEFAULT_QUESTIONS
    questions = load_questions(path)  # fails before the model loads
    depth = top_k or max(index.settings.top_k, max(HIT_DEPTHS))
    with index.answerer() as answerer, _progress("Asking", "questions") as progress:
        return evaluate(answerer, questions, depth, str(path), progress)


def _evaluate_conversations(
    index: _Measured,
    path: Path,
    top_k: int | None,
    as_json: bool,
    minimum: float | None,
) -> int:
    from factdesk.evaluation.conversations import evaluate_conversations, load_conversations
    from factdesk.evaluation.questions import failed_gates
    from factdesk.evaluation.reports import render_conversations

    conversations = load_conversations(path)  # fails before the model loads
    with index.answerer() as answerer, _progress("Asking", "conversations") as progress:
        report = evaluate_conversations(
            answerer, conversations, top_k or index.settings.top_k, str(path), progress
        )
    if as_json:
        _echo_json(report.to_dict())
    else:
        stdout.print(render_conversations(report, index.where))
    failures = failed_gates(report.figures(), {"follow_ups_correct": minimum}, maximums={})
    for failure in failures:
        stderr.print(f"Failed: {failure}", markup=False, soft_wrap=True)
    return ExitCode.GATE_FAILED if failures else ExitCode.OK


def _evaluate_squad(settings: Settings, path: Path, top_k: int | None, reader):
    from factdesk.evaluation.squad import evaluate_squad, load_squad
    from factdesk.service import scratch_pipeline

    squad = load_squad(path)  # fails before the model loads
    articles = [paragraph.as_article() for paragraph in squad.paragraphs]
    with (
        scratch_pipeline(settings, articles, notify=_notify, reader=reader) as pipeline,
        _progress("Asking", "questions") as progress,
    ):
        return evaluate_squad(pipeline, squad, top_k or settings.top_k, progress)


_MINIMUMS = {
    "min_hit1": "hit@1",
    "min_hit3": "hit@3",
    "min_hit5": "hit@5",
    "min_mrr": "mrr",
    "min_evidence": "answer_has_evidence",
    "min_span": "span",
    "min_correct": "correct",
    "min_declined": "declined_unanswerable",
}


def _gates(limits: dict[str, float | None]) -> dict[str, dict[str, float | None]]:
    minimums = {figure: limits[option] for option, figure in _MINIMUMS.items()}
    return {
        "minimums": {k: v for k, v in minimums.items() if v is not None},
        "maximums": {"wrongly_declined": limits["max_wrongly_declined"]},
    }


@cli.command()
@click.option("--http", is_flag=True, help="Serve the Events API over HTTP instead of Socket Mode.")
@click.option(
    "--host",
    help="With --http, the address to listen on [FACTDESK_HTTP_HOST, else 127.0.0.1; "
    "0.0.0.0 in a container].",
)
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True)
def slack(http: bool, host: str | None, port: int) -> int:
    """Run the Slack bot (Socket Mode unless --http); SIGTERM or Ctrl-C stops it, once the
    answers in flight are posted.

    Exits 2 on a missing or refused token, 9 when the Slack API cannot be reached.
    """
    from factdesk.slack import run

    run(load_settings(), http=http, port=port, host=host)
    return ExitCode.OK


@cli.command()
@click.option(
    "--host",
    help="The address to listen on [FACTDESK_HTTP_HOST, else 127.0.0.1]; any other than "
    "loopback needs FACTDESK_API_TOKENS.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8400, show_default=True)
@desk_option
def serve(host: str | None, port: int, desk: str | None) -> int:
    """Serve the HTTP API, MCP (at /mcp) and an OpenAI-compatible chat endpoint; SIGTERM or
    Ctrl-C stops it, once the answers in flight are sent.

    Every desk is loaded once; --desk is the one asked when a request names none. Exits 2 on a
    bad setting, or on a non-loopback --host without FACTDESK_API_TOKENS.
    """
    from factdesk.api.server import serve as run_server

    run_server(_settings(desk), host=host, port=port)
    return ExitCode.OK


@cli.command("mcp")
@desk_option
def mcp_stdio(desk: str | None) -> int:
    """Serve MCP over stdin and stdout, for a desktop client (Claude Desktop, Cursor) that
    starts factdesk itself: tools `ask` and `search`, each desk's articles as resources.

    Every desk is loaded once; --desk is the one asked when a call names none. Logs go to
    stderr.
    """
    from factdesk.api.server import serve_stdio

    serve_stdio(_settings(desk))
    return ExitCode.OK


@cli.command()
def feedback() -> int:
    """Summarise the 👍/👎 given to answers in Slack, with the questions most voted down."""
    from factdesk.slack.database import feedback_summary
    from factdesk.terminal import render_summary

    stdout.print(render_summary(feedback_summary(load_settings())))
    return ExitCode.OK
