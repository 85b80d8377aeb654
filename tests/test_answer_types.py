"""Whether a sentence holds a new thing of the kind a question asks for."""

from __future__ import annotations

import pytest

from factdesk.answer.answer_types import asks_yes_or_no, holds_new_answer


@pytest.mark.parametrize(
    ("question", "sentence", "holds"),
    [
        ("How many advisers remain?", "It cut them from 1,000 to a few dozen.", True),
        ("How many advisers remain?", "Rostec has cut its advisers.", False),
        ("How many people lived in Kenya in 2009?", "The census was held in 2009.", False),
        ("How many people lived in Kenya in 2009?", "It counted 38.6 million in 2009.", True),
        ("When did Rostec fulfil its last contract?", "It did so in March.", True),
        ("When did the 2008 quake strike?", "The 2008 quake was strong.", False),
        ("Who estimates there are 300 officers?", "Analyst Mark Galeotti estimates so.", True),
        ("Who estimates there are 300 officers?", "Analysts estimate 300 officers.", False),
        ("Which newspaper reported it?", "The Wall Street Journal reported it.", True),
        ("Why did Russia send planes?", "Russia sent planes in 2019.", False),
    ],
)
def test_a_new_thing_of_the_kind_asked_for(question, sentence, holds):
    assert holds_new_answer(question, sentence) is holds


def test_a_name_the_question_already_holds_is_not_an_answer():
    question = "Who did Mark Galeotti meet?"
    assert not holds_new_answer(question, "Mark Galeotti met no one.")
    assert holds_new_answer(question, "Mark Galeotti met Vladimir Zayemsky.")


@pytest.mark.parametrize(
    ("question", "yes_or_no"),
    [
        ("Did the ambassador admit to any cutbacks?", True),
        ("Is Venezuela short of money?", True),
        ("Haven't the payments stopped?", True),
        ("According to the envoy, are the numbers falling?", True),
        ("Is the boarding house for male or female students?", False),
        ("Who is the ambassador?", False),
        ("For which song, did the band win a Grammy?", False),
        ("Does the balloon change it to what?", False),
        ("Canada borders which country?", False),
        ("How many advisers remain?", False),
    ],
)
def test_a_question_that_asks_for_yes_or_no(question, yes_or_no):
    assert asks_yes_or_no(question) is yes_or_no
