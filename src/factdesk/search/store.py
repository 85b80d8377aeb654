"""The Chroma collection that holds the passages: llama-index records, written with chromadb.

Chroma runs embedded (a PersistentClient on `index/`) unless a server host is configured. The
collection records the model and chunk settings it was built with, so an index is never silently
mixed with vectors from another model, and a generation counter that lets long-running processes
notice that the index changed under them.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from factdesk.config import Settings
from factdesk.errors import FactdeskError, IncompatibleIndexError, StoreUnavailableError
from factdesk.search.passages import CHUNKER_VERSION, Chunk

# Bump when what a record holds changes; an index of another schema is refused until rebuilt.
# 2: flat start/end offsets, and each passage's sentence spans and vectors.
# 3: sentence vectors pooled from their passage's pass of the model, not embedded alone.
SCHEMA_VERSION = 3
_BATCH = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class DocumentRecord:
    """What the index holds for one article: enough to decide whether to re-index it."""

    doc_id: str
    source: str
    title: str
    url: str | None
    published: str | None
    chunks: int
    complete_hashes: frozenset[str]
    all_hashes: frozenset[str]


@dataclass(frozen=True)
class IndexFingerprint:
    """The settings that shape the vectors; an index is only usable with the same fingerprint."""

    model: str
    chunk_tokens: int
    chunk_overlap_tokens: int
    chunker: int = CHUNKER_VERSION
    schema: int = SCHEMA_VERSION

    def describe(self) -> str:
        return (
            f"model {self.model}, {self.chunk_tokens}-token chunks with "
            f"{self.chunk_overlap_tokens}-token overlap (chunker v{self.chunker}, "
            f"schema v{self.schema})"
        )


class Store:
    """The passages collection, with reconnection and user-facing errors around every call."""

    def __init__(self, settings: Settings, fingerprint: IndexFingerprint, name: str | None = None):
        self.settings = settings
        self.fingerprint = fingerprint
        self.name = name or settings.collection_name
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _connect(self.settings)
            return self._client

    def _get_collection(self) -> Any:
        if self._collection is None:
            self._collection = self.client.get_or_create_collection(
                self.name,
                embedding_function=_no_embedding(),
                configuration={
                    "hnsw": {"space": "cosine", "ef_search": 200, "ef_construction": 200}
                },
                metadata=self._metadata(generation=0),
            )
        return self._collection

    @property
    def collection(self) -> Any:
        return self._call(self._get_collection)

    def _call(self, operation: Callable[[], T]) -> T:
        """Run a Chroma operation, turning connection failures into one clear, retryable error."""
        try:
            return operation()
        except FactdeskError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError" and self._collection is not None:
                self._collection = None  # replaced by a rebuild: look it up again
                return self._call(operation)
            if not _is_connection_error(exc):
                raise
            self._forget_connection()
            raise StoreUnavailableError(
                f"Cannot reach the {self.settings.store_description}: {_short(exc)}"
            ) from exc

    def _forget_connection(self) -> None:
        with self._lock:
            self._collection = None
            if self.settings.uses_chroma_server:
                self._client = None

    @property
    def keyword_root(self) -> Path:
        """Where this collection's keyword index is saved: beside an embedded store, or in the
        cache folder for a server (keyed by its address)."""
        if self.settings.uses_chroma_server:
            server = f"{self.settings.chroma_host}-{self.settings.chroma_port}"
            return self.settings.cache_path / "keyword" / server / self.name
        return Path(self.settings.index_dir) / "keyword" / self.name

    def exists(self) -> bool:
        """Whether the collection exists, without creating it."""
        names = self._call(lambda: [c.name for c in self.client.list_collections()])
        return self.name in names

    # -- fingerprint and generation --------------------------------------------------------

    def _metadata(self, generation: int) -> dict[str, Any]:
        return {
            "factdesk_schema": self.fingerprint.schema,
            "model": self.fingerprint.model,
            "chunk_tokens": self.fingerprint.chunk_tokens,
            "chunk_overlap_tokens": self.fingerprint.chunk_overlap_tokens,
            "chunker": self.fingerprint.chunker,
            "generation": generation,
        }

    def stored_fingerprint(self) -> IndexFingerprint | None:
        metadata = dict(self.collection.metadata or {})
        if "model" not in metadata:
            return None
        return IndexFingerprint(
            model=str(metadata["model"]),
            chunk_tokens=int(metadata.get("chunk_tokens", 0)),
            chunk_overlap_tokens=int(metadata.get("chunk_overlap_tokens", 0)),
            chunker=int(metadata.get("chunker", 0)),
            schema=int(metadata.get("factdesk_schema", 0)),
        )

    def check_compatible(self) -> None:
        """Refuse to mix vectors: the index must have been built with the current settings."""
        stored = self.stored_fingerprint()
        if stored is None or stored == self.fingerprint:
            return
        if replace(stored, chunker=self.fingerprint.chunker, schema=self.fingerprint.schema) == (
            self.fingerprint
        ):
            raise IncompatibleIndexError(
                f"The index was built by another version of factdesk (chunker v{stored.chunker}, "
                f"schema v{stored.schema}; this one reads chunker v{self.fingerprint.chunker}, "
                f"schema v{self.fingerprint.schema}). Run `factdesk index --rebuild` to re-index."
            )
        raise IncompatibleIndexError(
            f"The index was built with {stored.describe()}, but the settings now ask for "
            f"{self.fingerprint.describe()}. Run `factdesk index --rebuild` to re-index."
        )

    def generation(self) -> int:
        """Bumped by every index run that changed something; cheap to poll."""

        def read() -> int:
            collection = self.client.get_collection(self.name, embedding_function=_no_embedding())
            return int((collection.metadata or {}).get("generation", 0))

        return self._call(read)

    def bump_generation(self) -> None:
        """Mark the collection as changed; a fresh timestamp never repeats, even across swaps."""
        new = time.time_ns()
        self._call(lambda: self.collection.modify(metadata=self._metadata(generation=new)))

    def mark_refreshed(self) -> None:
        """Record that an index run just brought the collection up to date (changed or not)."""
        refreshed = datetime.now(UTC).isoformat(timespec="seconds")
        metadata = {**self._metadata(self.generation()), "refreshed": refreshed}
        self._call(lambda: self.collection.modify(metadata=metadata))

    def refreshed(self) -> datetime | None:
        """When an index run last finished on this collection (None: never recorded)."""

        def read() -> object:
            collection = self.client.get_collection(self.name, embedding_function=_no_embedding())
            return (collection.metadata or {}).get("refreshed")

        value = self._call(read) if self.exists() else None
        return datetime.fromisoformat(str(value)) if value else None

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        return self._call(lambda: self.collection.count())

    def documents(self) -> list[DocumentRecord]:
        """Every indexed article, with the content versions it has complete and partial."""
        chunks_by_doc: dict[str, list[dict]] = defaultdict(list)
        for metadata in self._iter_metadata():
            chunks_by_doc[str(metadata.get("document_id"))].append(metadata)
        return [_record(doc_id, items) for doc_id, items in sorted(chunks_by_doc.items())]

    def _iter_metadata(self) -> Iterator[dict]:
        for batch in self._pages(include=["metadatas"]):
            yield from batch["metadatas"]

    def chunks(self) -> list[Chunk]:
        """All passages, in a stable order, for the keyword index."""
        result: list[Chunk] = []
        for batch in self._pages(include=["metadatas", "documents"]):
            rows = zip(batch["ids"], batch["documents"], batch["metadatas"], strict=True)
            result.extend(_chunk_from_metadata(*row) for row in rows)
        result.sort(key=lambda chunk: (chunk.doc_id, chunk.position, chunk.id))
        return result

    def _pages(self, include: list[str]) -> Iterator[dict]:
        offset = 0
        while True:
            page: dict = self._call(
                lambda start=offset: self.collection.get(  # type: ignore[misc]
                    include=include, limit=_BATCH, offset=start
                )
            )
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The `n` passages nearest to `vector`, with their cosine similarity; `where` keeps
        only passages whose metadata match it (Chroma's filter).

        Read straight from Chroma, in the records llama-index wrote: the question path never
        imports llama-index, which costs seconds to load.
        """
        result = self._call(
            lambda: self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=n,
                include=["documents", "metadatas", "distances"],
                **({"where": where} if where else {}),
            )
        )
        rows = zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
        return [
            (_chunk_from_metadata(id_, text, meta), 1.0 - distance)
            for id_, text, meta, distance in rows
        ]

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """Passages by id, in the order asked (ids no longer in the index are left out)."""
        if not ids:
            return []
        page = self._call(
            lambda: self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        )
        found = {
            id_: _chunk_from_metadata(id_, text, meta)
            for id_, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            )
        }
        return [found[id_] for id_ in ids if id_ in found]

    # -- writing ---------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store passages with their vectors (an article's passages always go in one call).

        Records are llama-index TextNodes serialised by llama-index, as its ChromaVectorStore
        writes them, plus each passage's sentence spans and vectors (for the answer step) in
        the same record, so a passage is never stored without them.
        """
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        metadatas = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            metadata = node_to_metadata_dict(_node(chunk, vector), remove_text=True)
            metadatas.append(metadata | _flat_fields(chunk))
        self._call(
            lambda: self.collection.add(
                ids=[chunk.id for chunk in chunks],
                embeddings=[vector.tolist() for vector in vectors],
                documents=[chunk.text for chunk in chunks],
                metadatas=metadatas,
            )
        )

    def delete_document(self, doc_id: str) -> None:
        self._call(lambda: self.collection.delete(where={"document_id": doc_id}))

    def delete_other_versions(self, doc_id: str, keep_hash: str) -> None:
        where = {"$and": [{"document_id": doc_id}, {"content_hash": {"$ne": keep_hash}}]}
        self._call(lambda: self.collection.delete(where=where))

    def drop(self) -> None:
        """Delete the whole collection (used to discard an unfinished rebuild)."""
        if self.exists():
            self._call(lambda: self.client.delete_collection(self.name))
        self._collection = None

    def rename(self, new_name: str) -> None:
        self._call(lambda: self.collection.modify(name=new_name))
        self.name = new_name
        self._collection = None


def _connect(settings: Settings) -> Any:
    """A Chroma client for the settings, with telemetry off and no default embedding."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.uses_chroma_server:
            return chromadb.HttpClient(
                host=str(settings.chroma_host),
                port=settings.chroma_port,
                settings=chroma_settings,
            )
        Path(settings.index_dir).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)
    except Exception as exc:
        raise StoreUnavailableError(
            f"Cannot open the {settings.store_description}: {_short(exc)}"
        ) from exc


