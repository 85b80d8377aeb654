"""`factdesk eval`: question files, evidence matching, figures, gates and the command itself.

The retrieval quality of the seed article is asserted in tests/test_quality.py; here the seed
questions only show that the command measures and gates through the real pipeline.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from factdesk.answer.answers import NOT_FOUND, Answer, Citation
from factdesk.errors import QuestionFileError
from factdesk.evaluation.questions import (
    Outcome,
    Question,
    Report,
    evaluate,
    failed_gates,
    holds_evidence,
    load_questions,
    normalise_text,
)
from factdesk.evaluation.reports import render_evaluation
from factdesk.evaluation.squad import (
    Paragraph,
    SquadOutcome,
    SquadQuestion,
    SquadReport,
    squad_normalise,
)
from factdesk.evaluation.thresholds import best_threshold

from .conftest import SEED_QUESTIONS, SEEDS, Ran, invoke_factdesk

EXIT_GATE_FAILED = 7


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- question files ------------------------------------------------------------------------


def test_load_questions_reads_both_kinds_and_skips_blank_lines(tmp_path):
    path = write_lines(
        tmp_path / "q.jsonl",
        '{"question": "How many advisers remain?", "evidence": ["just a few dozen"]}',
        "",
        '{"question": "What is the capital of France?", "answerable": false}',
    )
    questions = load_questions(path)
    assert questions == [
        Question(1, "How many advisers remain?", ("just a few dozen",)),
        Question(3, "What is the capital of France?"),
    ]
    assert [q.answerable for q in questions] == [True, False]


def test_every_malformed_line_is_reported_with_its_number(tmp_path):
    path = write_lines(
        tmp_path / "q.jsonl",
        '{"question": "fine", "evidence": ["x"]}',
        '{"question": "", "evidence": ["x"]}',
        "not json",
        '{"question": "no evidence"}',
        '["a list"]',
        '{"question": "q", "answerable": "no"}',
        '{"question": "q", "answerable": false, "evidence": ["x"]}',
        '{"question": "q", "evidence": ["", 3]}',
    )
    with pytest.raises(QuestionFileError) as caught:
        load_questions(path)
    message = str(caught.value)
    assert "7 malformed line(s)" in message
    for number in range(2, 9):
        assert f"line {number}:" in message
    assert "line 1:" not in message
    assert caught.value.exit_code == 2


def test_a_missing_or_empty_question_file_is_a_clear_error(tmp_path):
    with pytest.raises(QuestionFileError, match="No such question file"):
        load_questions(tmp_path / "missing.jsonl")
    with pytest.raises(QuestionFileError, match="holds no questions"):
        load_questions(write_lines(tmp_path / "empty.jsonl", "", "  "))


def test_the_seed_question_file_is_well_formed():
    questions = load_questions(SEED_QUESTIONS)
    assert sum(q.answerable for q in questions) >= 60
    assert sum(not q.answerable for q in questions) >= 20
    assert len({q.text for q in questions}) == len(questions)


# -- evidence matching ---------------------------------------------------------------------


def test_evidence_matches_regardless_of_whitespace_quotes_and_case():
    passage = "Rostec cut its advisers to “just a\n few dozen” now; it’s over."
    assert holds_evidence(passage, ['to "Just a few dozen"'])
    assert holds_evidence(passage, ["IT'S OVER"])
    assert holds_evidence(passage, ["no such thing", "few dozen"])
    assert not holds_evidence(passage, ["a few hundred"])
    assert normalise_text("  A\t“B”  ‘c’ ") == "a \"b\" 'c'"


# -- figures and gates ---------------------------------------------------------------------


def citation(n: int, passage: str) -> Citation:
    return Citation(n, passage, passage, "seeds/a.txt", "A", None, 0, len(passage), 0.5)


def outcome(question: Question, passages: list[str], seconds: float = 0.01) -> Outcome:
    citations = [citation(n, passage) for n, passage in enumerate(passages, 1)]
    if citations:
        answer = Answer(question.text, True, f"{passages[0]} [1]", citations)
    else:
        answer = Answer(question.text, False, NOT_FOUND)
    return Outcome(question, answer, seconds)


def sample_report(top_k: int = 5) -> Report:
    found_first = Question(1, "q1", ("alpha",))
    found_third = Question(2, "q2", ("gamma",))
    declined = Question(3, "q3", ("delta",))
    unanswerable_declined = Question(4, "q4")
    unanswerable_answered = Question(5, "q5")
    return Report(
        "sample.jsonl",
        top_k,
        [
            outcome(found_first, ["alpha here", "beta"], 0.010),
            outcome(found_third, ["beta", "beta again", "gamma here"], 0.020),
            outcome(declined, [], 0.030),
            outcome(unanswerable_declined, [], 0.040),
            outcome(unanswerable_answered, ["something unrelated"], 0.100),
        ],
    )


def test_figures_are_worked_out_over_the_right_questions():
    figures = sample_report().figures()
    assert figures["questions"] == 5
    assert (figures["answerable"], figures["unanswerable"]) == (3, 2)
    assert figures["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-4)
    assert figures["answer_has_evidence"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["declined_unanswerable"] == 0.5
    assert figures["wrongly_declined"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["latency_median_ms"] == 30.0
    assert 40.0 < figures["latency_p95_ms"] <= 100.0


def test_hit_at_k_beyond_the_cited_passages_is_not_reported():
    figures = sample_report(top_k=3).figures()
    assert figures["hit@3"] is not None
    assert figures["hit@5"] is None


def test_misses_keep_what_was_cited_instead():
    report = sample_report()
    assert [miss.question.line for miss in report.misses] == [3, 5]
    misses = report.to_dict()["misses"]
    assert misses[0]["answered"] is False
    assert misses[0]["evidence"] == ["delta"]
    assert misses[1]["answerable"] is False
    assert misses[1]["cited"][0]["quote"] == "something unrelated"
    json.dumps(report.to_dict())  # serialisable as it is


def test_rendering_shows_figures_with_counts_and_each_miss():
    console = Console(record=True, width=120)
    console.print(render_evaluation(sample_report()))
    text = console.export_text()
    assert "Declined when unanswerable" in text
    assert "0.500  (1 of 2)" in text
    assert "Misses (2)" in text
    assert "line 3: q3" in text and "got: declined" in text
    assert "line 5: q5" in text and "something unrelated" in text


@pytest.mark.parametrize("width", [24, 40, 120])
def test_the_report_heading_is_one_line_at_any_width(width):
    source = "/a/long/folder/of/question/sets/" + "x" * 60 + "/sample.jsonl"
    report = replace(sample_report(), source=source)
    console = Console(record=True, width=width)
    console.print(render_evaluation(report, "a scratch index of seeds (1 article)"))
    heading, header = console.export_text().splitlines()[:2]
    assert len(heading) <= width and header.strip().startswith("Figure")
    if width == 120:  # the file's name, not its folder
        assert heading == "sample.jsonl · top-k 5 · a scratch index of seeds (1 article)"
    else:
        assert heading.startswith("sample") and "…" in heading


def test_gates_name_each_figure_that_misses_its_limit():
    figures = sample_report(top_k=3).figures()
    failures = failed_gates(
        figures,
        minimums={"hit@1": 0.3, "hit@3": 0.9, "hit@5": 0.5, "mrr": None},
        maximums={"wrongly_declined": 0.2},
    )
    assert len(failures) == 3
    assert failures[0].startswith("hit@3 is 0.667, below the minimum 0.9")
    assert failures[1].startswith("hit@5 was not measured")
    assert failures[2].startswith("wrongly_declined is 0.333, above the maximum 0.2")
    assert failed_gates(figures, {"hit@1": 0.3}, {"wrongly_declined": None}) == []


# -- through the real pipeline -------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_asks_every_question_through_the_real_answerer(seed_pipeline):
    questions = [
        Question(1, "How many advisers remain?", ("“just a few dozen”",)),
        Question(2, "How many advisers remain?", ("words the article never uses",)),
        Question(3, "What is the capital of France?"),
    ]
    progress = []
    report = evaluate(
        seed_pipeline, questions, 5, "inline", lambda done, total: progress.append(done)
    )
    assert progress[-1] == 3
    figures = report.figures()
    assert figures["hit@1"] == 0.5
    assert figures["declined_unanswerable"] == 1.0
    assert all(o.seconds > 0 for o in report.outcomes)
    (miss,) = report.misses
    assert miss.question.line == 2
    assert any("few dozen" in c.passage for c in miss.answer.citations)


def run_eval(*args: str, cwd: Path, index_dir: Path) -> Ran:
    env = {"FACTDESK_INDEX_DIR": str(index_dir), "FACTDESK_SEEDS_DIR": str(SEEDS)}
    with contextlib.chdir(cwd):
        return invoke_factdesk("eval", *args, env=env)


@pytest.mark.slow
def test_eval_command_passes_its_gates_on_the_seed_questions(tmp_path, seed_index):
    result = run_eval(  # from a folder of its own: the default file is the project's
        "--json",
        "--min-hit1", "0.78",  # as shipped, top-k 5: 0.803, 0.845, 0.822, 0.875, 0.465 measured
        "--min-hit3", "0.83",
        "--min-mrr", "0.80",
        "--min-declined", "0.83",
        "--max-wrongly-declined", "0.48",
        cwd=tmp_path,
        index_dir=seed_index,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions_file"] == str(SEED_QUESTIONS)
    assert report["top_k"] == 5
    figures = report["figures"]
    assert figures["questions"] == len(load_questions(SEED_QUESTIONS))
    assert figures["latency_median_ms"] > 0


@pytest.mark.slow
def test_eval_command_exits_7_naming_the_figure_below_its_gate(tmp_path):
    questions = write_lines(
        tmp_path / "q.jsonl",
        '{"question": "How many advisers remain?", "evidence": ["just a few dozen"]}',
        '{"question": "How many advisers remain?", "evidence": ["words the article never uses"]}',
    )
    result = run_eval(
        "--questions", str(questions), "--min-hit1", "0.9", "--min-hit3", "0.5",
        cwd=tmp_path, index_dir=tmp_path / "index",
    )  # fmt: skip
    assert result.returncode == EXIT_GATE_FAILED
    assert "Failed: hit@1 is 0.500, below the minimum 0.9" in result.stderr
    assert "hit@3" not in result.stderr
    assert "Misses (1)" in result.stdout
    assert "words the article never uses" in result.stdout


QUESTIONS = (
    '{"question": "When did the ferries resume?", "evidence": ["ferries resumed on Monday"]}',
)


def ferry_article(folder: Path) -> Path:
    folder.mkdir()
    (folder / "ferry.md").write_text(
        "# Ferries\n\nThe harbour reopened and the ferries resumed on Monday.", encoding="utf-8"
    )
    return folder


def test_eval_measures_in_a_scratch_index_of_its_articles(tmp_path, fake_model):
    questions = write_lines(tmp_path / "q.jsonl", *QUESTIONS)
    articles = ferry_article(tmp_path / "articles")
    with contextlib.chdir(tmp_path):
        result = invoke_factdesk(
            "eval", "--questions", str(questions), "--articles", "articles",
            env={"FACTDESK_INDEX_DIR": str(tmp_path / "index"), "FACTDESK_READER": "none",
                 "FACTDESK_SEEDS_DIR": str(tmp_path / "seeds")},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Indexed 1 document: 1 added" in result.stderr and "Warning" not in result.stderr
    assert result.stdout.splitlines()[0] == (
        "q.jsonl · top-k 5 · a scratch index of articles (1 article)"
    )
    assert not (tmp_path / "index").exists()  # the open index was never touched
    assert articles.exists()


def test_eval_warns_when_told_to_use_the_open_index(tmp_path, fake_model):
    questions = write_lines(tmp_path / "q.jsonl", *QUESTIONS)
    env = {
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_READER": "none",
        "FACTDESK_SEEDS_DIR": str(ferry_article(tmp_path / "seeds")),
    }
    with contextlib.chdir(tmp_path):
        result = invoke_factdesk("eval", "--questions", str(questions), "--use-index", env=env)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if line.startswith("Warning"))
    assert warning.startswith(
        "Warning: measuring the open index, embedded Chroma at index (1 article): every other "
        "article in it moves the figures"
    )
    assert "the open index (1 article)" in result.stdout.splitlines()[0]
    assert (tmp_path / "index").exists()


def test_eval_command_reports_malformed_lines_without_a_traceback(tmp_path):
    questions = write_lines(tmp_path / "q.jsonl", '{"question": "fine", "answerable": false}', "{")
    result = run_eval("--questions", str(questions), cwd=tmp_path, index_dir=tmp_path / "i")
    assert result.returncode == 2
    assert "line 2: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_question_file_ships_inside_the_package():
    """`factdesk eval` works from any folder of an installed copy: its questions are package
    data, not a file of the source checkout's tests."""
    import factdesk
    from factdesk.evaluation.questions import DEFAULT_QUESTIONS

    assert DEFAULT_QUESTIONS.is_relative_to(Path(factdesk.__file__).parent)
    assert len(load_questions(DEFAULT_QUESTIONS)) >= 80


