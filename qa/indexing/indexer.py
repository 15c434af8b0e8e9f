"""Indexing: documents -> chunks -> vectors -> store, keeping the in-memory FAISS indexes in step."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.model import Embedder
from embeddings.vector_index import VectorIndex, VectorSearch
from embeddings.words import project_words, projection_name
from qa.config import Settings
from qa.indexing.catalog import Catalog
from qa.indexing.staging import Staging
from qa.reading.chunking import CHUNKER_VERSION, Chunks, TooManyPassages, chunk_text
from qa.reading.documents import Document, DocumentError
from qa.reading.layout import SECTION_SEPARATOR
from qa.storage.factory import open_store
from qa.storage.protocols import DocumentStore
from qa.storage.records import Replaced
from qa.text.words import vocabulary

log = logging.getLogger(__name__)

Words = tuple[list[str], np.ndarray]  # words and their vectors, one row each
Progress = Callable[[int, int], None]
"""Called with (sentences embedded so far, total sentences) while indexing."""
Encoder = Callable[[Sequence[str], "Progress | None"], np.ndarray]
"""Embeds many texts elsewhere (a Dask cluster), rows in order, reporting progress."""


class ModelMismatch(RuntimeError):
    """The index was built with another model; its vectors cannot be compared with the question's."""


def sentence_input(title: str, sentence: str, section: str = "") -> str:
    """Embed a sentence with its document title and the section (or term) it stands under,
    which often name what 'it' refers to: "Built-in Functions › max(...): Return the largest"."""
    heading = SECTION_SEPARATOR.join(p for p in (title, section) if p)
    return f"{heading}: {sentence}" if heading else sentence


@dataclass
class ModelInputs:
    """What indexing documents asks of the model, before any word is left out as known."""

    chunked: list[tuple[Document, Chunks]]
    texts: list[str]  # sentences then passages, document after document
    bounds: list[tuple[int, int, int]]  # a document's sentences are texts[a:b], passages [b:c]
    words: set[str]  # the words of the quotable sentences, each to get a vector of its own
    # With derived passages: for each document, each passage's quotable sentences (their rows
    # among the document's sentence vectors), empty for one embedded from its text.
    members: list[list[list[int]]] = field(default_factory=list)
    # With context vectors: for each document, each quotable sentence's row in `texts` of its
    # heading path ("title › section"), embedded once per distinct path.
    contexts: list[list[int]] = field(default_factory=list)


def model_inputs(docs: Sequence[Document], settings: Settings,
                 failed: list[str] | None = None) -> ModelInputs:
    """Chunk documents and list the texts to embed (the indexing benchmark times the same).

    A document refused by the chunker stops the whole batch, unless `failed` is given: it is
    then named there with the reason, and left out."""
    s = settings
    inputs = ModelInputs([], [], [], set())
    for doc in docs:
        try:
            chunks = chunk_text(doc.text, s.passage_sentences, s.passage_overlap,
                                s.passage_max_chars, doc.layout)
        except TooManyPassages as exc:
            if failed is None:
                raise DocumentError(f"{doc.source or doc.doc_id}: {exc}") from None
            failed.append(f"{doc.source or doc.doc_id}: {exc}")
            continue
        inputs.chunked.append((doc, chunks))
    texts = inputs.texts
    for doc, chunks in inputs.chunked:
        first = len(texts)
        title = doc.title if s.embed_titles else ""
        quotable = [x for x in chunks.sentences if x.quotable]
        if s.context_vectors:  # the bare sentence now, its heading path once per path below
            texts.extend(x.text for x in quotable)
        else:
            texts.extend(sentence_input(title, x.text, x.section if s.embed_titles else "")
                         for x in quotable)
        inputs.words.update(w for x in quotable for w in vocabulary(x.text))
        middle = len(texts)
        row = {id(x): k for k, x in enumerate(quotable)}
        members = [[row[id(x)] for x in chunks.sentences[p.first:p.last + 1] if x.quotable]
                   if s.derive_passages else [] for p in chunks.passages]
        texts.extend(sentence_input(doc.title, chunks.passage_text(p, doc.text),
                                    SECTION_SEPARATOR.join(chunks.passage_context(p)))
                     for p, m in zip(chunks.passages, members) if not m)
        inputs.bounds.append((first, middle, len(texts)))
        inputs.members.append(members)
        if s.context_vectors:
            paths: dict[str, int] = {}  # each distinct path -> its row in `texts`
            rows = []
            for x in quotable:
                path = SECTION_SEPARATOR.join(p for p in (title, x.section if s.embed_titles
                                                          else "") if p)
                if path not in paths:
                    paths[path] = len(texts)
                    texts.append(path)
                rows.append(paths[path])
            inputs.contexts.append(rows)
    return inputs


