"""PostgreSQL as the shared source of truth, with a SQLite mirror in each replica's data dir.

Every replica (`qa serve --store-url postgresql://...`, on any machine) writes to PostgreSQL and
reads from its own mirror, which holds the same rows under the same ids plus the FTS5 indexes:
answering never waits on the network, and BM25 scores are exactly those of the embedded store.

- Writes: one PostgreSQL transaction per change. It locks the `generation` row (`FOR UPDATE`),
  so commits are serialised and row ids grow in commit order, records the changed documents in
  `changes` under the new generation, and commits. One writer at a time across replicas is an
  advisory lock held by the writer's connection (`exclusive`) while it embeds; the server
  releases it if the writer's process dies.
- Reads: `pull` copies what changed since the mirror's generation (the documents named in
  `changes`, new words, the shared metadata) inside one repeatable-read snapshot, into one
  SQLite transaction. A mirror that is empty, from another database, or behind a rebuild is
  copied whole, vectors included: a new replica never re-embeds. `follow` pulls in the
  background, and the indexer's `refresh` then sees the mirror's new generation.
- A replica may pull from a streaming standby (`read_url`); its own writes are pulled from the
  primary, so it always sees them at once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from qa.config import StoreUrlError
from qa.reading.chunking import Chunks
from qa.reading.documents import Document
from qa.reading.layout import store_context
from qa.storage.records import Original, Replaced
from qa.storage.sqlite import Store, _blob, _chunks, fts_title

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
WRITER_LOCK = 0x7665726261  # the advisory lock key of the one writer ("verba")
SCHEMA_LOCK = 0x7665726262  # serialises creating the schema when replicas start together
# Metadata that describes this replica's own files, never shared.
LOCAL_META = frozenset({"generation", "faiss_generation", "schema_version", "pg_meta_serial",
                        "pg_store_id"})
COUNTERS = ("generation", "meta_serial", "store_id")

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS verbatim;
CREATE TABLE IF NOT EXISTS verbatim.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verbatim.documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, added_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS verbatim.passages (
    id BIGSERIAL PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES verbatim.documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, body TEXT NOT NULL,
    vector BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS verbatim.sentences (
    id BIGSERIAL PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES verbatim.documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, passage_ord INTEGER NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL, quotable BOOLEAN NOT NULL, vector BYTEA,
    comment BOOLEAN NOT NULL);
CREATE INDEX IF NOT EXISTS passages_doc ON verbatim.passages(doc_id);
CREATE INDEX IF NOT EXISTS sentences_doc ON verbatim.sentences(doc_id);
CREATE TABLE IF NOT EXISTS verbatim.words (
    id BIGSERIAL PRIMARY KEY, word TEXT NOT NULL UNIQUE, vector BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS verbatim.changes (generation BIGINT NOT NULL, doc_id TEXT);
CREATE INDEX IF NOT EXISTS changes_generation ON verbatim.changes(generation);
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS layout TEXT;
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS url TEXT NOT NULL DEFAULT '';
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS media_type TEXT NOT NULL DEFAULT '';
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS original TEXT NOT NULL DEFAULT '';
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS collection TEXT NOT NULL DEFAULT 'default';
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE verbatim.documents ADD COLUMN IF NOT EXISTS fields TEXT NOT NULL DEFAULT '{}';
CREATE TABLE IF NOT EXISTS verbatim.originals (
    id TEXT PRIMARY KEY, data BYTEA NOT NULL, media_type TEXT NOT NULL);
ALTER TABLE verbatim.passages ADD COLUMN IF NOT EXISTS context TEXT NOT NULL DEFAULT '';
ALTER TABLE verbatim.sentences ADD COLUMN IF NOT EXISTS context TEXT NOT NULL DEFAULT '';
ALTER TABLE verbatim.sentences ADD COLUMN IF NOT EXISTS location TEXT NOT NULL DEFAULT '';
INSERT INTO verbatim.meta VALUES ('generation', '0'), ('meta_serial', '0'),
    ('store_id', gen_random_uuid()::text), ('schema_version', '1') ON CONFLICT DO NOTHING;
"""

DOCS_PER_READ = 200  # documents whose rows one query of a pull fetches
JOURNAL = 1000  # pulls remembered, so the in-memory indexes can follow them document by document
CHANGES_KEPT = 100_000  # generations of the change log kept; a replica further behind copies all


