"""Follow-ups over articles nobody tuned on: issue 10's measure beyond the seed conversations.

tests/seed_conversations.jsonl was written by the people who wrote the follow-up rules, over the
one seed article, and rules chosen on it prove little. The conversations in
benchmarks/conversations/ were written blind to the code (by someone who read only the article)
over whole SQuAD articles, split as the reader is: `tune.jsonl` (Apollo_program, a reader tune
article, and 2008_Sichuan_earthquake) to choose rules on, `test.jsonl` (Kenya and
Spectre_(2015_film), reader test articles) to report once. Each split's articles are indexed
whole, together, in a scratch index, and every follow-up is asked with factdesk's own earlier
answers as history and alone, side by side (`factdesk eval --conversations` does the same on
the seed index).

    python benchmarks/conversations.py --data ../shared/data/squad --conversations tune
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import RenderableType

import machine
from factdesk.config import Settings
from factdesk.evaluation.conversations import evaluate_conversations, load_conversations
from factdesk.evaluation.reports import render_conversations
from factdesk.ingest.documents import Article
from factdesk.search.embeddings import prepare_runtime
from factdesk.service import scratch_pipeline

HERE = Path(__file__).resolve().parent / "conversations"


def articles_of(data: Path, titles: set[str]) -> list[Article]:
    """The named SQuAD articles, whole: their paragraphs in order, as a news article's are."""
    found = {}
    for file in sorted(data.glob("*.json")):
        for article in json.loads(file.read_text(encoding="utf-8"))["data"]:
            if article["title"] in titles:
                text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
                title = article["title"].replace("_", " ")
                found[article["title"]] = Article(f"squad:{article['title']}", title, title, text)
    missing = titles - found.keys()
    if missing:
        raise SystemExit(f"{data} does not hold the article(s): {', '.join(sorted(missing))}")
    return [found[title] for title in sorted(titles)]


def measure(data: Path, path: Path, top_k: int) -> tuple[dict, RenderableType]:
    """The figures with and without history, and their table."""
    conversations = load_conversations(path)
    titles = {json.loads(line).get("article") for line in path.read_text().splitlines() if line}
    if None in titles:
        raise SystemExit(f'{path}: every conversation needs the "article" (a SQuAD title) it is on')
    settings = Settings(_env_file=None)
    with scratch_pipeline(settings, articles_of(data, titles)) as pipeline:
        report = evaluate_conversations(pipeline, conversations, top_k, str(path))
    return report.to_dict(), render_conversations(report)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the SQuAD files")
    parser.add_argument(
        "--conversations",
        default="tune",
        help="'tune', 'test' (benchmarks/conversations/) or a JSONL file of the same shape",
    )
    parser.add_argument("--top-k", type=int, default=3, help="passages cited (as factdesk eval)")
    parser.add_argument("--out", type=Path, help="write the figures and misses here as JSON")
    args = parser.parse_args(argv)
    prepare_runtime()
    path = HERE / f"{args.conversations}.jsonl"
    if args.conversations not in ("tune", "test"):
        path = Path(args.conversations)
    figures, rendered = measure(args.data, path, args.top_k)
    machine.publish({"machine": machine.describe(), **figures}, rendered, args.out)


if __name__ == "__main__":
    main()