def with_context(sentences: np.ndarray, contexts: np.ndarray, weight: float,
                 sentence_chars: np.ndarray, context_chars: np.ndarray) -> np.ndarray:
    """A sentence's vector from its own and its heading path's, as if embedded together
    (one path vector serves a whole section): their normalised sum, the path weighted by
    `weight` times the square root of its length over the sentence's, since the model
    averages its token states and the longer part pulls the mean its way."""
    if not len(sentences):
        return sentences
    share = np.sqrt(np.maximum(context_chars, 1) / np.maximum(sentence_chars, 1))
    mixed = sentences + (weight * share)[:, None].astype(np.float32) * contexts
    return (mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-9)
            ).astype(np.float32)


@dataclass
class _SentenceParts:
    """A document's quotable sentences embedded alone and their heading paths, with the
    lengths of both (context vectors): what passages are composed from."""

    bare: np.ndarray
    paths: np.ndarray
    sentence_chars: np.ndarray
    path_chars: np.ndarray
    weight: float


def _unit(vector: np.ndarray) -> np.ndarray:
    """Scale a vector to length one (a zero vector stays zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def passage_vectors(sentence_vectors: np.ndarray, embedded: np.ndarray,
                    members: list[list[int]], parts: _SentenceParts | None = None
                    ) -> np.ndarray:
    """A document's passage vectors: each derived from its sentences' vectors, or, for a
    passage without quotable sentences, the next of those embedded from text.

    Derived as the model would embed the passage whole: with `parts`, its sentences alone
    summed by length (the model averages over tokens) plus its heading path as for one
    sentence; without, the mean of its sentences' vectors."""
    if not members:
        return embedded
    out, next_embedded = [], iter(embedded)
    for rows in members:
        if rows and parts is not None:
            text = _unit(parts.sentence_chars[rows] @ parts.bare[rows])
            share = np.sqrt(max(float(parts.path_chars[rows].mean()), 1.0)
                            / max(float(parts.sentence_chars[rows].sum()), 1.0))
            out.append(_unit(text + parts.weight * share * _unit(parts.paths[rows].mean(axis=0))))
        elif rows:
            out.append(_unit(sentence_vectors[rows].mean(axis=0)))
        else:
            out.append(next(next_embedded))
    width = sentence_vectors.shape[1] if sentence_vectors.size else embedded.shape[1]
    return np.array(out, dtype=np.float32).reshape(len(out), width)


