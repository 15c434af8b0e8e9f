"""The storage seam: what indexing, retrieval and answering ask of a store, and the factory that
picks one from configuration.

Two backends implement `DocumentStore`:

- `sqlite` (the default, `qa.storage.sqlite.Store`): one SQLite file in the data directory is the source
  of truth; several processes on one machine share it.
- `postgresql` (`qa.storage.postgres.PostgresStore`, chosen by a `postgresql://` store URL): a
  PostgreSQL database is the source of truth, shared by replicas on any number of machines; each
  replica keeps a SQLite mirror in its own data directory, from which it reads.

Both are their own `LexicalIndex` (SQLite FTS5, BM25), so ranking is the same whichever holds
the documents. The vector index (`embeddings.vector_index.VectorSearch`) is derived from the
store's vectors and lives in memory. `tests/test_store_conformance.py` runs one suite against
every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from qa.reading.chunking import Chunks
    from qa.reading.documents import Document
    from qa.reading.metadata import Metadata
    from qa.storage.records import DocumentSummary, Original, PassageRow, Replaced, SentenceRow


@runtime_checkable
class LexicalIndex(Protocol):
    """Word search with BM25 over sentences and passages (their text and, weighted less, title)."""

    def lexical_search(self, kind: str, terms: Sequence[str], budget: int | None = None
                       ) -> dict[int, float]:
        """Score every row of `kind` matching any term; with a budget, skip the commonest terms."""
        ...

    def row_counts(self, kind: str, terms: Sequence[str]) -> dict[str, int]:
        """Count the rows each term matches, for the ranking's rarity features."""
        ...


@runtime_checkable
class DocumentStore(LexicalIndex, Protocol):
    """The source of truth: documents, their passages and sentences, vectors and metadata.

    Writes happen in `transaction()`, one atomic unit that also advances `generation`; the
    `conn` handed to the write methods is whatever that transaction yielded. Reads see only
    committed states. Row ids are the vector ids of the in-memory indexes.
    """

    data_dir: Path

    @property
    def url(self) -> str:
        """Name the store for logs (never with a password)."""
        ...

    @property
    def generation(self) -> int:
        """Count committed writes, so derived indexes can tell whether they are current."""
        ...

    @property
    def last_start_generation(self) -> int:
        """The generation this thread's last transaction started from."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Be the only writer across processes and machines, while a writer embeds."""
        ...

    def transaction(self, bump: bool = True) -> AbstractContextManager[Any]:
        """Run writes as one atomic unit (advancing the generation unless `bump` is False)."""
        ...

    def follow(self, interval: float = 0.25) -> None:
        """Keep this process's view current with other writers, in the background."""
        ...

    def pull(self) -> bool:
        """Catch up with other writers now, before a write decides what to do; True if it did."""
        ...

    def changed_since(self, generation: int, until: int) -> list[str] | None:
        """The documents changed between two generations, when known (None: reload all)."""
        ...

    def close(self) -> None:
        """Stop following and release connections."""
        ...

    def get_meta(self, key: str) -> str | None:
        """Read a metadata value such as the model the index was built with."""
        ...

    def set_meta(self, key: str, value: str, conn: Any = None) -> None:
        """Write a metadata value (inside a transaction when one is given)."""
        ...

    def has_content(self) -> bool:
        """Tell whether documents were ever indexed here."""
        ...

    def document_hashes(self) -> dict[str, str]:
        """Map every doc_id to its content hash, to skip unchanged documents."""
        ...

    def get_document(self, doc_id: str) -> Document | None:
        """Fetch one stored document."""
        ...

    def get_original(self, doc_id: str) -> Original | None:
        """The file a document was read from, as it came; None when it was sent as text."""
        ...

    def iter_documents(self) -> Iterator[Document]:
        """Stream every stored document, for a rebuild."""
        ...

    def list_documents(self) -> list[DocumentSummary]:
        """List documents with their sizes."""
        ...

    def counts(self) -> dict[str, int]:
        """Count documents, passages and quotable sentences."""
        ...

    def write_document(self, conn: Any, doc: Document, chunks: Chunks,
                       sentence_vectors: np.ndarray, passage_vectors: np.ndarray) -> Replaced:
        """Replace a document and everything derived from it, inside the caller's transaction."""
        ...

    def delete_document(self, doc_id: str) -> Replaced | None:
        """Remove a document with its chunks and vectors; None when it was not there."""
        ...

    def clear(self, conn: Any) -> None:
        """Empty the index inside the caller's transaction, for a rebuild."""
        ...

    def reclaim(self, force: bool = False) -> int:
        """Give the space of deleted documents back to the disk; bytes freed."""
        ...

    def disk_bytes(self) -> int:
        """Size of what this process keeps on its local disk."""
        ...

    def load_vectors(self, kind: str, doc_ids: Sequence[str] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Read the stored vectors of `kind` with their ids, of some documents (all: None)."""
        ...

    def known_words(self, words: Iterable[str]) -> set[str]:
        """Which of these words already have a vector."""
        ...

    def write_words(self, conn: Any, words: Sequence[str], vectors: np.ndarray) -> None:
        """Store word vectors inside the caller's transaction."""
        ...

    def load_words(self, after: int = 0) -> tuple[int, list[str], np.ndarray]:
        """Read the word vectors stored after row `after`."""
        ...

    def quotable_sentences(self, doc_ids: Sequence[str] | None = None) -> list[SentenceRow]:
        """Read the quotable sentences of some documents (all when None)."""
        ...

    def passages(self, doc_ids: Sequence[str] | None = None) -> list[PassageRow]:
        """Read the passages of some documents (all when None)."""
        ...

    def titles(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Read the titles of some documents (all when None)."""
        ...

    def metadata(self, doc_ids: Sequence[str] | None = None) -> dict[str, tuple[str, Metadata]]:
        """Each document's source and metadata (some documents, or all), which filters match."""
        ...

    def text_slices(self, spans: Iterable[tuple[str, int, int]]
                    ) -> dict[tuple[str, int, int], str]:
        """Cut spans out of stored documents."""
        ...