def redact(url: str) -> str:
    """Hide the password of a connection URL, for logs and error messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresStore(Store):
    """A replica's view of a PostgreSQL store: writes go to PostgreSQL, reads to the mirror."""

    def __init__(self, url: str, data_dir: Path, read_url: str | None = None) -> None:
        """Connect, create the schema if it is new, and bring the mirror up to date."""
        super().__init__(data_dir)
        self._url = url
        self._read_url = read_url or url
        self._pg_lock = threading.RLock()  # guards the writer connection
        self._pull_lock = threading.Lock()
        self._pull_lock_standby = threading.Lock()  # guards the reader connection
        self._writer: psycopg.Connection | None = None
        self._reader: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        # (from generation, to generation, documents changed or None for everything)
        self._journal: deque[tuple[int, int, frozenset[str] | None]] = deque(maxlen=JOURNAL)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as pg:
                with pg.transaction():
                    pg.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    pg.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise StoreUrlError(f"cannot open the store at {redact(url)}: "
                                f"{str(exc).strip().splitlines()[0]}") from None
        self.pull()

    @property
    def url(self) -> str:
        """Name the store for logs, without its password."""
        return redact(self._url)

    # --- connections -----------------------------------------------------------------------
    def _connection(self, which: str) -> psycopg.Connection:
        """Reuse one connection per role, opening a new one after the server dropped it."""
        conn = getattr(self, which)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self._url if which == "_writer" else self._read_url,
                                   autocommit=True, connect_timeout=10)
            setattr(self, which, conn)
        return conn

    def close(self) -> None:
        """Stop following and close the connections."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()

    # --- writes ---------------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Be the only writer across every replica (and process) until the block ends; a
        thread already holding it may enter again (a rebuild saves under it)."""
        if getattr(self._local, "exclusive", 0):
            self._local.exclusive += 1
            try:
                yield
            finally:
                self._local.exclusive -= 1
            return
        with super().exclusive(), psycopg.connect(self._url, autocommit=True) as lock:
            if not lock.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:
                log.info("another replica is writing to %s; waiting for it", self.url)
                lock.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            self.pull()  # decide what to write from the latest state
            self._local.exclusive = 1
            try:
                yield  # the lock goes with the connection when the block ends
            finally:
                self._local.exclusive = 0

    @contextmanager
    def transaction(self, bump: bool = True) -> Iterator[psycopg.Connection]:
        """Run writes as one PostgreSQL transaction, then mirror what it committed."""
        with self._pg_lock:
            pg = self._connection("_writer")
            with pg.transaction():
                start = int(pg.execute("SELECT value FROM verbatim.meta WHERE key = 'generation' "
                                       "FOR UPDATE").fetchone()[0])
                self._local.pg_start_generation = start
                yield pg
                if bump:
                    pg.execute("UPDATE verbatim.meta SET value = %s WHERE key = 'generation'",
                               (str(start + 1),))
                    if (start + 1) % max(1, CHANGES_KEPT // 10) == 0:  # now and then
                        pg.execute("DELETE FROM verbatim.changes WHERE generation <= %s",
                                   (start + 1 - CHANGES_KEPT,))
        self._pull(primary=True)

    @property
    def last_start_generation(self) -> int:
        """The generation this thread's last PostgreSQL transaction started from."""
        return int(getattr(self._local, "pg_start_generation", -1))

    def set_meta(self, key: str, value: str, conn: Any = None) -> None:
        """Share a metadata value with every replica (this replica's own keys stay local)."""
        if key in LOCAL_META:
            with Store.transaction(self, bump=False) as local:
                Store.set_meta(self, key, value, local)
            return
        if conn is None:
            with self.transaction(bump=False) as tx:
                self.set_meta(key, value, tx)
            return
        conn.execute("INSERT INTO verbatim.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                     "SET value = EXCLUDED.value", (key, value))
        conn.execute("UPDATE verbatim.meta SET value = (value::bigint + 1)::text "
                     "WHERE key = 'meta_serial'")

    def _generation_of_write(self) -> int:
        """The generation the running transaction commits as."""
        return self.last_start_generation + 1

    def _remove(self, pg: psycopg.Connection, doc_id: str, keep: str = ""
                ) -> tuple[list[int], list[int]]:
        """Delete a document's rows in PostgreSQL (the mirror follows when the write is pulled),
        and its original unless another document shares it or it is `keep`, returning its
        quotable sentence and passage ids."""
        sids = [r[0] for r in pg.execute(
            "SELECT id FROM verbatim.sentences WHERE doc_id = %s AND quotable ORDER BY id",
            (doc_id,))]
        pids = [r[0] for r in pg.execute(
            "SELECT id FROM verbatim.passages WHERE doc_id = %s ORDER BY id", (doc_id,))]
        gone = pg.execute("DELETE FROM verbatim.documents WHERE doc_id = %s RETURNING original",
                          (doc_id,)).fetchone()
        if gone and gone[0] and gone[0] != keep:
            pg.execute("DELETE FROM verbatim.originals WHERE id = %s AND NOT EXISTS "
                       "(SELECT 1 FROM verbatim.documents WHERE original = %s)",
                       (gone[0], gone[0]))
        pg.execute("INSERT INTO verbatim.changes VALUES (%s, %s)",
                   (self._generation_of_write(), doc_id))
        return sids, pids

    def get_original(self, doc_id: str) -> Original | None:
        """The file a document was read from, read from PostgreSQL (replicas keep no copy)."""
        with self._pull_lock_standby:
            row = self._connection("_reader").execute(
                "SELECT o.data, o.media_type, d.source FROM verbatim.documents d JOIN "
                "verbatim.originals o ON o.id = d.original WHERE d.doc_id = %s",
                (doc_id,)).fetchone()
        return Original(bytes(row[0]), row[1], row[2]) if row else None

    def write_document(self, conn: Any, doc: Document, chunks: Chunks,
                       sentence_vectors: np.ndarray, passage_vectors: np.ndarray) -> Replaced:
        """Replace a document and its rows inside the caller's PostgreSQL transaction."""
        pg: psycopg.Connection = conn
        removed_s, removed_p = self._remove(pg, doc.doc_id, keep=doc.original_id)
        if doc.original is not None:
            pg.execute("INSERT INTO verbatim.originals VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                       (doc.original_id, doc.original, doc.media_type))
        pg.execute("INSERT INTO verbatim.documents (doc_id, title, text, source, content_hash, "
                   "added_at, layout, url, media_type, original, collection, tags, fields) "
                   "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                   (doc.doc_id, doc.title, doc.text, doc.source, doc.content_hash, time.time(),
                    doc.layout.to_json() if doc.layout is not None else None, doc.url,
                    doc.media_type, doc.original_id, doc.metadata.collection,
                    *doc.metadata.to_json()))
        pids = _next_ids(pg, "verbatim.passages_id_seq", len(chunks.passages))
        sids = _next_ids(pg, "verbatim.sentences_id_seq", len(chunks.sentences))
        with pg.cursor().copy(
                'COPY verbatim.passages (id, doc_id, ord, start, "end", first_sentence, '
                "last_sentence, body, vector, context) FROM STDIN") as copy:
            for ord_, (passage, vector) in enumerate(zip(chunks.passages, passage_vectors)):
                copy.write_row((pids[ord_], doc.doc_id, ord_, passage.start, passage.end,
                                passage.first, passage.last,
                                chunks.passage_text(passage, doc.text), _blob(vector, half=True),
                                store_context(chunks.passage_context(passage))))
        added_s: list[int] = []
        vectors = iter(sentence_vectors)
        with pg.cursor().copy(
                'COPY verbatim.sentences (id, doc_id, ord, passage_ord, start, "end", text, '
                "quotable, vector, comment, context, location) FROM STDIN") as copy:
            for ord_, sentence in enumerate(chunks.sentences):
                vector = next(vectors) if sentence.quotable else None
                if sentence.quotable:
                    added_s.append(sids[ord_])
                copy.write_row((sids[ord_], doc.doc_id, ord_, chunks.home_passage[ord_],
                                sentence.start, sentence.end, sentence.text, sentence.quotable,
                                _blob(vector, half=True) if vector is not None else None,
                                sentence.comment, sentence.stored_context,
                                sentence.location))
        return Replaced(doc.doc_id, removed_s, removed_p, added_s, pids)

    def _holds(self, conn: Any, doc_id: str) -> bool:
        """Tell, inside a write transaction, whether PostgreSQL has this document."""
        return conn.execute("SELECT 1 FROM verbatim.documents WHERE doc_id = %s",
                            (doc_id,)).fetchone() is not None

    def clear(self, conn: Any) -> None:
        """Empty the shared store for a rebuild; every replica then copies it anew."""
        pg: psycopg.Connection = conn
        pg.execute("DELETE FROM verbatim.documents")
        pg.execute("DELETE FROM verbatim.words")
        pg.execute("DELETE FROM verbatim.changes")
        pg.execute("INSERT INTO verbatim.changes VALUES (%s, NULL)", (self._generation_of_write(),))

    def write_words(self, conn: Any, words: Sequence[str], vectors: np.ndarray) -> None:
        """Store word vectors inside the caller's transaction (a known word is kept once)."""
        pg: psycopg.Connection = conn
        with pg.cursor() as cur:
            cur.executemany("INSERT INTO verbatim.words (word, vector) VALUES (%s, %s) "
                            "ON CONFLICT (word) DO NOTHING",
                            [(w, _blob(v)) for w, v in zip(words, vectors)])

    # --- the mirror -----------------------------------------------------------------------
    def pull(self) -> bool:
        """Bring the mirror up to date with the store; True when anything changed."""
        return self._pull(primary=False)

    def follow(self, interval: float = 0.25) -> None:
        """Pull every `interval` seconds in the background, so other replicas' writes show."""
        if self._follower is not None:
            return

        def loop() -> None:
            failing = False
            while not self._stop.wait(interval):
                try:
                    self.pull()
                    if failing:
                        log.info("the store at %s answers again", self.url)
                    failing = False
                except (psycopg.Error, OSError) as exc:
                    if not failing:
                        log.warning("cannot reach the store at %s (answering from this replica's "
                                    "copy meanwhile): %s", self.url, str(exc).strip())
                    failing = True

        self._follower = threading.Thread(target=loop, name="store-follower", daemon=True)
        self._follower.start()

    def _pull(self, primary: bool) -> bool:
        """Copy the changes since the mirror's generation, from the primary or the standby."""
        standby = not primary and self._read_url != self._url
        with self._pull_lock, (self._pull_lock_standby if standby else self._pg_lock):
            pg = self._connection("_reader" if standby else "_writer")
            with pg.transaction():
                pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return self._copy(pg)

    def _copy(self, pg: psycopg.Connection) -> bool:
        """Mirror the snapshot `pg` sees, if it is newer than the mirror."""
        state = dict(pg.execute("SELECT key, value FROM verbatim.meta WHERE key = ANY(%s)",
                                (list(COUNTERS),)).fetchall())
        generation, serial = int(state["generation"]), int(state["meta_serial"])
        if self._mirrors(state["store_id"], generation, serial):
            return False
        local_generation = self.generation
        full = self.get_meta("pg_store_id") != state["store_id"] or local_generation > generation
        changed: list[str | None] = []
        if not full and generation != local_generation:
            oldest = pg.execute("SELECT min(generation) FROM verbatim.changes").fetchone()[0]
            changed = [r[0] for r in pg.execute(
                "SELECT DISTINCT doc_id FROM verbatim.changes WHERE generation > %s",
                (local_generation,))]
            full = None in changed or (oldest is not None and oldest > local_generation + 1)
        if full:
            changed = [r[0] for r in pg.execute("SELECT doc_id FROM verbatim.documents")]
        with Store.transaction(self, bump=False) as conn:
            if self._mirrors(state["store_id"], generation, serial):
                return False  # another process sharing this data dir pulled meanwhile
            now = self.generation
            if now != local_generation and now >= generation and not full:
                return False  # ...and from a snapshot as new as this one, or newer
            local_generation = now
            if full:
                Store.clear(self, conn)
                conn.execute("DELETE FROM meta WHERE key = 'faiss_generation'")
            doc_ids = [d for d in changed if d is not None]
            for batch in _chunks(sorted(doc_ids), DOCS_PER_READ):
                for doc_id in batch:
                    self._delete(conn, doc_id)
                self._copy_documents(pg, conn, batch)
            last_word = conn.execute("SELECT coalesce(max(id), 0) FROM words").fetchone()[0]
            conn.executemany("INSERT INTO words (id, word, vector) VALUES (?, ?, ?)", pg.execute(
                "SELECT id, word, vector FROM verbatim.words WHERE id > %s ORDER BY id",
                (last_word,)))
            for key, value in pg.execute("SELECT key, value FROM verbatim.meta"):
                if key not in LOCAL_META and key not in COUNTERS:
                    Store.set_meta(self, key, value, conn)
            Store.set_meta(self, "generation", str(generation), conn)
            Store.set_meta(self, "pg_meta_serial", str(serial), conn)
            Store.set_meta(self, "pg_store_id", state["store_id"], conn)
        if generation != local_generation:
            self._journal.append((local_generation, generation,
                                  None if full else frozenset(d for d in changed if d)))
        if full:
            log.info("copied the store at %s into %s (%d documents)", self.url, self.data_dir,
                     len(changed))
        return True

    def changed_since(self, generation: int, until: int) -> list[str] | None:
        """The documents this process's pulls changed from one generation to another (None
        when it cannot tell: a full copy, or a pull by another process on this data dir)."""
        changed: set[str] = set()
        at = generation
        for start, end, doc_ids in list(self._journal):
            if start == at and end <= until:
                if doc_ids is None:
                    return None
                changed |= doc_ids
                at = end
        return sorted(changed) if at == until else None

    def _mirrors(self, store_id: str, generation: int, serial: int) -> bool:
        """Tell whether the mirror already holds this state of the store."""
        return (self.get_meta("pg_store_id") == store_id
                and self.generation == generation
                and self.get_meta("pg_meta_serial") == str(serial))

    def _copy_documents(self, pg: psycopg.Connection, conn: Any, doc_ids: list[str]) -> None:
        """Insert some documents' rows, ids and vectors as stored, with their FTS rows."""
        titles = {}
        for row in pg.execute("SELECT doc_id, title, text, source, content_hash, added_at, "
                              "layout, url, media_type, original, collection, tags, fields "
                              "FROM verbatim.documents WHERE doc_id = ANY(%s)", (doc_ids,)):
            conn.execute("INSERT INTO documents (doc_id, title, text, source, content_hash, "
                         "added_at, layout, url, media_type, original, collection, tags, "
                         "fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            titles[row[0]] = row[1]
        for pid, doc_id, ord_, start, end, first, last, body, vector, context in pg.execute(
                'SELECT id, doc_id, ord, start, "end", first_sentence, last_sentence, body, '
                "vector, context FROM verbatim.passages WHERE doc_id = ANY(%s) ORDER BY id",
                (doc_ids,)):
            conn.execute("INSERT INTO passages (id, doc_id, ord, start, end, first_sentence, "
                         "last_sentence, vector, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (pid, doc_id, ord_, start, end, first, last, vector, context))
            conn.execute("INSERT INTO passage_fts (rowid, title, body) VALUES (?, ?, ?)",
                         (pid, fts_title(titles[doc_id], context), body))
        for sid, doc_id, ord_, passage_ord, start, end, text, quotable, vector, comment, context, \
                location in pg.execute(
                    'SELECT id, doc_id, ord, passage_ord, start, "end", text, quotable, vector, '
                    "comment, context, location FROM verbatim.sentences WHERE doc_id = ANY(%s) "
                    "ORDER BY id", (doc_ids,)):
            conn.execute("INSERT INTO sentences (id, doc_id, ord, passage_ord, start, end, text, "
                         "quotable, vector, comment, context, location) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (sid, doc_id, ord_, passage_ord, start, end, text, int(quotable), vector,
                          int(comment), context, location))
            if quotable:
                conn.execute("INSERT INTO sentence_fts (rowid, title, body) VALUES (?, ?, ?)",
                             (sid, fts_title(titles[doc_id], context), text))


def _next_ids(pg: psycopg.Connection, sequence: str, count: int) -> list[int]:
    """Take `count` ids from a sequence in one round trip, in increasing order."""
    if not count:
        return []
    return sorted(r[0] for r in pg.execute(
        "SELECT nextval(%s) FROM generate_series(1, %s)", (sequence, count)))
