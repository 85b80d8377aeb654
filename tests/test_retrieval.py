import pytest

from factdesk.search.retrieval import asks_about_now, fuse, min_max, recency_factors


def test_normalise_min_max():
    assert min_max({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert min_max({"a": 0.3}) == {"a": 1.0}
    assert min_max({"a": 0.008, "b": 0.008}) == {"a": 0.5, "b": 0.5}  # a tie: no best
    assert min_max({}) == {}


def test_copies_that_tie_on_one_side_do_not_outrank_the_other_sides_best():
    """Dense search returning nothing but copies of one passage, all at one cosine, once gave
    each of them the top fused score, level with the keyword side's answer."""
    copies = {f"copy-{n:03}": 0.008 for n in range(50)}
    fused = fuse(copies, {"seed-1": 12.0, "seed-2": 3.0, "copy-000": 1.0}, dense_weight=0.5)
    assert max(fused, key=fused.get) == "seed-1"
    assert fused["seed-1"] > max(fused[key] for key in copies)


def test_fuse_weights_each_side_and_missing_side_counts_zero():
    fused = fuse({"a": 0.9, "b": 0.5}, {"b": 10.0, "c": 2.0}, dense_weight=0.7)
    assert fused["a"] == pytest.approx(0.7)
    assert fused["b"] == pytest.approx(0.3)
    assert fused["c"] == pytest.approx(0.0)


def test_fuse_with_one_side_only():
    assert fuse({}, {"x": 1.0, "y": 0.0}, 0.7) == pytest.approx({"x": 0.3, "y": 0.0})
    assert fuse({"x": 1.0, "y": 0.0}, {}, 1.0) == pytest.approx({"x": 1.0, "y": 0.0})


@pytest.mark.parametrize(
    "question",
    [
        "How many advisers remain?",
        "How many advisers are in Venezuela now?",
        "What is the latest figure?",
        "Is the bridge still closed?",
        "Who currently leads the council?",
        "How many passengers so far this year?",
    ],
)
def test_questions_about_the_current_state(question):
    assert asks_about_now(question)


@pytest.mark.parametrize(
    "question",
    ["How many advisers were there in 2019?", "Who is Mark Galeotti?", "When did the ferry stop?"],
)
def test_questions_about_the_past_or_timeless_facts(question):
    assert not asks_about_now(question)


def test_recency_halves_the_penalty_every_half_life():
    factors = recency_factors(
        {"new": "2024-06-30", "half": "2024-04-01", "old": "2014-01-01", "undated": None},
        half_life_days=90,
        weight=0.5,
    )
    assert factors["new"] == 1.0 and factors["undated"] == 1.0
    assert factors["half"] == pytest.approx(0.75)  # 90 days older: half the full penalty
    assert factors["old"] == pytest.approx(0.5, abs=1e-6)  # never below 1 - weight


@pytest.mark.parametrize(
    "published",
    [
        {"a": None, "b": None},
        {"a": "2024-01-01", "b": "2024-01-01", "c": None},
        {"a": "2024-01-01", "b": "2019-05-05"},
    ],
)
def test_recency_changes_nothing_without_two_dates_or_weight(published):
    weight = 0.0 if len(set(filter(None, published.values()))) > 1 else 0.5
    assert recency_factors(published, 90, weight) == dict.fromkeys(published, 1.0)


def _retrievers(settings):
    from factdesk.ingest.indexer import fingerprint
    from factdesk.search.retrieval import Retriever
    from factdesk.search.store import Store

    plain = settings.model_copy(update={"recency_weight": 0.0})
    return (
        Retriever(Store(settings, fingerprint(settings)), settings),
        Retriever(Store(plain, fingerprint(plain)), plain),
    )


@pytest.mark.slow
def test_newer_article_ranks_first_on_a_current_state_question(dated_settings, embedder):
    with_recency, without = _retrievers(dated_settings)
    question = "How many Rostec advisers remain in Venezuela now?"
    vector = embedder.embed_one(question)
    dates = [hit.chunk.published for hit in without.retrieve(question, vector, 2)]
    assert dates == ["2024-01-15", "2024-06-03"]  # the older article matches the words better
    hits = with_recency.retrieve(question, vector, 2)
    assert [hit.chunk.published for hit in hits] == ["2024-06-03", "2024-01-15"]
    assert hits[0].recency == 1.0 and 0.5 < hits[1].recency < 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["How many Rostec advisers were in Venezuela in January?", "Who is Mark Galeotti?"],
)
def test_recency_leaves_other_questions_exactly_as_they_were(dated_settings, embedder, question):
    with_recency, without = _retrievers(dated_settings)
    vector = embedder.embed_one(question)
    assert with_recency.retrieve(question, vector, 10) == without.retrieve(question, vector, 10)
