"""The document store: documents, passages, sentences, their vectors and full-text indexes in SQLite.

SQLite is the source of truth. Every change to a document (text, chunks, vectors, FTS rows) is one
transaction, so a crash leaves either the old or the new state, never a mix. The FAISS indexes are
derived from the vectors stored here and can always be rebuilt from them without re-embedding.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from qa.reading.chunking import Chunks
from qa.reading.documents import Document
from qa.reading.layout import Layout, readable_context, store_context
from qa.reading.metadata import Metadata
from qa.storage.records import DocumentSummary, Original, PassageRow, Replaced, SentenceRow

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
DB_NAME = "verbatim.sqlite3"
TITLE_WEIGHT = 0.3  # a title match counts for less than a match in the sentence itself

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, added_at REAL NOT NULL, layout TEXT);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, vector BLOB,
    context TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, passage_ord INTEGER NOT NULL, start INTEGER NOT NULL,
    end INTEGER NOT NULL, text TEXT NOT NULL, quotable INTEGER NOT NULL, vector BLOB,
    comment INTEGER NOT NULL DEFAULT 0, context TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, ord);
CREATE INDEX IF NOT EXISTS sentences_doc ON sentences(doc_id, ord);
CREATE TABLE IF NOT EXISTS originals (
    id TEXT PRIMARY KEY, data BLOB NOT NULL, media_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS words (
    id INTEGER PRIMARY KEY AUTOINCREMENT, word TEXT NOT NULL UNIQUE, vector BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS sentence_fts USING fts5(
    title, body, tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS passage_fts USING fts5(
    title, body, tokenize='porter unicode61 remove_diacritics 2');
"""

TERM_CACHE = 50_000  # words whose row counts are remembered (a few MB)


def fts_title(title: str, context: str) -> str:
    """What BM25 matches, weighted less, beside a row's own text: the document's title and the
    headings (or term) the row stands under."""
    return f"{title} {readable_context(context)}" if context else title


_DOCUMENT_COLUMNS = ("doc_id, title, text, source, layout, url, media_type, original, "
                     "collection, tags, fields")
METADATA_COLUMNS = ("collection", "tags", "fields")


def _document(row: tuple) -> Document:
    """A stored document row (`_DOCUMENT_COLUMNS`) as a document (its original by address)."""
    return Document(*row[:4], layout=Layout.from_json(row[4]), url=row[5], media_type=row[6],
                    original_id=row[7], metadata=Metadata.from_stored(*row[8:11]))


