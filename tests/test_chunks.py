import pytest

from factdesk.ingest.chunks import chunk_article
from factdesk.ingest.documents import Article, read_article
from factdesk.ingest.sentences import split_sentences

from .conftest import SEEDS


def words(texts):
    return [len(text.split()) for text in texts]


def word_spans(text):
    spans, position = [], 0
    for word in text.split():
        start = text.index(word, position)
        spans.append((start, start + len(word)))
        position = start + len(word)
    return spans


def article(text, title="Headline", own=True):
    return Article(doc_id="/x.txt", source="x.txt", title=title, text=text, has_own_title=own)


def test_sentences_have_exact_offsets_and_keep_quoted_questions_whole():
    text = "“Why stay?” the source asked. Mr. Smith left at 5 p.m. on Jan. 3.\n\nNew paragraph."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "“Why stay?” the source asked.",
        "Mr. Smith left at 5 p.m. on Jan. 3.",
        "New paragraph.",
    ]


def test_chunks_are_exact_slices_within_budget_with_overlap():
    text = " ".join(f"Sentence number {i} says something." for i in range(40))
    chunks = chunk_article(article(text), words, word_spans, max_tokens=30, overlap_tokens=10)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert words([chunk.title])[0] + words([chunk.text])[0] <= 30
    assert chunks[1].start < chunks[0].end, "consecutive chunks overlap"
    assert chunks[-1].end == len(text)
    assert {c.chunk_count for c in chunks} == {len(chunks)}
    assert len({c.id for c in chunks}) == len(chunks)


def test_overlong_sentence_is_cut_in_windows():
    text = " ".join(f"word{n}" for n in range(50)) + "."
    chunks = chunk_article(article(text, own=False), words, word_spans, 20, 0)
    assert [words([c.text])[0] for c in chunks] == [20, 20, 10]
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_file_name_titles_are_not_embedded():
    chunk = chunk_article(
        article("One. Two.", title="000_abc", own=False), words, word_spans, 30, 0
    )
    assert chunk[0].embedding_text == "One. Two."
    own = chunk_article(article("One. Two."), words, word_spans, 30, 0)
    assert own[0].embedding_text == "Headline\n\nOne. Two."


def test_changed_content_changes_chunk_ids():
    first = chunk_article(article("One. Two."), words, word_spans, 30, 0)
    second = chunk_article(article("One. Three."), words, word_spans, 30, 0)
    assert first[0].id != second[0].id


@pytest.mark.slow
def test_seed_chunks_fit_the_model(embedder):
    seed = read_article(next(SEEDS.glob("*.txt")))
    chunks = chunk_article(seed, embedder.count_tokens, embedder.token_spans, 200, 48)
    lengths = embedder.count_tokens([c.embedding_text for c in chunks])
    assert max(lengths) + 2 <= embedder.max_tokens
    assert all(seed.text[c.start : c.end] == c.text for c in chunks)


def test_a_passage_repeated_in_one_article_is_kept_once():
    paragraph = "The harbour reopened after repairs. Ferries run every hour again."
    text = "\n\n".join([paragraph] * 300 + ["The council meets on Friday to discuss fares."])
    chunks = chunk_article(article(text), words, word_spans, 30, 8)
    texts = [chunk.text for chunk in chunks]
    assert len(texts) == len(set(texts)) and len(chunks) <= 4  # not 150
    assert chunks[0].start == 0 and chunks[-1].end == len(text)  # the first copy, and the rest
    assert {c.chunk_count for c in chunks} == {len(chunks)}
    assert [c.position for c in chunks] == list(range(len(chunks)))