def test_no_product_module_reads_the_tests_folder():
    package = Path(__file__).resolve().parents[1] / "src" / "factdesk"
    readers = [p for p in package.rglob("*.py") if '"tests"' in p.read_text()]
    assert not readers


# -- SQuAD -----------------------------------------------------------------------------------

PARAGRAPH = Paragraph("squad:Tesla#0", "Nikola_Tesla", "Nikola Tesla", "Tesla was born in 1856.")


def squad_outcome(answers: tuple[str, ...], said: str | None, confidence: float) -> SquadOutcome:
    question = SquadQuestion("id", "When was Tesla born?", PARAGRAPH, answers, (0,) * len(answers))
    if said is None:
        answer = Answer(question.text, False, NOT_FOUND, confidence=confidence)
    else:
        cited = replace(citation(1, said), source=PARAGRAPH.doc_id)
        answer = Answer(question.text, True, f"{said} [1]", [cited], confidence=confidence)
    return SquadOutcome(question, answer, 0.01)


def test_squad_answers_match_as_squad_normalises_them():
    assert squad_normalise("The  “Tesla” coil, 1856!") == "tesla coil 1856"
    assert squad_outcome(("1856",), "Tesla was born in 1856.", 0.9).correct
    assert squad_outcome(("the year 1856",), "He was born in year 1856.", 0.9).correct
    assert not squad_outcome(("185",), "Tesla was born in 1856.", 0.9).correct  # whole words
    assert not squad_outcome(("1856",), None, 0.1).correct
    assert squad_outcome((), None, 0.1).correct
    assert not squad_outcome((), "Tesla was born in 1856.", 0.9).correct