def fts_query(terms: Sequence[str]) -> str:
    """Quote every term so user text can never be read as FTS5 syntax."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


HALF_MARK = b"h"  # first byte of a half-precision vector blob (its length is then odd)


def _blob(vector: np.ndarray, half: bool = False) -> bytes:
    """Store a vector as raw float32 bytes, or marked float16 ones (half the disk: a unit
    vector's cosines move by less than 1e-4)."""
    if half:
        return HALF_MARK + np.ascontiguousarray(vector, dtype=np.float16).tobytes()
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _matrix(blobs: list[bytes]) -> np.ndarray:
    """Decode stored vector blobs (float32, or float16 behind HALF_MARK) into float32 rows."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    sizes = {len(b) for b in blobs}
    if len(sizes) == 1 and not next(iter(sizes)) % 2:  # all float32
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1).copy()
    if len(sizes) == 1:  # all float16
        raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
        return np.ascontiguousarray(raw[:, 1:]).view(np.float16).astype(np.float32)
    return np.vstack([_matrix([b]) for b in blobs])  # a store written by both versions


class _NothingWritten(Exception):
    """Raised inside a transaction that turned out to have nothing to write (rolled back)."""


RECLAIM_MIN_BYTES = 32 * 1024 * 1024  # free space worth rewriting the database for


class Store:
    """SQLite access for one data directory; safe to share across threads."""

    def __init__(self, data_dir: Path) -> None:
        """Open (creating if needed) the database in `data_dir`."""
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._local = threading.local()
        self._write_lock = threading.RLock()
        # Rows matching each term, per table, least recently asked first.
        self._term_rows: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._counts_lock = threading.Lock()
        self._counts_generation = -1
        # One writer across processes (`qa add` while `qa serve` runs) on the same data dir.
        self._file_lock = FileLock(self.data_dir / "write.lock")
        with self._write_lock:
            conn = self._conn()
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(sentences)")}
            if "comment" not in columns:  # a data dir from before reader comments were told apart
                conn.execute("ALTER TABLE sentences ADD COLUMN comment INTEGER NOT NULL DEFAULT 0")
            if "candidate" in columns:  # `quotable`'s old name ("candidate" now means retrieved)
                conn.execute("ALTER TABLE sentences RENAME COLUMN candidate TO quotable")
            # Data dirs from before documents were read with their structure.
            if "context" not in columns:
                conn.execute("ALTER TABLE sentences ADD COLUMN context TEXT NOT NULL DEFAULT ''")
            if "location" not in columns:
                conn.execute("ALTER TABLE sentences ADD COLUMN location TEXT NOT NULL DEFAULT ''")
            if "context" not in {row[1] for row in conn.execute("PRAGMA table_info(passages)")}:
                conn.execute("ALTER TABLE passages ADD COLUMN context TEXT NOT NULL DEFAULT ''")
            have = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
            if "layout" not in have:
                conn.execute("ALTER TABLE documents ADD COLUMN layout TEXT")
            for column in ("url", "media_type", "original"):  # the file a document came from
                if column not in have:
                    conn.execute(f"ALTER TABLE documents ADD COLUMN {column} TEXT NOT NULL "
                                 f"DEFAULT ''")
            for column, default in zip(METADATA_COLUMNS, ("default", "[]", "{}")):
                if column not in have:  # data dirs from before documents carried metadata
                    conn.execute(f"ALTER TABLE documents ADD COLUMN {column} TEXT NOT NULL "
                                 f"DEFAULT '{default}'")
            # Covering indexes for loading the catalog: a scan of the tables themselves would
            # read every vector blob too (0.6 s instead of 0.15 s at 100k sentences).
            for older in ("sentences_catalog", "sentences_catalog_2"):  # without what follows
                conn.execute(f"DROP INDEX IF EXISTS {older}")
            conn.execute("CREATE INDEX IF NOT EXISTS sentences_catalog_3 ON sentences(quotable, "
                         "id, doc_id, ord, passage_ord, start, end, comment, text, context, "
                         "location)")
            conn.execute("CREATE INDEX IF NOT EXISTS passages_catalog ON passages(id, doc_id, "
                         "ord, start, end, first_sentence, last_sentence)")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            conn.commit()

    def _conn(self) -> sqlite3.Connection:
        """Give each thread its own connection, as sqlite3 requires."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @property
    def url(self) -> str:
        """Name the store for logs and health checks."""
        return f"sqlite:///{self.path}"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Be the only writer of this store across processes, held while a writer embeds."""
        try:
            self._file_lock.acquire(timeout=0.05)
        except Timeout:
            log.info("another process is writing to %s; waiting for it", self.data_dir)
            self._file_lock.acquire()
        try:
            yield
        finally:
            self._file_lock.release()

    def follow(self, interval: float = 0.25) -> None:
        """Keep up with other writers; a no-op here, since every process reads the one file."""

    def pull(self) -> bool:
        """Catch up with other writers now; nothing to copy here (False): they share the file."""
        return False

    def changed_since(self, generation: int, until: int) -> list[str] | None:
        """The documents that changed between two generations, when known (None: reload all)."""
        del generation, until  # processes sharing the file keep no record of each other's writes
        return None

    def close(self) -> None:
        """Release what the store holds open beyond its connections (nothing for SQLite)."""

    @contextmanager
    def transaction(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """Run writes as one atomic unit that also bumps the index generation."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._local.start_generation = int(conn.execute(
                    "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
                yield conn
                if bump:
                    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                                 "WHERE key = 'generation'")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # --- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """Read a metadata value such as the model the index was built with."""
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        """Write a metadata value (inside a transaction when one is given)."""
        if conn is not None:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            return
        with self.transaction(bump=False) as tx:
            tx.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def has_content(self) -> bool:
        """Tell whether documents were ever indexed here (seeds are only added to a new index)."""
        has_documents = self._conn().execute("SELECT 1 FROM documents LIMIT 1").fetchone()
        return bool(has_documents or self.get_meta("seeded"))

    @property
    def last_start_generation(self) -> int:
        """The generation this thread's last transaction started from (others may have written)."""
        return int(getattr(self._local, "start_generation", -1))

    @property
    def generation(self) -> int:
        """Count committed writes, so a saved FAISS file can tell whether it is current."""
        return int(self.get_meta("generation") or 0)

    # --- documents ------------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        """Map every doc_id to its content hash, to skip unchanged documents."""
        return dict(self._conn().execute("SELECT doc_id, content_hash FROM documents"))

    def get_document(self, doc_id: str) -> Document | None:
        """Fetch one stored document."""
        row = self._conn().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return _document(row) if row else None

    def iter_documents(self) -> Iterator[Document]:
        """Stream every stored document (without its original's bytes), for a rebuild."""
        yield from (_document(row) for row in self._conn().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY doc_id"))

    def get_original(self, doc_id: str) -> Original | None:
        """The file a document was read from, as it came (None: it was sent as text)."""
        row = self._conn().execute(
            "SELECT o.data, o.media_type, d.source FROM documents d JOIN originals o "
            "ON o.id = d.original WHERE d.doc_id = ?", (doc_id,)).fetchone()
        return Original(bytes(row[0]), row[1], row[2]) if row else None

    def list_documents(self) -> list[DocumentSummary]:
        """List documents with their sizes, for the document list endpoints."""
        rows = self._conn().execute("""
            SELECT d.doc_id, d.title, d.source, length(d.text),
                   (SELECT count(*) FROM passages p WHERE p.doc_id = d.doc_id),
                   (SELECT count(*) FROM sentences s WHERE s.doc_id = d.doc_id AND s.quotable),
                   d.added_at, d.collection, d.tags, d.fields
            FROM documents d ORDER BY d.doc_id""").fetchall()
        return [DocumentSummary(*row[:7], metadata=Metadata.from_stored(*row[7:]))
                for row in rows]

    def metadata(self, doc_ids: Sequence[str] | None = None) -> dict[str, tuple[str, Metadata]]:
        """Each document's source and metadata (some documents, or all), which filters match."""
        return {row[0]: (row[1], Metadata.from_stored(*row[2:])) for row in self._of_documents(
            "SELECT doc_id, source, collection, tags, fields FROM documents WHERE {where}",
            doc_ids)}

    def counts(self) -> dict[str, int]:
        """Count what is indexed, for health checks."""
        conn = self._conn()
        return {
            "documents": conn.execute("SELECT count(*) FROM documents").fetchone()[0],
            "passages": conn.execute("SELECT count(*) FROM passages").fetchone()[0],
            "sentences": conn.execute(
                "SELECT count(*) FROM sentences WHERE quotable").fetchone()[0],
        }

    def _delete(self, conn: sqlite3.Connection, doc_id: str) -> tuple[list[int], list[int]]:
        """Delete one document's rows and return the vector ids that went with it."""
        sids = [r[0] for r in conn.execute(
            "SELECT id FROM sentences WHERE doc_id = ? AND quotable", (doc_id,))]
        pids = [r[0] for r in conn.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))]
        _delete_rowids(conn, "sentence_fts", sids)
        _delete_rowids(conn, "passage_fts", pids)
        conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return sids, pids

    def _drop_original(self, conn: sqlite3.Connection, original_id: str) -> None:
        """Delete an original no document refers to any more (one file may back several)."""
        if original_id:
            conn.execute("DELETE FROM originals WHERE id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM documents WHERE original = ?)",
                         (original_id, original_id))

    def _original_of(self, conn: sqlite3.Connection, doc_id: str) -> str:
        """The content address of the original a stored document refers to ("" for none)."""
        row = conn.execute("SELECT original FROM documents WHERE doc_id = ?",
                           (doc_id,)).fetchone()
        return row[0] if row else ""

    def delete_document(self, doc_id: str) -> Replaced | None:
        """Remove a document with its chunks and vectors; None when it was not there (then
        nothing is written: a new generation would make every replica reload)."""
        try:
            with self.transaction() as conn:
                if not self._holds(conn, doc_id):
                    raise _NothingWritten
                sids, pids = self._remove(conn, doc_id)
        except _NothingWritten:
            return None
        return Replaced(doc_id, sids, pids, [], [])

    def _holds(self, conn: sqlite3.Connection, doc_id: str) -> bool:
        """Tell, inside a write transaction, whether the source of truth has this document."""
        return conn.execute("SELECT 1 FROM documents WHERE doc_id = ?",
                            (doc_id,)).fetchone() is not None

    def _remove(self, conn: sqlite3.Connection, doc_id: str, keep: str = ""
                ) -> tuple[list[int], list[int]]:
        """Delete a document from the source of truth; its quotable sentence and passage ids.

        Here that is this database's own rows (`_delete`) and its original, unless another
        document shares it or it is `keep` (the file the document is rewritten with);
        PostgresStore deletes in PostgreSQL and leaves its local copy (where it calls
        `_delete`) to the next pull."""
        original = self._original_of(conn, doc_id)
        removed = self._delete(conn, doc_id)
        if original != keep:
            self._drop_original(conn, original)
        return removed

    def reclaim(self, force: bool = False) -> int:
        """Give the space of deleted documents back to the disk; bytes freed.

        SQLite keeps freed pages for reuse, so a deleted 500 MB document would hold its space
        for ever. Without `force` this runs only when over half the file (and at least
        RECLAIM_MIN_BYTES) is free, so the cost of rewriting stays below what it frees.
        """
        with self._write_lock:
            conn = self._conn()
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if not force and (free * page < RECLAIM_MIN_BYTES or free * 2 < pages):
                return 0
            before = self.disk_bytes()
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return max(before - self.disk_bytes(), 0)

    def disk_bytes(self) -> int:
        """Size of the database on disk, its write-ahead log included."""
        return sum(f.stat().st_size for f in (self.path, self.path.with_name(self.path.name +
                                                                             "-wal"))
                   if f.exists())

    def write_document(self, conn: sqlite3.Connection, doc: Document, chunks: Chunks,
                       sentence_vectors: np.ndarray, passage_vectors: np.ndarray) -> Replaced:
        """Replace a document and everything derived from it, inside the caller's transaction."""
        replaced_original = self._original_of(conn, doc.doc_id)
        removed_s, removed_p = self._delete(conn, doc.doc_id)
        if doc.original is not None:
            conn.execute("INSERT OR IGNORE INTO originals VALUES (?, ?, ?)",
                         (doc.original_id, doc.original, doc.media_type))
        conn.execute("INSERT INTO documents (doc_id, title, text, source, content_hash, "
                     "added_at, layout, url, media_type, original, collection, tags, fields) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (doc.doc_id, doc.title, doc.text, doc.source, doc.content_hash, time.time(),
                      doc.layout.to_json() if doc.layout is not None else None, doc.url,
                      doc.media_type, doc.original_id, doc.metadata.collection,
                      *doc.metadata.to_json()))
        if replaced_original != doc.original_id:
            self._drop_original(conn, replaced_original)
        added_p: list[int] = []
        for ord_, (passage, vector) in enumerate(zip(chunks.passages, passage_vectors)):
            context = store_context(chunks.passage_context(passage))
            cur = conn.execute(
                "INSERT INTO passages (doc_id, ord, start, end, first_sentence, last_sentence, "
                "vector, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.doc_id, ord_, passage.start, passage.end, passage.first, passage.last,
                 _blob(vector, half=True), context))
            added_p.append(int(cur.lastrowid))
            conn.execute("INSERT INTO passage_fts (rowid, title, body) VALUES (?, ?, ?)",
                         (cur.lastrowid, fts_title(doc.title, context),
                          chunks.passage_text(passage, doc.text)))
        added_s: list[int] = []
        vectors = iter(sentence_vectors)
        for ord_, sentence in enumerate(chunks.sentences):
            vector = next(vectors) if sentence.quotable else None
            cur = conn.execute(
                "INSERT INTO sentences (doc_id, ord, passage_ord, start, end, text, quotable, "
                "vector, comment, context, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.doc_id, ord_, chunks.home_passage[ord_], sentence.start, sentence.end,
                 sentence.text, int(sentence.quotable),
                 _blob(vector, half=True) if vector is not None else None,
                 int(sentence.comment),
                 sentence.stored_context, sentence.location))
            if sentence.quotable:
                added_s.append(int(cur.lastrowid))
                conn.execute("INSERT INTO sentence_fts (rowid, title, body) VALUES (?, ?, ?)",
                             (cur.lastrowid, fts_title(doc.title, sentence.stored_context),
                              sentence.text))
        return Replaced(doc.doc_id, removed_s, removed_p, added_s, added_p)

    def clear(self, conn: sqlite3.Connection) -> None:
        """Empty the index inside the caller's transaction, for a rebuild."""
        conn.execute("DELETE FROM sentence_fts")
        conn.execute("DELETE FROM passage_fts")
        conn.execute("DELETE FROM sentences")
        conn.execute("DELETE FROM passages")
        conn.execute("DELETE FROM documents")
        conn.execute("DELETE FROM words")

    # --- vectors --------------------------------------------------------------------------
    def load_vectors(self, kind: str, doc_ids: Sequence[str] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Read the stored vectors of `kind` ('sentences' or 'passages') with their ids, of
        some documents (all when None)."""
        table = _table(kind)
        quotable = "quotable AND " if table == "sentences" else ""
        rows = list(self._of_documents(
            f"SELECT id, vector FROM {table} WHERE {quotable}{{where}} ORDER BY id", doc_ids))
        if doc_ids is not None:
            rows.sort()  # ordered within each chunk of ids only
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, _matrix([r[1] for r in rows])

    def known_words(self, words: Iterable[str]) -> set[str]:
        """Which of these words already have a vector."""
        conn, found = self._conn(), set()
        for chunk in _chunks(sorted(set(words))):
            found.update(r[0] for r in conn.execute(
                f"SELECT word FROM words WHERE word IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def write_words(self, conn: sqlite3.Connection, words: Sequence[str],
                    vectors: np.ndarray) -> None:
        """Store word vectors inside the caller's transaction (a word written twice is kept once)."""
        conn.executemany("INSERT OR IGNORE INTO words (word, vector) VALUES (?, ?)",
                         ((w, _blob(v)) for w, v in zip(words, vectors)))

    def load_words(self, after: int = 0) -> tuple[int, list[str], np.ndarray]:
        """Read the word vectors stored after row `after`: (last row id, words, vectors)."""
        rows = self._conn().execute("SELECT id, word, vector FROM words WHERE id > ? ORDER BY id",
                                    (after,)).fetchall()
        if not rows:
            return after, [], np.zeros((0, 0), dtype=np.float32)
        return rows[-1][0], [r[1] for r in rows], _matrix([r[2] for r in rows])

    # --- reads for the in-memory catalog ---------------------------------------------------
    def _of_documents(self, sql: str, doc_ids: Sequence[str] | None) -> Iterator[tuple]:
        """Run a `WHERE ...` query for some documents (`doc_id IN (...)`) or for all of them."""
        conn = self._conn()
        if doc_ids is None:
            yield from conn.execute(sql.format(where="1"))
            return
        for chunk in _chunks(sorted(set(doc_ids))):
            yield from conn.execute(sql.format(where=f"doc_id IN ({','.join('?' * len(chunk))})"),
                                    chunk)

    def quotable_sentences(self, doc_ids: Sequence[str] | None = None) -> list[SentenceRow]:
        """Read the quotable sentences of some documents (all when None)."""
        return [SentenceRow(*row[:7], bool(row[7]), *row[8:]) for row in self._of_documents(
            "SELECT id, doc_id, ord, passage_ord, start, end, text, comment, context, location "
            "FROM sentences WHERE quotable AND {where}", doc_ids)]

    def passages(self, doc_ids: Sequence[str] | None = None) -> list[PassageRow]:
        """Read the passages of some documents (all when None)."""
        return [PassageRow(*row) for row in self._of_documents(
            "SELECT id, doc_id, ord, start, end, first_sentence, last_sentence FROM passages "
            "WHERE {where}", doc_ids)]

    def titles(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Read the titles of some documents (all when None)."""
        return dict(self._of_documents("SELECT doc_id, title FROM documents WHERE {where}",
                                       doc_ids))

    def text_slices(self, spans: Iterable[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
        """Cut spans out of stored documents, without loading whole documents into Python."""
        out: dict[tuple[str, int, int], str] = {}
        conn = self._conn()
        for chunk in _chunks(sorted(set(spans)), 150):  # 6 parameters each, under 999
            query = " UNION ALL ".join(
                ["SELECT ?, ?, ?, substr(text, ?, ?) FROM documents WHERE doc_id = ?"] * len(chunk))
            params = [x for d, a, b in chunk for x in (d, a, b, a + 1, b - a, d)]
            out.update({(d, a, b): text for d, a, b, text in conn.execute(query, params)})
        return out

    # --- lexical search -------------------------------------------------------------------
    def lexical_search(self, kind: str, terms: Sequence[str], budget: int | None = None
                       ) -> dict[int, float]:
        """Score every row matching any term by BM25 over its text (and, weighted less, title).

        One pass gives both the top rows and the score of any candidate, which a ranked
        `LIMIT` query followed by a per-candidate query would compute twice. FTS5 must score
        every matching row before it can rank them, so with a `budget` the commonest terms are
        left out once the rows they would add pass it: they carry the least weight in BM25, and
        without them a search costs the same at a million sentences as at ten thousand.
        """
        if budget is not None:
            terms = self.selective_terms(kind, terms, budget)
        if not terms:
            return {}
        fts = _fts(kind)
        # Aggregated in SQL, the whole search is one step that runs without the GIL: fetched
        # row by row, every row took the GIL back, and two searches side by side were slower
        # than one after the other. (`LIMIT -1` keeps SQLite from flattening the subquery:
        # bm25() cannot run inside an aggregate.)
        ids, scores = self._conn().execute(
            f"SELECT json_group_array(id), json_group_array(score) FROM "
            f"(SELECT rowid AS id, -bm25({fts}, ?, 1.0) AS score FROM {fts} "
            f"WHERE {fts} MATCH ? LIMIT -1)", (TITLE_WEIGHT, fts_query(terms))).fetchone()
        return dict(zip(json.loads(ids), json.loads(scores)))

    def selective_terms(self, kind: str, terms: Sequence[str], budget: int) -> list[str]:
        """Keep the rarest terms whose matching rows add up to at most `budget` (at least one)."""
        counts = self.row_counts(kind, terms)
        kept, total = [], 0
        for term in sorted(terms, key=counts.__getitem__):
            if kept and total + counts[term] > budget:
                break
            kept.append(term)
            total += counts[term]
        return [t for t in terms if t in kept]

    def row_counts(self, kind: str, terms: Sequence[str]) -> dict[str, int]:
        """Count the rows each term matches, remembered until the index next changes.

        Reads are open to anyone, so the memory is bounded: words that match nothing (made-up
        words cost nothing to send) are never kept, and past TERM_CACHE words the least
        recently asked go first.
        """
        fts = _fts(kind)
        generation = self.generation
        with self._counts_lock:
            if self._counts_generation != generation:
                self._term_rows.clear()
                self._counts_generation = generation
        cache = self._term_rows
        out = {}
        for term in terms:
            key = (fts, term)
            with self._counts_lock:
                count = cache.get(key)
                if count is not None:
                    cache.move_to_end(key)
            if count is None:
                count = self._conn().execute(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?",
                                             (fts_query([term]),)).fetchone()[0]
                if count:
                    with self._counts_lock:
                        cache[key] = count
                        while len(cache) > TERM_CACHE:
                            cache.popitem(last=False)
            out[term] = count
        return out


def _table(kind: str) -> str:
    """Check a vector kind and name its table."""
    if kind not in ("sentences", "passages"):
        raise ValueError(f"unknown kind {kind!r}")
    return kind


def _fts(kind: str) -> str:
    """Name the full-text table of a kind ('sentences' -> 'sentence_fts')."""
    return f"{_table(kind)[:-1]}_fts"


def _chunks(ids: list, size: int = 500) -> Iterator[list]:
    """Split long id lists to stay under SQLite's parameter limit."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _delete_rowids(conn: sqlite3.Connection, table: str, ids: list[int]) -> None:
    """Delete FTS rows by rowid."""
    for chunk in _chunks(ids):
        conn.execute(f"DELETE FROM {table} WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
