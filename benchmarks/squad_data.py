"""The SQuAD files the reader trains and is measured on, and how they are split, by article.

`../shared/data/squad` (see its README) holds SQuAD 2.0 train, rebuilt with its 43,451
unanswerable questions (the SQuAD v1.1 train articles), and 13 SQuAD v1.1 dev articles. TUNE and
TEST are held out of training, with every article `benchmarks/conversations/` asks about; tuning
and measuring use only the questions in SQuAD's own wording (a machine round trip's are left
out), while training uses them all.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path

FILES = {
    "v2.0": "squad-v2.0-train-reconstructed.json.gz",
    "v1.1-dev": "squad-v1.1-13-articles.json",
}
# Held out by article. TEST is never seen before the final report; TUNE chooses the threshold,
# the confidence and the int8 decision. The first five of each were held out by the previous
# reader too, so old and new are compared on articles neither trained on; the others were drawn
# in a seeded shuffle of SQuAD 2.0 train among articles with 30 or more unanswerable questions in
# their official wording (the only ones tuned or measured on).
TUNE = {
    "Apollo_program",
    "Genghis_Khan",
    "The_Legend_of_Zelda:_Twilight_Princess",
    "Solar_energy",
    "2008_Sichuan_earthquake",
    "Thuringia",
    "IBM",
    "Dell",
    "Planck_constant",
    "Time",
    "Yale_University",
}
TEST = {
    "Doctor_Who",
    "Kenya",
    "Chloroplast",
    "Spectre_(2015_film)",
    "To_Kill_a_Mockingbird",
    "Royal_Institute_of_British_Architects",
    "ASCII",
    "States_of_Germany",
    "Data_compression",
    "Cork_(city)",
    "Sanskrit",
    "Incandescent_light_bulb",
    "Separation_of_church_and_state_in_the_United_States",
    "Westminster_Abbey",
}
DEV_ARTICLES = {"Doctor_Who", "Kenya", "Chloroplast", "Apollo_program", "Genghis_Khan"}


@dataclass(frozen=True)
class Question:
    """A SQuAD question with its paragraph (an index into its article's) and answer."""

    id: str
    article: str
    paragraph: int  # index into the article's paragraphs
    text: str
    answer: str  # empty: unanswerable (SQuAD 2.0)
    start: int  # answer's character offset in the paragraph, -1 when unanswerable
    # in SQuAD's own wording, in a paragraph of its own text (not a machine round trip)
    exact: bool = True


def load_articles(folder: Path) -> tuple[dict[str, list[str]], list[Question]]:
    """Every article's paragraphs and every question: SQuAD 2.0 train (the v1.1 train articles
    with their unanswerable questions) and the 13 v1.1 dev articles."""
    paragraphs: dict[str, list[str]] = {}
    questions: list[Question] = []
    for name in ("v2.0", "v1.1-dev"):
        path = folder / FILES[name]
        if not path.exists():
            sys.exit(f"Error: no SQuAD file {path} (see ../shared/data/squad/README.md)")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)["data"]
        for article in data:
            title = article["title"]
            if title in paragraphs:
                continue
            paragraphs[title] = [p["context"] for p in article["paragraphs"]]
            for number, paragraph in enumerate(article["paragraphs"]):
                own_text = "backtranslation" not in paragraph.get("context_source", "")
                for qa in paragraph["qas"]:
                    exact = own_text and "backtranslation" not in qa.get("text_source", "")
                    if qa.get("is_impossible") or not qa["answers"]:
                        questions.append(
                            Question(qa["id"], title, number, qa["question"], "", -1, exact)
                        )
                        continue
                    answer = qa["answers"][0]
                    questions.append(
                        Question(
                            qa["id"],
                            title,
                            number,
                            qa["question"],
                            answer["text"],
                            answer["answer_start"],
                            exact,
                        )
                    )
    return paragraphs, questions


def held_out(repo: Path) -> set[str]:
    """TUNE, TEST and every article the conversations benchmark asks about."""
    articles = set(TUNE | TEST)
    for path in (repo / "benchmarks" / "conversations").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip() and (article := json.loads(line).get("article")):
                articles.add(article)
    return articles


def squad_set(folder: Path, articles: set[str], name: str, limit: int | None = None):
    """The given articles as one SQuAD set, with the questions in SQuAD's own wording only
    (every paragraph is indexed; a machine round trip's questions are left out)."""
    from factdesk.evaluation.squad import SquadSet, parse_squad

    chosen, seen = [], set()
    for key in ("v2.0", "v1.1-dev"):
        path = folder / FILES[key]
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)["data"]
        for article in data:
            if article["title"] in articles and article["title"] not in seen:
                seen.add(article["title"])
                chosen.append(own_wording(article))
    parsed = parse_squad(name, {"data": chosen})
    questions = parsed.questions
    if limit:  # a smoke test: an even spread of the questions, every paragraph indexed
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    return SquadSet(name, parsed.paragraphs, questions)


def own_wording(article: dict) -> dict:
    def kept(paragraph: dict) -> list[dict]:
        if "backtranslation" in paragraph.get("context_source", ""):
            return []
        return [q for q in paragraph["qas"] if "backtranslation" not in q.get("text_source", "")]

    return article | {"paragraphs": [p | {"qas": kept(p)} for p in article["paragraphs"]]}


def withheld(squad, share: float, seed: int = 13):
    """The set with `share` of its paragraphs left out of the index (chosen in a seeded draw):
    their questions stay, every one unanswerable. What "the articles don't say" looks like
    when a user asks about something no article covers, beside SQuAD 2.0's questions written
    to look answerable from a paragraph that does not answer them."""
    import random
    from dataclasses import replace

    from factdesk.evaluation.squad import SquadSet

    paragraphs = list(squad.paragraphs)
    gone = set(random.Random(seed).sample(range(len(paragraphs)), round(share * len(paragraphs))))
    left_out = {paragraphs[i].doc_id for i in gone}
    questions = [
        replace(q, answers=(), answer_starts=()) if q.paragraph.doc_id in left_out else q
        for q in squad.questions
    ]
    kept = [p for i, p in enumerate(paragraphs) if i not in gone]
    return SquadSet(f"{squad.name}, {share:.0%} of paragraphs withheld", kept, questions)
