"""Follow-ups without a language model: what a question and its history are read and searched as."""

from __future__ import annotations

import pytest

from factdesk.answer.conversation import (
    FOLLOW_UP_WEIGHT,
    GIVEN_FACTOR,
    SELF_CONTAINED_WEIGHT,
    Query,
    Session,
    Turn,
    build_query,
    depends_on_history,
    parse_request,
    referent_of,
    resolve,
)
from factdesk.errors import QuestionError

AMBASSADOR = "Who is Russia's ambassador in Venezuela?"
ZAYEMSKY = (
    '"The work is carried out in compliance with existing obligations, and there is no question '
    'of any reductions," Ambassador Vladimir Zayemsky was quoted as saying. [1]'
)


@pytest.mark.parametrize(
    "question",
    [
        "What did he say?",
        "And now?",
        "When?",
        "Who said that?",
        "According to whom?",
        "Contracts for what?",
        "What else did that source say?",
        "Why is Moscow giving up on him?",
    ],
)
def test_follow_ups_are_recognised(question):
    assert depends_on_history(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who is Mark Galeotti?",
        "How many advisers does Rostec have in Venezuela now?",
        "What did the Wall Street Journal report on Sunday?",
    ],
)
def test_self_contained_questions_are_not_follow_ups(question):
    assert not depends_on_history(question)


@pytest.mark.parametrize(
    ("previous", "referent", "person"),
    [
        (AMBASSADOR, "Russia's ambassador in Venezuela", True),
        ("Who is Mark Galeotti?", "Mark Galeotti", True),
        ("What is the capital of Venezuela?", "the capital of Venezuela", False),
        ("Who denied the reports?", "the person who denied the reports", True),
        (
            "Which newspaper reported the withdrawal?",
            "the newspaper that reported the withdrawal",
            False,
        ),
        (
            "Which Russian company is cutting its advisers?",
            "the Russian company that is cutting its advisers",
            False,
        ),
        ("How many advisers remain?", None, None),
    ],
)
def test_what_a_previous_question_was_about(previous, referent, person):
    found = referent_of(previous)
    assert (found.text if found else None) == referent
    if found:
        assert found.person is person


def test_a_pronoun_is_replaced_by_its_referent():
    assert (
        resolve("What did he say?", AMBASSADOR) == "What did Russia's ambassador in Venezuela say?"
    )
    assert (
        resolve("What is his estimate?", "Who is Mark Galeotti?")
        == "What is Mark Galeotti's estimate?"
    )


def test_a_question_that_stays_elliptical_is_read_with_the_previous_one():
    assert resolve("When?", "Which contracts stopped being paid?") == (
        "When? (Which contracts stopped being paid?)"
    )


def test_no_history_means_the_question_alone():
    query = build_query("What did he say?", [])
    assert query == Query.alone("What did he say?") and query.search == "What did he say?"


def test_a_follow_up_leans_on_recent_turns_at_lower_weight():
    history = [Turn("Who is Mark Galeotti?", "Analyst."), Turn(AMBASSADOR, ZAYEMSKY)]
    query = build_query("What did he say?", history)
    assert query.standalone == "What did Russia's ambassador in Venezuela say?"
    (latest, latest_weight), (older, older_weight) = query.context
    assert latest.startswith(AMBASSADOR) and "[1]" not in latest and "Zayemsky" in latest
    assert latest_weight == FOLLOW_UP_WEIGHT and older_weight == FOLLOW_UP_WEIGHT / 2
    assert older.startswith("Who is Mark Galeotti?")
    assert AMBASSADOR in query.search  # the keyword side gets the previous question's words


def test_a_new_self_contained_question_leans_on_history_less_and_is_read_as_asked():
    query = build_query("Who is Mark Galeotti?", [Turn(AMBASSADOR, ZAYEMSKY)])
    assert query.standalone == "Who is Mark Galeotti?" and query.search == "Who is Mark Galeotti?"
    assert query.context[0][1] == SELF_CONTAINED_WEIGHT < FOLLOW_UP_WEIGHT


def test_a_third_turn_resolves_through_the_second():
    history = [Turn("Who denied the reports?", ""), Turn("How did he describe them?", "")]
    query = build_query("What is his name?", history)
    assert query.standalone == (
        "What is his name? (How did the person who denied the reports describe them?)"
    )


def test_sentences_already_quoted_weigh_less():
    query = build_query("What did he say?", [Turn(AMBASSADOR, ZAYEMSKY)])
    quoted = ZAYEMSKY.removesuffix(" [1]")
    assert query.weight(quoted) == GIVEN_FACTOR < 1
    assert query.weight("Russia's ambassador in Venezuela has denied the reports.") == 1.0


def test_the_llm_condense_step_replaces_the_rules_and_its_failure_falls_back_to_them():
    history = [Turn(AMBASSADOR, ZAYEMSKY)]
    seen = []

    def condense(question, turns):
        seen.append((question, list(turns)))
        return "What did Vladimir Zayemsky say about the reports?"

    query = build_query("What did he say?", history, condense)
    assert query.standalone == "What did Vladimir Zayemsky say about the reports?"
    assert query.context == () and seen == [("What did he say?", history)]
    fallback = build_query("What did he say?", history, lambda q, t: None)
    assert fallback.standalone == "What did Russia's ambassador in Venezuela say?"


def test_ask_lines_are_plain_questions_or_json_with_history():
    assert parse_request("How many advisers remain?\n") == ("How many advisers remain?", [])
    line = '{"question": "What did he say?", "history": [{"question": "Who?", "answer": "Him."}]}'
    assert parse_request(line) == ("What did he say?", [Turn("Who?", "Him.")])
    assert parse_request('{"question": "Alone?"}') == ("Alone?", [])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"history": []}', '"question"'),
        ('{"question": "Q?", "history": "yes"}', '"history" must be a list'),
        ('{"question": "Q?", "history": [{"answer": "A"}]}', 'turn 1 needs a "question"'),
        ('{"question": "Q?", "history": [{"question": "Q", "answer": 3}]}', '"answer" must be'),
    ],
)
def test_malformed_ask_lines_are_refused(line, message):
    with pytest.raises(QuestionError, match=message):
        parse_request(line)


def test_a_session_remembers_turns_until_it_starts_over():
    session = Session()
    session.add(AMBASSADOR, ZAYEMSKY)
    assert build_query("What did he say?", session.turns).standalone != "What did he say?"
    session.clear()
    assert session.turns == [] and build_query("What did he say?", session.turns).context == ()
