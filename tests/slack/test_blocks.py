import json
from dataclasses import replace

from factdesk.answer.answers import NOT_FOUND, Answer, Citation
from factdesk.slack.blocks import (
    MAX_BLOCKS,
    MAX_TEXT,
    SHARE,
    VOTE_DOWN,
    VOTE_UP,
    notice,
    render_answer,
)
from factdesk.slack.database import Votes

CITATION = Citation(
    n=1,
    quote="Rostec has cut its advisers to “just a few dozen” now.",
    passage="…",
    source="seeds/000.txt",
    title="Russia Withdraws Advisers",
    url="https://example.com/a?x=1&y=2",
    start=0,
    end=10,
    score=0.8,
)
ANSWER = Answer("How many advisers remain?", True, f"{CITATION.quote} [1]", [CITATION])


def texts(blocks: list[dict]) -> list[str]:
    """Every text Slack would parse as mrkdwn or show, in order."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [element["text"] for element in block.get("elements", []) if "text" in element]
    return [t if isinstance(t, str) else t["text"] for t in found]


def test_answer_then_one_block_per_citation_then_question_and_buttons():
    message = render_answer(ANSWER, answer_id="a1")
    kinds = [block["type"] for block in message.blocks]
    assert kinds == ["section", "section", "context", "actions"]
    answer, citation, context, actions = message.blocks
    assert answer["text"]["text"] == "Rostec has cut its advisers to “just a few dozen” now. [1]"
    assert citation["text"]["text"] == (
        "*[1]* <https://example.com/a?x=1&amp;y=2|Russia Withdraws Advisers>\n"
        "> Rostec has cut its advisers to “just a few dozen” now."
    )
    assert context["elements"][0]["text"] == "Question: How many advisers remain?"
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        (VOTE_UP, "a1"),
        (VOTE_DOWN, "a1"),
    ]
    assert "few dozen" in message.text and "[1] Russia Withdraws Advisers" in message.text


def test_citation_shows_its_publication_date_beside_the_title():
    dated = replace(CITATION, published="2024-06-03")
    message = render_answer(replace(ANSWER, citations=[dated]), answer_id="a1")
    assert message.blocks[1]["text"]["text"].startswith(
        "*[1]* <https://example.com/a?x=1&amp;y=2|Russia Withdraws Advisers> (2024-06-03)\n"
    )
    assert "[1] Russia Withdraws Advisers (2024-06-03) (https://" in message.text


def test_decline_says_not_found_plainly():
    message = render_answer(Answer("Who won?", False, NOT_FOUND), answer_id="a2")
    assert message.blocks[0]["text"]["text"] == NOT_FOUND
    assert message.text == NOT_FOUND
    assert [block["type"] for block in message.blocks] == ["section", "context", "actions"]


def test_article_and_question_text_cannot_ping_or_forge_links():
    evil = "<!channel> <!here> <@U123> <https://evil.example|your bank> & co"
    citation = replace(CITATION, quote=evil, title=evil, url="https://ok.example/|<!here>")
    answer = Answer(evil, True, evil, [citation], warnings=[evil])
    message = render_answer(answer, answer_id="a3")
    rendered = json.dumps(message.blocks) + message.text
    for forbidden in ("<!channel>", "<!here>", "<@U123>", "<https://evil"):
        assert forbidden not in rendered
    assert "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]
    assert message.blocks[1]["text"]["text"].startswith(
        "*[1]* <https://ok.example/%7C&lt;!here&gt;|&lt;!channel&gt;"
    )


def test_only_plain_http_urls_become_links():
    for url in ("javascript:alert(1)", "https://a.example/with space", None, "x" * 2000):
        message = render_answer(
            replace(ANSWER, citations=[replace(CITATION, url=url)]), answer_id="a"
        )
        assert message.blocks[1]["text"]["text"].startswith("*[1]* *Russia Withdraws Advisers*\n")


def test_long_texts_and_many_citations_stay_within_slack_limits():
    long = "word & " * 2000
    citations = [replace(CITATION, n=n, quote=long, title=long) for n in range(1, 80)]
    answer = Answer(long, True, long, citations, warnings=[long] * 20)
    message = render_answer(answer, answer_id="a4", shareable=True, votes=Votes(1, 2))
    assert len(message.blocks) <= MAX_BLOCKS
    assert all(len(text) <= MAX_TEXT for text in texts(message.blocks))
    assert len(message.text) <= MAX_TEXT
    assert all(len(block.get("elements", [])) <= 10 for block in message.blocks)
    assert message.blocks[-2]["type"] == "actions"  # the buttons survive the cut


def test_shareable_answer_has_a_post_to_channel_button():
    actions = render_answer(ANSWER, answer_id="a5", shareable=True).blocks[-1]
    assert [b["action_id"] for b in actions["elements"]] == [VOTE_UP, VOTE_DOWN, SHARE]


def test_shared_answer_names_who_shared_it_and_votes_show_feedback():
    message = render_answer(ANSWER, answer_id="a6", shared_by="U42", votes=Votes(up=2, down=1))
    assert "Shared by <@U42> with /factdesk" in texts(message.blocks)
    assert message.blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Feedback received, thanks! 👍 2 · 👎 1"}],
    }


def test_shared_by_must_look_like_a_user_id():
    message = render_answer(ANSWER, answer_id="a7", shared_by="<!channel>")
    assert not any("Shared by" in text for text in texts(message.blocks))


def test_notice_is_escaped_and_has_no_buttons():
    message = notice("Nope <!here>")
    assert message.text == "Nope &lt;!here&gt;"
    assert [block["type"] for block in message.blocks] == ["section"]


def test_answers_show_the_readers_confidence():
    message = render_answer(replace(ANSWER, confidence=0.87), answer_id="a1")
    assert message.blocks[2]["elements"][1]["text"] == "Confidence 87%"


def test_a_decline_lists_related_passages_as_related_not_as_an_answer():
    related = replace(CITATION, quote="Rostec fulfilled its last major contract in March.")
    declined = Answer(
        "Who runs Rostec?", False, f"{NOT_FOUND} Related passages:", [related], confidence=0.04
    )
    message = render_answer(declined, answer_id="a4")
    shown = texts(message.blocks)
    assert shown[0] == f"{NOT_FOUND} Related passages:"
    assert "last major contract" in shown[1]
    assert not any(text.startswith("Confidence") for text in shown)


def test_a_short_answer_leads_in_bold_with_its_span_marked_in_the_quote():
    from factdesk.answer.answers import ShortAnswer

    sentence = "Rostec has cut its advisers to “just a few dozen” now."
    offset = sentence.index("just a few dozen")
    first = Citation(1, sentence, sentence, "seeds/a.txt", "Advisers", None, 100, 154, 0.9)
    answer = Answer(
        "How many advisers remain?",
        True,
        f"just a few dozen: “{sentence}” [1]",
        [first],
        confidence=0.9,
        short_answer=ShortAnswer("just a few dozen", 100 + offset, 116 + offset),
    )
    message = render_answer(answer, answer_id="a1")
    lead = message.blocks[0]["text"]["text"]
    assert lead.startswith("*just a few dozen*\n> Rostec has cut")
    assert "*just a few dozen*” now." in lead and lead.endswith("*[1]*")
    assert message.blocks[1]["text"]["text"] == "*[1]* *Advisers*"  # not quoted twice
