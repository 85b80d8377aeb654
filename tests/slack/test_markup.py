from factdesk.slack.markup import escape, escape_within, to_plain


def test_escape_neutralises_mentions_and_links():
    assert escape("<!channel> & <@U123> <https://evil.example|bank>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|bank&gt;"
    )


def test_escape_within_never_cuts_an_entity():
    text = "a" * 8 + "&&&&"
    cut = escape_within(text, 14)
    assert len(cut) <= 14
    assert cut == "aaaaaaaa&amp;…"


def test_escape_within_leaves_short_text_alone():
    assert escape_within("fine & dandy", 100) == "fine &amp; dandy"


def test_to_plain_drops_the_bots_mention_and_resolves_markup():
    text = "<@UBOT> does <@U2|ana> know about <#C1|news> or <https://x.example/a|this>? &lt;3 &amp;"
    assert to_plain(text, "UBOT") == "does @ana know about #news or this? <3 &"


def test_to_plain_keeps_special_mentions_as_words():
    assert to_plain("<!channel> <!here> how many advisers?") == "@channel @here how many advisers?"
    assert to_plain("<!subteam^S1|@editors> hi <!date^1392734382^{date}|Feb 18>") == (
        "@editors hi Feb 18"
    )


def test_to_plain_of_a_bare_mention_is_empty():
    assert to_plain("<@UBOT>", "UBOT") == ""
    assert to_plain("  <@UBOT|factdesk>  ", "UBOT") == ""
