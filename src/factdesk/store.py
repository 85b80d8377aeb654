"""The Chroma collection that holds the passages, reached through llama-index's ChromaVectorStore.

Chroma runs embedded (a PersistentClient on `index/`) unless a server host is configured. The
collection records the model and chunk settings it was built with, so an index is never silently
mixed with vectors from another model, and a generation counter that lets long-running processes
notice that the index changed under them.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from factdesk.chunks import CHUNKER_VERSION, Chunk
from factdesk.config import Settings
from factdesk.errors import FactdeskError, IncompatibleIndexError, StoreUnavailableError

SCHEMA_VERSION = 1
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

    def describe(self) -> str:
        return (
            f"model {self.model}, {self.chunk_tokens}-token chunks with "
            f"{self.chunk_overlap_tokens}-token overlap (chunker v{self.chunker})"
        )


class Store:
    """The passages collection, with reconnection and user-facing errors around every call."""

    def __init__(self, settings: Settings, fingerprint: IndexFingerprint, name: str | None = None):
        self.settings = settings
        self.fingerprint = fingerprint
        self.name = name or settings.collection
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

    def exists(self) -> bool:
        """Whether the collection exists, without creating it."""
        names = self._call(lambda: [c.name for c in self.client.list_collections()])
        return self.name in names

    # -- fingerprint and generation --------------------------------------------------------

    def _metadata(self, generation: int) -> dict[str, Any]:
        return {
            "factdesk_schema": SCHEMA_VERSION,
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
        )

    def check_compatible(self) -> None:
        """Refuse to mix vectors: the index must have been built with the current settings."""
        stored = self.stored_fingerprint()
        if stored is not None and stored != self.fingerprint:
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
        result = []
        for batch in self._pages(include=["metadatas", "documents"]):
            for text, metadata in zip(batch["documents"], batch["metadatas"], strict=True):
                result.append(_chunk_from_metadata(text, metadata))
        result.sort(key=lambda chunk: (chunk.doc_id, chunk.position, chunk.id))
        return result

    def _pages(self, include: list[str]) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._call(
                lambda start=offset: self.collection.get(
                    include=include, limit=_BATCH, offset=start
                )
            )
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[Chunk, float]]:
        """The `n` passages nearest to `vector`, with their cosine similarity."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        query = VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=n)
        result = self._call(lambda: self._vector_store().query(query))
        return [
            (_chunk_from_node(node), _cosine_from_llama_similarity(similarity))
            for node, similarity in zip(result.nodes, result.similarities, strict=True)
        ]

    def _vector_store(self) -> Any:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    # -- writing ---------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store passages with their vectors (an article's passages always go in one call)."""
        nodes = [_node(chunk, vector) for chunk, vector in zip(chunks, vectors, strict=True)]
        self._call(lambda: self._vector_store().add(nodes))

    def delete_document(self, doc_id: str) -> None:
        self._call(lambda: self._vector_store().delete(ref_doc_id=doc_id))

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
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
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


def _cosine_from_llama_similarity(similarity: float) -> float:
    """llama-index reports exp(-distance); Chroma's cosine distance is 1 - cosine."""
    return 1.0 + math.log(max(similarity, 1e-12))


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


def _chunk_from_node(node: Any) -> Chunk:
    return Chunk(
        id=node.node_id,
        doc_id=node.ref_doc_id,
        source=node.metadata["source"],
        title=node.metadata["title"],
        title_in_text=bool(node.metadata["title_in_text"]),
        url=node.metadata["url"] or None,
        text=node.text,
        start=node.start_char_idx,
        end=node.end_char_idx,
        position=int(node.metadata["position"]),
        content_hash=node.metadata["content_hash"],
        chunk_count=int(node.metadata["chunk_count"]),
        published=node.metadata.get("published") or None,  # absent in indexes made before dates
    )


def _chunk_from_metadata(text: str, metadata: dict) -> Chunk:
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    return _chunk_from_node(metadata_dict_to_node(metadata, text=text))


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

        def default_space(self) -> str:
            return "cosine"

        def supported_spaces(self) -> list[str]:
            return ["cosine"]

    return PrecomputedEmbedding


def _no_embedding() -> Any:
    return _embedding_function_class()()