def _is_connection_error(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        return True
    return "connect" in str(exc).lower() and isinstance(exc, ValueError | RuntimeError)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _node(chunk: Chunk, vector: np.ndarray) -> Any:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    return TextNode(
        id_=chunk.id,
        text=chunk.text,
        embedding=[float(x) for x in vector],
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc_id)},
        metadata={
            "source": chunk.source,
            "title": chunk.title,
            "title_in_text": chunk.title_in_text,
            "url": chunk.url or "",
            "position": chunk.position,
            "content_hash": chunk.content_hash,
            "chunk_count": chunk.chunk_count,
            "published": chunk.published or "",
        },
    )


def _flat_fields(chunk: Chunk) -> dict[str, Any]:
    """What a passage needs beyond llama-index's own record: its offsets as plain fields, and
    its sentences (spans within the passage, and vectors as base64 float16)."""
    return {
        "start": chunk.start,
        "end": chunk.end,
        "sentence_spans": json.dumps(chunk.sentences),
        "sentence_vectors": base64.b64encode(
            np.asarray(chunk.sentence_vectors, dtype=np.float16).tobytes()
        ).decode("ascii"),
    }


def _chunk_from_metadata(id_: str, text: str, metadata: dict) -> Chunk:
    spans = [tuple(span) for span in json.loads(metadata["sentence_spans"])]
    vectors = np.frombuffer(base64.b64decode(metadata["sentence_vectors"]), dtype=np.float16)
    return Chunk(
        id=id_,
        doc_id=str(metadata["document_id"]),
        source=metadata["source"],
        title=metadata["title"],
        title_in_text=bool(metadata["title_in_text"]),
        url=metadata["url"] or None,
        text=text,
        start=int(metadata["start"]),
        end=int(metadata["end"]),
        position=int(metadata["position"]),
        content_hash=metadata["content_hash"],
        chunk_count=int(metadata["chunk_count"]),
        published=metadata.get("published") or None,
        sentences=tuple(spans),
        sentence_vectors=vectors.reshape(len(spans), -1).astype(np.float32),
    )


