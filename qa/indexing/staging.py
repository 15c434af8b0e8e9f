"""A rebuild's embedded work, kept on disk until the swap: a rebuild embeds the corpus a batch
at a time into this file (each batch committed), then replaces the index in one transaction
from it. Killed midway, the next rebuild finds the batches already embedded here and goes on
from there; readers see the old index until the swap.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from qa.reading.chunking import Chunks
from qa.reading.documents import Document

STAGING_NAME = "rebuild-staging.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged (doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL,
                                   payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


class Staging:
    """Embedded documents and words waiting for a rebuild's swap, under one model setup."""

    def __init__(self, data_dir: Path, fingerprint: str) -> None:
        """Open the data dir's staging file; work staged under another setup is dropped."""
        self.path = Path(data_dir) / STAGING_NAME
        self._conn = sqlite3.connect(self.path, isolation_level=None)
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row is None or row[0] != fingerprint:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.execute("DELETE FROM staged")
                self._conn.execute("DELETE FROM words")
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)",
                                   (fingerprint,))

    def staged(self) -> dict[str, str]:
        """The documents already embedded: doc_id -> the content hash they were embedded at."""
        return dict(self._conn.execute("SELECT doc_id, content_hash FROM staged"))

    def words(self) -> set[str]:
        """The words already embedded."""
        return {r[0] for r in self._conn.execute("SELECT word FROM words")}

    def put(self, embedded: list[tuple[Document, Chunks, np.ndarray, np.ndarray]],
            words: list[str], word_vectors: np.ndarray) -> None:
        """Keep one batch's work, committed at once: a later kill does not lose it."""
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO staged VALUES (?, ?, ?)",
                ((doc.doc_id, doc.content_hash, pickle.dumps(
                    (doc, chunks, svec.astype(np.float32), pvec.astype(np.float32)),
                    protocol=pickle.HIGHEST_PROTOCOL))
                 for doc, chunks, svec, pvec in embedded))
            self._conn.executemany("INSERT OR REPLACE INTO words VALUES (?, ?)",
                                   ((w, np.asarray(v, np.float32).tobytes())
                                    for w, v in zip(words, word_vectors)))

    def get(self, doc_id: str) -> tuple[Document, Chunks, np.ndarray, np.ndarray]:
        """One staged document with its chunks and vectors (the file is ours alone)."""
        row = self._conn.execute("SELECT payload FROM staged WHERE doc_id = ?",
                                 (doc_id,)).fetchone()
        return pickle.loads(row[0])  # written by this class, in the data dir only

    def iter_words(self, batch: int = 10_000) -> Iterator[tuple[list[str], np.ndarray]]:
        """The staged words and their vectors, a batch at a time."""
        cursor = self._conn.execute("SELECT word, vector FROM words ORDER BY word")
        while rows := cursor.fetchmany(batch):
            yield ([r[0] for r in rows],
                   np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1))

    def discard(self) -> None:
        """Delete the staging file once its work is in the index."""
        self._conn.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        """Close the file, keeping it for the next rebuild."""
        self._conn.close()
