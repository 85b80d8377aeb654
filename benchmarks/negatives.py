"""How each kind of made negative moves the reader: the same SQuAD 2.0 questions (answerable, and
its own unanswerable ones) trained four times, alone, with on-topic paragraphs, with made
unanswerables, and with both, each measured on held-out articles in the single-paragraph setting:

    python benchmarks/negatives.py --data ../shared/data/squad --out build/negatives

For each variant it trains the bundled all-MiniLM-L6-v2 with a fresh span head exactly as
`train_reader.py` does (same windows, order, seed and optimiser; only the negatives differ),
exports it to ONNX (fp32) and reads every question against its own paragraph:
- on the tune articles: F1 of the best span on the answerable questions, and how well the
  "no answer" margin separates them from the unanswerable ones (AUC);
- on the SQuAD 2.0 test articles: the same, reported once.
A smaller budget than the shipped reader's (--questions, default 4,000 of both kinds) keeps the
four runs to about an hour on 2 cores; each variant resumes from its checkpoint when run again.
It prints a table and writes --out/negatives.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reader_figures
import squad_data
import train_reader as tr

# name: (on-topic paragraph rate, made unanswerable rate)
VARIANTS = {
    "SQuAD 2.0 questions only": (0.0, 0.0),
    "+ on-topic paragraphs": (0.25, 0.0),
    "+ made unanswerables": (0.0, 0.25),
    "+ both": (0.25, 0.25),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the SQuAD files")
    parser.add_argument("--out", type=Path, required=True, help="folder for models and figures")
    parser.add_argument("--questions", type=int, default=4000, help="questions a variant [4000]")
    parser.add_argument("--tune-questions", type=int, default=600, help="[600]")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from transformers import AutoTokenizer

    from factdesk.answer.reader import Reader
    from factdesk.search.embeddings import bundled_model_path, prepare_runtime

    prepare_runtime(args.threads)
    repo = Path(__file__).resolve().parent.parent
    paragraphs, questions = squad_data.load_articles(args.data)
    out_of_training = squad_data.held_out(repo)
    pool = [q for q in questions if q.article not in out_of_training]
    random.Random(tr.SEED).shuffle(pool)
    positives = pool[: args.questions]  # both kinds, as train_reader.py takes them
    tune = [q for q in questions if q.article in squad_data.TUNE and q.exact]
    random.Random(tr.SEED).shuffle(tune)
    test = [
        q for q in questions if q.article in squad_data.TEST - squad_data.DEV_ARTICLES and q.exact
    ]
    bank = tr.ArticleBank(paragraphs)
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    tokenizer_file = args.out / "tokenizer" / "tokenizer.json"
    tokenizer.save_pretrained(str(args.out / "tokenizer"))
    results = {}
    for name, (on_topic, made) in VARIANTS.items():
        started = time.perf_counter()
        rng = random.Random(tr.SEED)
        examples = tr.make_examples(positives, bank, rng, on_topic, made)
        encoded, kinds = [], Counter()
        for example in examples:
            window = tr.encode(
                tokenizer, example, paragraphs[example.article][example.paragraph], rng
            )
            if window:
                encoded.append(window)
                kinds[example.kind] += 1
        folder = args.out / name.strip("+ ").split(" ")[0].replace("-", "_")
        folder.mkdir(exist_ok=True)
        training = argparse.Namespace(
            epochs=1, batch=16, lr=1e-4, threads=args.threads, resume=True, start_from=None
        )
        print(f"{name}: {dict(kinds)}", flush=True)
        fp32, _ = tr.export_onnx(tr.train(encoded, folder, training), folder)
        results[name] = {
            "windows": dict(kinds),
            "tune": reader_figures.paragraph_figures(
                Reader(model_file=fp32, tokenizer_file=tokenizer_file),
                paragraphs,
                tune,
                args.tune_questions,
            ),
            "test, SQuAD 2.0 articles": reader_figures.paragraph_figures(
                Reader(model_file=fp32, tokenizer_file=tokenizer_file), paragraphs, test, len(test)
            ),
            "seconds": round(time.perf_counter() - started),
        }
        print(name, json.dumps(results[name]), flush=True)
        (args.out / "negatives.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict) -> str:
    rows = [
        "| negatives | windows | tune F1 | tune no-answer AUC | test F1 | test no-answer AUC |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        tune, test = result["tune"], result["test, SQuAD 2.0 articles"]
        rows.append(
            f"| {name} | {sum(result['windows'].values()):,} | {tune['f1']} | "
            f"{tune['no_answer_auc']} | {test['f1']} | {test['no_answer_auc']} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
