from factdesk.keyword import KeywordIndex, terms


def test_terms_stem_and_drop_stop_words():
    assert terms("The advisers are remaining") == ["advis", "remain"]


def test_bm25_ranks_rarer_and_repeated_terms_higher():
    index = KeywordIndex(
        ["Rostec cut its advisers", "advisers advisers advisers in Venezuela", "weather today"]
    )
    ranked = index.search("advisers", 5)
    assert [position for position, _ in ranked] == [1, 0]
    assert index.search("Rostec advisers", 5)[0][0] == 0
    assert index.search("nothing matches", 5) == []


def test_bm25_respects_n_and_unseen_terms_have_no_idf():
    index = KeywordIndex([f"doc {i} shared" for i in range(10)])
    assert len(index.search("shared", 3)) == 3
    assert index.idf("absent") == 0.0
    assert index.idf("share") > 0


def test_empty_index_returns_nothing():
    assert KeywordIndex([]).search("anything", 5) == []