def _record(doc_id: str, items: list[dict]) -> DocumentRecord:
    by_hash: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_hash[item["content_hash"]].append(item)
    complete = {
        content_hash
        for content_hash, versions in by_hash.items()
        if len({v["position"] for v in versions}) == int(versions[0]["chunk_count"])
    }
    first = items[0]
    return DocumentRecord(
        doc_id=doc_id,
        source=first["source"],
        title=first["title"],
        url=first["url"] or None,
        published=first.get("published") or None,
        chunks=len(items),
        complete_hashes=frozenset(complete),
        all_hashes=frozenset(by_hash),
    )


@functools.cache
def _embedding_function_class() -> type:
    """Chroma's embedding slot, filled so Chroma never downloads its default model.

    factdesk always hands Chroma vectors it computed itself, so this function never embeds.
    """
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class PrecomputedEmbedding(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> Any:
            raise FactdeskError("Internal error: factdesk embeds text itself, not Chroma.")

        @staticmethod
        def name() -> str:
            return "factdesk_precomputed"

        def get_config(self) -> dict[str, Any]:
            return {}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> PrecomputedEmbedding:
            return PrecomputedEmbedding()

        def default_space(self) -> Literal["cosine"]:
            return "cosine"

        def supported_spaces(self) -> list[Literal["cosine", "l2", "ip"]]:
            return ["cosine"]

    return PrecomputedEmbedding


def _no_embedding() -> Any:
    return _embedding_function_class()()
