import json
import sqlite3

from rich.console import Console

from factdesk.slack.database import (
    BotDatabase,
    FeedbackSummary,
    QuestionVotes,
    Votes,
    database_path,
    feedback_summary,
)
from factdesk.terminal import render_summary


def test_store_lives_beside_the_index(slack_settings, store):
    assert store.path == slack_settings.index_dir / "feedback.sqlite3"
    assert store.path.exists()


def test_answers_round_trip(store, fake_answerer):
    answer = fake_answerer.answer("How many advisers remain?")
    answer_id = store.save_answer(answer, channel="C1", user="U1")
    stored = store.load_answer(answer_id)
    assert stored.answer == answer
    assert (stored.user, stored.shared_by) == ("U1", None)
    assert store.load_answer("nope") is None


def test_threads_are_remembered_across_store_instances(store):
    store.remember_thread("C1", "1.0")
    store.remember_thread("C1", "1.0")
    again = BotDatabase(store.path)
    assert again.is_bot_thread("C1", "1.0")
    assert not again.is_bot_thread("C2", "1.0")


def test_one_vote_per_person_and_answer_with_everything_recorded(store, fake_answerer):
    answer = fake_answerer.answer("How many advisers remain?")
    answer_id = store.save_answer(answer, channel="C1", user="U1")
    assert store.record_vote(answer_id, answer, user="U1", channel="C1", vote="up") == Votes(1, 0)
    assert store.record_vote(answer_id, answer, user="U2", channel="C1", vote="up") == Votes(2, 0)
    assert store.record_vote(answer_id, answer, user="U1", channel="C1", vote="down") == Votes(1, 1)
    with sqlite3.connect(store.path) as db:
        row = db.execute(
            "SELECT user, channel, vote, voted_at, question, answer, sources FROM votes"
            " WHERE user = 'U1'"
        ).fetchone()
    user, channel, vote, voted_at, question, text, sources = row
    assert (user, channel, vote, question) == ("U1", "C1", "down", "How many advisers remain?")
    assert "few dozen" in text and voted_at
    assert json.loads(sources) == ["seeds/000_d17e3c436e124a59.txt"]


def test_summary_counts_and_lists_the_least_helpful_questions(store, fake_answerer):
    fake = fake_answerer

    def vote(question: str, *votes: str) -> None:
        answer = fake.answer(question)
        answer_id = store.save_answer(answer, channel="C1", user="U1")
        for n, value in enumerate(votes):
            store.record_vote(answer_id, answer, user=f"U{n}", channel="C1", vote=value)

    vote("How many advisers remain?", "up", "up", "down")
    vote("how many advisers remain? ", "down")
    vote("Who won the match?", "down", "down", "down")
    vote("Is it raining?", "up")
    summary = store.summarize(limit=5)
    assert (summary.answers, summary.up, summary.down) == (4, 3, 5)
    assert summary.most_down == [
        QuestionVotes("Who won the match?", down=3, up=0),
        QuestionVotes("How many advisers remain?", down=2, up=2),
    ]


def test_summarize_without_a_database_creates_nothing(slack_settings):
    assert feedback_summary(slack_settings) == FeedbackSummary(
        answers=0, up=0, down=0, most_down=[]
    )
    assert not database_path(slack_settings).exists()


def test_summary_renders_with_rich_without_interpreting_markup():
    summary = FeedbackSummary(
        answers=3, up=1, down=2, most_down=[QuestionVotes("[bold]Who won?[/bold]", down=2, up=0)]
    )
    console = Console(record=True, width=100)
    console.print(render_summary(summary))
    output = console.export_text()
    assert "3 answers posted · 1 👍 · 2 👎" in output
    assert "[bold]Who won?[/bold]" in output


def test_empty_summary_renders_a_line():
    console = Console(record=True, width=100)
    console.print(render_summary(FeedbackSummary(answers=0, up=0, down=0, most_down=[])))
    assert "No 👎 so far." in console.export_text()


def test_an_answer_with_a_short_answer_round_trips(store):
    from factdesk.answer.answers import Answer, Citation, ShortAnswer

    quote = "Rostec has cut its advisers to just a few dozen now."
    answer = Answer(
        "How many advisers remain?",
        True,
        f"just a few dozen: “{quote}” [1]",
        [Citation(1, quote, quote, "seeds/a.txt", "Advisers", None, 10, 10 + len(quote), 0.8)],
        confidence=0.8,
        short_answer=ShortAnswer("just a few dozen", 40, 56),
    )
    answer_id = store.save_answer(answer, channel="C1", user="U1")
    stored = store.load_answer(answer_id)
    assert stored is not None and stored.answer == answer