def document_vectors(inputs: ModelInputs, vectors: np.ndarray, settings: Settings
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each document's sentence and passage vectors from the model's vectors of
    `inputs.texts` (row for row): as embedded, or composed from sentence and heading path
    (`context_vectors`), passages derived from their sentences where `derive_passages` asks."""
    out = []
    chars = np.fromiter(map(len, inputs.texts), dtype=np.float32, count=len(inputs.texts))
    for (a, b, c), members, rows in zip(inputs.bounds, inputs.members,
                                        inputs.contexts or [None] * len(inputs.bounds)):
        parts = None
        sentences = vectors[a:b]
        if rows is not None:
            parts = _SentenceParts(vectors[a:b], vectors[rows], chars[a:b], chars[rows],
                                   settings.context_weight)
            sentences = with_context(parts.bare, parts.paths, parts.weight,
                                     parts.sentence_chars, parts.path_chars)
        out.append((sentences, passage_vectors(sentences, vectors[b:c], members, parts)))
    return out


@dataclass
class AddReport:
    """What an add did, per document."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    sentences_embedded: int = 0
    skipped: list[str] = field(default_factory=list)  # links left out, and why
    failed: list[str] = field(default_factory=list)  # "file: reason" for files not indexed
    renamed: list[str] = field(default_factory=list)  # files stored under an id not their name's


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the index for one question: the vector indexes, the catalog and
    the store behind them. It is valid inside `Indexer.snapshot()`, while no write can land."""

    sentences: VectorSearch
    passages: VectorSearch
    catalog: Catalog
    store: DocumentStore


class Indexer:
    """Owns the store and the vector indexes of one data directory."""

    def __init__(self, settings: Settings, embedder: Embedder,
                 store: DocumentStore | None = None) -> None:
        """Open the store; vectors load in `load`."""
        self.settings = settings
        self.embedder = embedder
        self.store = store or open_store(settings)
        self.sentence_index: VectorIndex | None = None
        self.passage_index: VectorIndex | None = None
        self.catalog = Catalog()  # sentences, passages and titles for answering, in memory
        self.lock = threading.RLock()  # held briefly: vector index searches and mutations
        self.write_lock = threading.RLock()  # serialises writers, held while they embed
        self.loaded_generation = -1  # the store state the vector indexes mirror

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """Hold the index still while one question is answered: vectors, catalog and cited
        passages all come from the same state, never from a half-applied write."""
        with self.lock:
            assert self.sentence_index is not None and self.passage_index is not None, "load first"
            yield Snapshot(self.sentence_index, self.passage_index, self.catalog, self.store)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Be the only writer of the store, in this process and across processes (and replicas)."""
        with self.write_lock, self.store.exclusive():
            yield

    # --- state ----------------------------------------------------------------------------
    @property
    def model_fingerprint(self) -> str:
        """Describe the embedding setup; vectors are only comparable under the same one."""
        described = {"model": self.embedder.name,
                     "input": "title: sentence" if self.settings.embed_titles else "sentence",
                     "chunker": CHUNKER_VERSION, "word_vectors": projection_name()}
        if self.settings.derive_passages:
            described["passages"] = ("sentences by length + heading path"
                                     if self.settings.context_vectors else "mean of sentences")
        if self.settings.context_vectors:
            described["context"] = (f"sentence + {self.settings.context_weight} x "
                                    "sqrt(path chars / sentence chars) x heading path")
        return json.dumps(described)

    def model_mismatch(self) -> str | None:
        """Say which model built the index when it is not the configured one."""
        built = self.store.get_meta("model")
        if built is None or built == self.model_fingerprint:
            return None
        try:
            built_name = json.loads(built).get("model", built)
        except ValueError:
            built_name = built
        if built_name == self.embedder.name:
            return ("the index was built by an older version of Verbatim's indexing; "
                    "run `qa rebuild` (or POST /v1/index/rebuild)")
        return (f"the index was built with {built_name!r} but the configured model is "
                f"{self.embedder.name!r}; run `qa rebuild` (or POST /v1/index/rebuild)")

    def vector_count(self) -> int:
        """Count the sentence vectors questions are searched against."""
        with self.lock:
            return len(self.sentence_index) if self.sentence_index is not None else 0

    def _cache_path(self, kind: str) -> Path:
        """Name the FAISS file for a kind of vector."""
        return self.store.data_dir / f"{kind}.faiss"

    def load(self) -> None:
        """Make the vector indexes and the catalog ready, from saved FAISS files when current."""
        with self.lock:
            dim = self.embedder.dim
            generation = self.store.generation  # read first: vectors loaded next are as new
            meta = self.store.get_meta("faiss_generation")
            indexes = {}
            for kind in ("sentences", "passages"):
                path = self._cache_path(kind)
                index = None
                if meta is not None and int(meta) == generation and path.exists():
                    try:
                        index = VectorIndex.load(path, dim, self.settings.nprobe)
                    except (RuntimeError, ValueError) as exc:
                        log.warning("ignoring unreadable %s: %s", path, exc)
                    if (index is not None and not index.approximate
                            and len(index) >= self.settings.approximate_above):
                        index = None  # saved exact, but now past the size for approximate search
                if index is None:
                    ids, vectors = self.store.load_vectors(kind)
                    if vectors.size and vectors.shape[1] != dim:
                        index = VectorIndex(dim)  # wrong model: answered by model_mismatch()
                    else:
                        index = VectorIndex.from_vectors(ids, vectors, dim,
                                                         self.settings.approximate_above,
                                                         self.settings.nprobe)
                indexes[kind] = index
            self.sentence_index = indexes["sentences"]
            self.passage_index = indexes["passages"]
            self.catalog.load(self.store)
            self.loaded_generation = generation

    def refresh(self) -> None:
        """Pick up writes made by another process (`qa add` while `qa serve` runs) or replica:
        just their documents when the store can say which, else everything."""
        if self.store.generation != self.loaded_generation:
            with self.lock:
                target = self.store.generation
                if target == self.loaded_generation:
                    return
                changed = self.store.changed_since(self.loaded_generation, target)
                if changed is None:
                    log.info("the index changed on disk; reloading its vectors")
                    self.load()
                    return
                self._reload_documents(changed)
                self.loaded_generation = target
                if self._outgrown():
                    self.load()

    def _reload_documents(self, doc_ids: list[str]) -> None:
        """Replace some documents' vectors and catalog entries with what the store holds now."""
        assert self.sentence_index is not None and self.passage_index is not None
        for doc_id in doc_ids:
            sentence_ids, passage_ids = self.catalog.ids_of(doc_id)
            self.sentence_index.remove(sentence_ids)
            self.passage_index.remove(passage_ids)
            self.catalog.remove_document(doc_id)
        self.sentence_index.add(*self.store.load_vectors("sentences", doc_ids))
        self.passage_index.add(*self.store.load_vectors("passages", doc_ids))
        self.catalog.add_documents(self.store, doc_ids)

    def _follow(self, changes: list[tuple[Replaced, np.ndarray, np.ndarray]]) -> None:
        """Mirror this thread's committed write in memory, or reload if others wrote too; a
        writer that never loaded the index (`qa add`) keeps nothing in memory: the next load
        reads the store, so memory does not grow with the corpus while it writes."""
        if self.sentence_index is None:
            return
        if self.store.last_start_generation == self.loaded_generation:
            for replaced, svec, pvec in changes:
                self._apply(replaced, svec, pvec)
            self.catalog.add_documents(self.store, [replaced.doc_id for replaced, _, _ in changes])
            self.loaded_generation += 1
            if self._outgrown():
                log.info("the index passed %d vectors; switching to approximate search",
                         self.settings.approximate_above)
                self.load()
        else:
            self.load()

    def _outgrown(self) -> bool:
        """Tell whether an exact index has grown past the size where a flat scan is too slow."""
        return any(ix is not None and not ix.approximate
                   and len(ix) >= self.settings.approximate_above
                   for ix in (self.sentence_index, self.passage_index))

    def save(self) -> None:
        """Save the FAISS indexes so the next start skips rebuilding them from the store."""
        with self.writing(), self.lock:  # two processes saving at once could mislabel files
            if self.sentence_index is None or self.passage_index is None:
                return
            self.sentence_index.save(self._cache_path("sentences"))
            self.passage_index.save(self._cache_path("passages"))
            # Label them with the state they mirror: another process may have written since.
            self.store.set_meta("faiss_generation", str(self.loaded_generation))

    def _apply(self, replaced: Replaced, sentence_vectors: np.ndarray,
               passage_vectors: np.ndarray) -> None:
        """Mirror a committed store change in the in-memory indexes (the catalog's removal)."""
        assert self.sentence_index is not None and self.passage_index is not None
        self.catalog.remove_document(replaced.doc_id)
        self.sentence_index.remove(replaced.removed_sentences)
        self.passage_index.remove(replaced.removed_passages)
        self.sentence_index.add(np.asarray(replaced.added_sentences, dtype=np.int64),
                                sentence_vectors)
        self.passage_index.add(np.asarray(replaced.added_passages, dtype=np.int64),
                               passage_vectors)

    # --- writes ---------------------------------------------------------------------------
    def _embed(self, docs: list[Document], progress: Progress | None,
               known_words: set[str] | None = None, encode: Encoder | None = None,
               failed: list[str] | None = None
               ) -> tuple[list[tuple[Document, Chunks, np.ndarray, np.ndarray]], Words]:
        """Chunk and embed documents, in batches across documents for the model's best pace,
        and the words of their sentences that have no vector yet (in the store, or in
        `known_words` for a rebuild). With `failed`, a document the chunker refuses is named
        there and left out."""
        inputs = model_inputs(docs, self.settings, failed)
        known = known_words if known_words is not None else \
            self.store.known_words(inputs.words)
        words = inputs.words - known
        new_words = sorted(words)
        documents_end = len(inputs.texts)
        texts = inputs.texts + new_words
        vectors = np.zeros((0, 0), dtype=np.float32)
        if texts and encode is not None:
            vectors = encode(texts, progress)
        elif texts:
            vectors = self._encode_by_length(texts, progress)
        composed = document_vectors(inputs, vectors[:documents_end], self.settings)
        return ([(doc, chunks, svec, pvec)
                 for (doc, chunks), (svec, pvec) in zip(inputs.chunked, composed)],
                (new_words, project_words(vectors[documents_end:])))

    def _encode_by_length(self, texts: list[str], progress: Progress | None) -> np.ndarray:
        """Embed texts shortest first, so each model call holds texts of like length and
        pads little (words, sentences and passages differ tenfold), telling `progress`."""
        order = np.argsort(np.fromiter((len(t) for t in texts), np.int64, len(texts)),
                           kind="stable")
        if progress:
            progress(0, len(texts))
        parts = []
        step = max(self.settings.batch_size * 4, 256)
        for i in range(0, len(texts), step):
            parts.append(self.embedder.encode([texts[j] for j in order[i:i + step]]))
            if progress:
                progress(min(i + step, len(texts)), len(texts))
        stacked = np.vstack(parts)
        vectors = np.empty_like(stacked)
        vectors[order] = stacked
        return vectors

    def add(self, docs: Iterable[Document], progress: Progress | None = None,
            encode: Encoder | None = None, skip_failed: bool = False) -> AddReport:
        """Index new or changed documents; unchanged ones (same content hash) cost nothing.

        Embedding happens before the index lock is taken, so questions keep being answered
        (from the previous index) while documents are added. A document the chunker refuses
        refuses the whole batch, or with `skip_failed` is reported in `failed` and left out.
        """
        report = AddReport()
        unique: dict[str, Document] = {}
        for doc in docs:
            unique[doc.doc_id] = doc  # the last copy of a repeated id wins
        with self.writing():
            mismatch = self.model_mismatch()
            if mismatch:
                raise ModelMismatch(mismatch)
            known = self.store.document_hashes()
            todo = []
            for doc in unique.values():
                if known.get(doc.doc_id) == doc.content_hash:
                    report.unchanged.append(doc.doc_id)
                else:
                    todo.append(doc)
            if not todo:
                return report
            embedded, (words, word_vectors) = self._embed(
                todo, progress, encode=encode, failed=report.failed if skip_failed else None)
            if not embedded:
                return report
            with self.lock:
                changes = []
                with self.store.transaction() as conn:
                    self.store.set_meta("model", self.model_fingerprint, conn)
                    self.store.write_words(conn, words, word_vectors)
                    for doc, chunks, svec, pvec in embedded:
                        changes.append((self.store.write_document(conn, doc, chunks, svec, pvec),
                                        svec, pvec))
                        (report.updated if doc.doc_id in known else report.added).append(
                            doc.doc_id)
                        report.sentences_embedded += len(svec)
                self._follow(changes)
        return report

    def remove(self, doc_id: str) -> bool:
        """Delete a document and its vectors; False when it was not indexed."""
        with self.writing():
            with self.lock:
                replaced = self.store.delete_document(doc_id)
                if replaced is None:
                    return False
                self._follow([(replaced, np.zeros((0, 1), np.float32),
                               np.zeros((0, 1), np.float32))])
            # Questions go on meanwhile; only when much of the file is free (`Store.reclaim`).
            self.store.reclaim()
        return True

    def reclaim(self) -> int:
        """Give the space of deleted documents back to the disk now; bytes freed."""
        with self.writing():
            return self.store.reclaim(force=True)

    def rebuild(self, progress: Progress | None = None, encode: Encoder | None = None,
                steps: Callable[[str, int, int, int], None] | None = None) -> int:
        """Re-chunk and re-embed every document, e.g. after a model change, then swap the
        index in one transaction. Documents are embedded a batch (`add_batch_chars`) at a
        time into a staging file, so memory stays bounded; a rebuild stopped midway keeps
        what it staged and the next one goes on from there. Questions are answered from the
        old index until the swap. `steps` hears (phase, documents done, documents, sentences
        embedded)."""
        with self.writing():
            staging = Staging(self.store.data_dir, self.model_fingerprint)
            hashes = self.store.document_hashes()
            staged, known_words = staging.staged(), staging.words()
            done = sum(1 for d, h in hashes.items() if staged.get(d) == h)
            sentences = 0

            def tell(phase: str) -> None:
                """Report the phase and the counts so far."""
                if steps is not None:
                    steps(phase, done, len(hashes), sentences)

            tell("embedding")
            batch: list[Document] = []
            size = 0
            # Streamed from the store a batch at a time: the corpus is never held whole.
            pending = (d for d in self.store.iter_documents() if staged.get(d.doc_id) !=
                       d.content_hash)
            try:
                for doc in itertools.chain(pending, [None]):
                    if doc is not None:
                        batch.append(doc)
                        size += len(doc.text)
                    if batch and (doc is None or size >= self.settings.add_batch_chars):
                        embedded, (words, word_vectors) = self._embed(
                            batch, progress, known_words=known_words, encode=encode)
                        staging.put(embedded, words, word_vectors)
                        known_words.update(words)
                        done += len(batch)
                        sentences += sum(len(s) for _, _, s, _ in embedded)
                        batch, size = [], 0
                        tell("embedding")
                tell("swapping")
                with self.lock:
                    with self.store.transaction() as conn:
                        self.store.clear(conn)
                        self.store.set_meta("model", self.model_fingerprint, conn)
                        for words, word_vectors in staging.iter_words():
                            self.store.write_words(conn, words, word_vectors)
                        for doc_id in sorted(hashes):
                            self.store.write_document(conn, *staging.get(doc_id))
                    self.load()
                    self.save()
            except BaseException:
                staging.close()  # kept on disk for the next rebuild
                raise
            staging.discard()
            tell("done")
            return len(hashes)
