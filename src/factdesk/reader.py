"""The reader: how likely a sentence is to answer a question, from a small trained cross-encoder.

Sentence similarity tells "this sentence is about the question's topic"; it cannot tell "this
sentence says what was asked". The reader reads question and sentence together and was trained on
SQuAD for exactly that decision, including questions written to look answerable when they are not
(see models/reader/MODEL_CARD.md and benchmarks/train_reader.py). It runs with onnxruntime and
the `tokenizers` tokenizer, so the question path never loads torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "models" / "reader"
MODEL_FILE = "reader.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reader.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Reader:
    """Scores (question, sentence) pairs; load once, share between threads."""

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int | None = None,
        model_file: Path | None = None,
        tokenizer_file: Path | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        from factdesk.embeddings import cpu_session

        folder = Path(model_dir or MODEL_DIR)
        config_path = folder / CONFIG_FILE
        self.config = json.loads(config_path.read_text()) if config_path.exists() else {}
        self.version = str(self.config.get("version", "unversioned"))
        self.threshold = float(self.config.get("threshold", 0.5))
        max_length = int(self.config.get("max_length", 128))
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file or folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        self._tokenizer.no_padding()
        # Its few short runs per question sit between Chroma and Python work, so its threads
        # sleep between runs (SciFact warm question about 3 ms faster).
        self._session = cpu_session(model_file or folder / MODEL_FILE, threads, spinning=False)
        self._lock = threading.Lock()

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """Probability, for each sentence, that it answers the question.

        Pairs are read one at a time: the int8 model scales its activations per run, so in a
        batch a pair's probability moved by up to 0.02 with the other pairs and their padding;
        alone it is the same whatever else is read, and with no padding 17% faster (SciFact).
        """
        if not sentences:
            return np.zeros(0, dtype=np.float64)
        with self._lock:  # a fast tokenizer is not safe to share between threads
            encodings = self._tokenizer.encode_batch([(question, s) for s in sentences])
        logits = np.array([self._logit(encoding) for encoding in encodings], dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-logits))

    def _logit(self, encoding) -> float:
        feeds = {
            name: np.array([values], dtype=np.int64)
            for name, values in (
                ("input_ids", encoding.ids),
                ("attention_mask", encoding.attention_mask),
                ("token_type_ids", encoding.type_ids),
            )
        }
        (logits,) = self._session.run(["logits"], feeds)
        return float(logits.reshape(-1)[0])