def test_squad_figures_count_each_kind_over_its_own_questions():
    report = SquadReport(
        "x.json",
        3,
        [
            squad_outcome(("1856",), "Tesla was born in 1856.", 0.9),
            squad_outcome(("1856",), "He moved to Paris.", 0.8),
            squad_outcome(("1856",), None, 0.2),
            squad_outcome((), None, 0.1),
        ],
    )
    figures = report.figures()
    assert (figures["answerable"], figures["unanswerable"]) == (3, 1)
    assert figures["hit@1"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["span"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["declined_unanswerable"] == 1.0
    assert figures["wrongly_declined"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["correct"] == 0.5
    assert figures["balanced_correct"] == pytest.approx((1 / 3 + 1) / 2, abs=1e-4)
    assert len(report.to_dict()["misses"]) == 2


def test_the_threshold_maximises_correct_decisions_with_both_kinds_weighted_equally():
    outcomes = [
        squad_outcome(("1856",), "Tesla was born in 1856.", 0.9),
        squad_outcome(("1856",), "Tesla was born in 1856.", 0.6),
        squad_outcome(("1856",), "He moved to Paris.", 0.7),  # a wrong quote, best declined
        squad_outcome((), "Tesla was born in 1856.", 0.5),
        squad_outcome((), "Tesla was born in 1856.", 0.3),
    ]
    threshold, balanced = best_threshold(outcomes)
    assert threshold == pytest.approx(0.6)
    assert balanced == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    with pytest.raises(ValueError):
        best_threshold(outcomes[:3])


def tiny_squad(path: Path) -> Path:
    article = (SEEDS / "000_d17e3c436e124a59.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(block.split()) for block in article.split("\n\n") if block.strip()]
    rostec = next(p for p in paragraphs if p.startswith("Russia’s defense conglomerate Rostec"))
    ambassador = next(p for p in paragraphs if "Zayemsky" in p)
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "Russia_and_Venezuela",
                "paragraphs": [
                    {
                        "context": rostec,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "How many advisers remain in Venezuela?",
                                "answers": [
                                    {
                                        "text": "just a few dozen",
                                        "answer_start": rostec.index("just"),
                                    }
                                ],
                            },
                            {
                                "id": "q2",
                                "question": "What is the capital of France?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    },
                    {
                        "context": ambassador,
                        "qas": [
                            {
                                "id": "q3",
                                "question": "What is the name of the Russian ambassador?",
                                "answers": [
                                    {
                                        "text": "Vladimir Zayemsky",
                                        "answer_start": ambassador.index("Vladimir"),
                                    }
                                ],
                            }
                        ],
                    },
                ],
            }
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_squad_runs_a_squad_file_end_to_end_in_a_scratch_index(tmp_path):
    squad = tiny_squad(tmp_path / "tiny.json")
    result = run_eval(
        "--squad", str(squad), "--json", "--min-span", "1", "--min-correct", "1",
        cwd=tmp_path, index_dir=tmp_path / "index",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    figures = report["figures"]
    assert (figures["questions"], figures["answerable"], figures["unanswerable"]) == (3, 2, 1)
    assert figures["hit@1"] == figures["span"] == figures["declined_unanswerable"] == 1.0
    assert "2 documents" in result.stderr or "2 added" in result.stderr
    assert not (tmp_path / "index").exists()  # the user's index is never touched


def test_eval_squad_rejects_a_file_that_is_not_squad_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    result = run_eval("--squad", str(bad), cwd=tmp_path, index_dir=tmp_path / "i")
    assert result.returncode == 2
    assert "not in SQuAD format" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
