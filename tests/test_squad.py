"""Reading SQuAD files: both versions, written back, and clear errors for files that are not."""

from __future__ import annotations

import json

import pytest

from factdesk.errors import QuestionFileError
from factdesk.evaluation.squad import load_squad, write_squad

SQUAD_V2 = {
    "version": "v2.0",
    "data": [
        {
            "title": "Nikola_Tesla",
            "paragraphs": [
                {
                    "context": "Tesla was born in 1856. He moved to Paris.",
                    "qas": [
                        {
                            "id": "a",
                            "question": "When was Tesla born?",
                            "answers": [{"text": "1856", "answer_start": 18}],
                            "is_impossible": False,
                        },
                        {
                            "id": "b",
                            "question": "When was Edison born?",
                            "answers": [],
                            "plausible_answers": [{"text": "1856", "answer_start": 18}],
                            "is_impossible": True,
                        },
                    ],
                },
                {"context": "He died in 1943.", "qas": []},
            ],
        }
    ],
}


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_paragraphs_become_articles_and_questions_know_their_paragraph(tmp_path):
    squad = load_squad(write(tmp_path / "s.json", SQUAD_V2))
    assert [p.doc_id for p in squad.paragraphs] == ["squad:Nikola_Tesla#0", "squad:Nikola_Tesla#1"]
    answerable, impossible = squad.questions
    assert answerable.answerable and answerable.answers == ("1856",)
    assert answerable.paragraph.text[18:22] == "1856"
    assert not impossible.answerable and impossible.plausible_starts == (18,)
    article = squad.paragraphs[0].as_article()
    assert article.title == "Nikola Tesla" and article.has_own_title
    assert article.doc_id == article.source == "squad:Nikola_Tesla#0"


def test_v1_files_have_no_unanswerable_questions(tmp_path):
    data = json.loads(json.dumps(SQUAD_V2))
    data["version"] = "1.1"
    qas = data["data"][0]["paragraphs"][0]["qas"]
    del qas[1]
    del qas[0]["is_impossible"]
    squad = load_squad(write(tmp_path / "v1.json", data))
    assert [q.answerable for q in squad.questions] == [True]


def test_a_set_written_back_reads_the_same(tmp_path):
    squad = load_squad(write(tmp_path / "s.json", SQUAD_V2))
    part = squad.only({"Nikola_Tesla"})
    write_squad(part, tmp_path / "again.json")
    again = load_squad(tmp_path / "again.json")
    assert [(q.id, q.text, q.answers) for q in again.questions] == [
        (q.id, q.text, q.answers) for q in squad.questions
    ]
    assert squad.only({"Other"}).questions == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "Cannot read the SQuAD file"),
        ('{"data": [{"title": "x"}]}', "not in SQuAD format"),
        ('{"data": [{"title": "x", "paragraphs": [{"qas": []}]}]}', "not in SQuAD format"),
        ('{"data": []}', "holds no questions"),
        ("[1, 2]", "not in SQuAD format"),
    ],
)
def test_files_that_are_not_squad_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QuestionFileError, match=message) as caught:
        load_squad(path)
    assert caught.value.exit_code == 2


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(QuestionFileError, match="No such SQuAD file"):
        load_squad(tmp_path / "missing.json")
