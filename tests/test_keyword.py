from factdesk.search.keyword import KeywordIndex, generation_folder, prune_generations, terms


def build(texts: list[str]) -> KeywordIndex:
    return KeywordIndex.build([f"c{i}" for i in range(len(texts))], texts)


def test_terms_stem_and_drop_stop_words():
    assert terms("The advisers are remaining") == ["advis", "remain"]


def test_bm25_ranks_rarer_and_repeated_terms_higher():
    index = build(["Rostec cut its advisers", "advisers advisers advisers in Venezuela", "today"])
    ranked = index.search("advisers", 5)
    assert [chunk for chunk, _ in ranked] == ["c1", "c0"]
    assert index.search("Rostec advisers", 5)[0][0] == "c0"
    assert index.search("nothing matches", 5) == []


def test_a_word_repeated_in_the_query_counts_once():
    index = build(["cancer risk in mice", "cancer cancer trial", "risk of a mouse trial"])
    assert index.search("cancer cancer cancer risk", 3) == index.search("cancer risk", 3)


def test_scores_are_lucene_bm25():
    index = build(["alpha beta", "alpha gamma gamma", "delta"])
    (best, score), *_ = index.search("gamma", 3)
    # idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)); tf part, 3 words against 2 on average
    expected = 0.9808292530117262 * 2 / (2 + 0.9 * (0.6 + 0.4 * 3 / 2))
    assert best == "c1" and abs(score - expected) < 1e-4


def test_bm25_respects_n_and_unseen_terms_have_no_idf():
    index = build([f"doc {i} shared" for i in range(10)])
    assert len(index.search("shared", 3)) == 3
    assert index.idf("absent") == 0.0
    assert index.idf("share") > 0


def test_empty_index_returns_nothing(tmp_path):
    empty = build([])
    assert empty.search("anything", 5) == [] and empty.size == 0
    empty.save(tmp_path / "empty")
    assert KeywordIndex.load(tmp_path / "empty").search("anything", 5) == []


def test_a_saved_index_loads_mapped_and_answers_the_same(tmp_path):
    index = build(["Rostec cut its advisers", "advisers in Venezuela", "weather today"])
    folder = generation_folder(tmp_path, 7)
    index.save(folder)
    loaded = KeywordIndex.load(folder)
    assert loaded.search("advisers Venezuela", 3) == index.search("advisers Venezuela", 3)
    assert loaded.idf("advis") == index.idf("advis")
    assert not folder.with_name(folder.name + ".partial").exists()


def test_only_the_newest_generations_are_kept(tmp_path):
    import os

    for generation in range(4):
        build(["text"]).save(generation_folder(tmp_path, generation))
        os.utime(generation_folder(tmp_path, generation), (generation, generation))
    prune_generations(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        generation_folder(tmp_path, 2).name,
        generation_folder(tmp_path, 3).name,
    ]
