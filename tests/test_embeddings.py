"""The ONNX embedding model: the same vectors as sentence-transformers, and no torch to use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factdesk.config import default_cache_dir
from factdesk.search.embeddings import Embedder, exported_model, model_name

from .conftest import SEEDS

pytestmark = pytest.mark.slow

TEXTS = [
    "How many advisers remain?",
    "Russia’s defense conglomerate Rostec has cut its defense advisers in Venezuela from 1,000 "
    "several years ago to “just a few dozen” now, WSJ cited its source as saying.",
    "",
    "Émile Zola écrivit « J'accuse… » en 1898 ☃ 🙂",
    "Сколько советников осталось?",
    "word " * 400,  # far over the model's 256 word pieces: cut as sentence-transformers cuts
    "a",
    "x\ny\tz",
]


def test_vectors_match_sentence_transformers(embedder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(embedder.model_path, device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    got = embedder.embed(TEXTS)
    cosines = np.sum(got * expected, axis=1)
    assert np.all(cosines >= 0.9999), cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_word_pieces_match_the_models_tokenizer(embedder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedder.model_path)
    sample = TEXTS[:2] + TEXTS[3:5]
    expected = tokenizer(sample, add_special_tokens=False)["input_ids"]
    assert embedder.count_tokens(sample) == [len(ids) for ids in expected]
    offsets = tokenizer(TEXTS[1], add_special_tokens=False, return_offsets_mapping=True)
    assert embedder.token_spans(TEXTS[1]) == [tuple(s) for s in offsets["offset_mapping"]]


def test_batches_and_single_texts_agree(embedder):
    batch = embedder.embed(TEXTS, batch_size=3)
    alone = np.stack([embedder.embed_one(text) for text in TEXTS])
    assert np.allclose(batch, alone, atol=1e-5)


def test_a_sentence_read_in_its_passage_knows_what_it_refers_to(embedder):
    passage = (
        "Russia's ambassador to Venezuela, Sergei Melik-Bagdasarov, was asked about the report. "
        "He said it was false."
    )
    spans = [(0, passage.index(" He")), (passage.index("He"), len(passage))]
    vectors, (in_context,) = embedder.embed_in_context([passage], [spans])
    alone = embedder.embed([passage[start:end] for start, end in spans])
    question = embedder.embed_one("What did the ambassador say about the report?")
    assert np.allclose(vectors[0], embedder.embed_one(passage), atol=1e-5)
    assert np.allclose(np.linalg.norm(in_context, axis=1), 1.0, atol=1e-5)
    # each span is still most like its own sentence, and "He" now means the ambassador
    assert np.argmax(in_context @ alone.T, axis=1).tolist() == [0, 1]
    assert in_context[1] @ question > alone[1] @ question + 0.03


def test_a_span_past_what_the_model_reads_is_embedded_alone(embedder):
    passage = "word " * 300 + "The harbour reopened in May."
    spans = [(0, 4), (passage.index("The"), len(passage))]
    _, (vectors,) = embedder.embed_in_context([passage], [spans])
    assert vectors[0] @ embedder.embed_one("word") > 0.5
    assert np.allclose(vectors[1], embedder.embed_one("The harbour reopened in May."), atol=1e-5)


def test_int8_is_a_different_model_for_the_index_and_close_to_fp32(embedder):
    int8 = Embedder(precision="int8")
    assert int8.name == model_name(None, "int8") != embedder.name
    cosines = np.sum(int8.embed(TEXTS[:2]) * embedder.embed(TEXTS[:2]), axis=1)
    assert np.all(cosines > 0.97), cosines


def test_the_export_is_made_once_and_reused(embedder):
    model = Path(embedder.model_path)
    first = exported_model(model, "fp32", default_cache_dir())
    before = first.stat().st_mtime_ns
    again = exported_model(model, "fp32", default_cache_dir())
    assert again == first and again.stat().st_mtime_ns == before


QUESTION_PATH = """
import io, sys
sys.argv = ["factdesk", "ask", "--json", {question!r}]
sys.stdin = io.StringIO({stdin!r})
from factdesk.cli import main
try:
    main()
except SystemExit as exit:
    assert exit.code == 0, exit.code
heavy = {{"torch", "transformers", "sentence_transformers", "llama_index.core", "nltk", "scipy"}}
assert not heavy & set(sys.modules), heavy & set(sys.modules)
"""
FOLLOW_UP = {
    "question": "And now?",
    "history": [{"question": "How many advisers did Rostec have?", "answer": "1,000. [1]"}],
}


@pytest.mark.parametrize(
    ("question", "stdin"),
    [("How many advisers remain?", ""), ("-", json.dumps(FOLLOW_UP) + "\n")],
    ids=["question", "follow-up"],
)
def test_the_question_path_never_imports_torch_nltk_or_scipy(
    seed_settings, seed_pipeline, question, stdin
):
    """Neither torch (seconds) nor NLTK (over a second), even for a follow-up whose history is
    compared with the passages, nor SciPy (a quarter of a second: only building the keyword
    index needs it)."""
    env = {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(seed_settings.index_dir),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
    }
    script = QUESTION_PATH.format(question=question, stdin=stdin)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "few dozen" in result.stdout


MODELS = {"torch", "onnxruntime", "llama_index.core"}


@pytest.mark.parametrize(
    ("args", "unwanted"),
    [
        (["--help"], {*MODELS, "chromadb"}),
        (["ask", "--help"], {*MODELS, "chromadb"}),
        (["ask", ""], {*MODELS, "chromadb"}),
        (["index", "/no/such/folder"], {*MODELS, "chromadb"}),
        (["status"], MODELS),
        (["feedback"], {*MODELS, "chromadb"}),
    ],
)
def test_help_status_feedback_and_bad_input_load_no_model(args, unwanted, tmp_path):
    code = (
        "import sys\n"
        f"sys.argv = ['factdesk', *{args!r}]\n"
        "from factdesk.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"loaded = {sorted(unwanted)!r} and set({sorted(unwanted)!r}) & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(tmp_path / "seeds"),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
