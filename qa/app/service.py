"""The Verbatim service: one object that wires documents, index, retriever and answerer together.

The CLI and the HTTP API both go through it, so they behave the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from embeddings.model import Embedder
from qa.answering.answerer import Answerer, Result
from qa.answering.conversation import Turn, conversation_context
from qa.answering.retrieval import Retriever
from qa.answering.verification import Verifier
from qa.config import Settings, backend_of
from qa.indexing.indexer import AddReport, Encoder, Indexer, ModelMismatch, Progress
from qa.indexing.runtime import make_embedder
from qa.reading.documents import Document, DocumentError, check_distinct_ids
from qa.reading.files import find_document_files, load_file
from qa.reading.metadata import Metadata
from qa.storage.protocols import DocumentStore
from qa.storage.records import DocumentSummary, Original

log = logging.getLogger(__name__)

DocumentProgress = Callable[[str, int, int, int], None]
"""Hears (phase, documents done, documents found, sentences embedded so far) while a folder
is added."""


class Verbatim:
    """Extractive question answering over one data directory."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """Open the data directory; call `warm_up` before serving to load the model and vectors."""
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.indexer = Indexer(settings, self.embedder)
        self.retriever = Retriever(self.indexer, sentences=settings.candidates,
                                   passages=settings.passage_candidates,
                                   lexical_budget=settings.lexical_budget)
        verifier = Verifier.load() if settings.verify else None
        self.answerer = Answerer(self.retriever, abstain_below=settings.abstain_below,
                                 verifier=verifier, verify_below=settings.verify_below,
                                 confident_above=settings.confident_above)

    @property
    def store(self) -> DocumentStore:
        """Give read access to stored documents."""
        return self.indexer.store

    def warm_up(self) -> None:
        """Load the model and the vector indexes, the slow part of starting."""
        self.embedder.warm_up()
        self.indexer.load()
        self.store.follow()  # other replicas' writes (a no-op for SQLite)
        self._prepare(None)

    def _prepare(self, doc_ids: Sequence[str] | None) -> None:
        """Analyse documents' sentences for ranking ahead of questions: all of them in the
        background at start, just-written ones as part of the write."""
        with self.indexer.snapshot() as view:
            texts = view.catalog.texts(doc_ids)
        if doc_ids is not None:
            self.answerer.prepare(texts, view.catalog)
        elif texts:
            self.answerer.prepared.clear()
            threading.Thread(target=self.answerer.prepare, args=(texts, view.catalog, True),
                             daemon=True, name="prepare").start()

    def _ready(self) -> None:
        """Load lazily for library and CLI use, and refuse a stale model's index."""
        if self.indexer.sentence_index is None:
            self.indexer.load()

    def ensure_seeded(self, progress: Progress | None = None) -> AddReport | None:
        """Index the seed documents into an empty data directory, once."""
        if self.store.has_content():
            return None
        self._ready()
        seeds = self.settings.seeds_dir
        if not seeds.is_dir():
            log.warning("no seeds folder at %s; starting with an empty index", seeds)
            return None
        report = self.add_paths([seeds], progress)
        self.store.set_meta("seeded", "1")
        return report

    def add_documents(self, docs: Iterable[Document], progress: Progress | None = None,
                      encode: Encoder | None = None, skip_failed: bool = False) -> AddReport:
        """Index documents (embedded by `encode` when given); the index is updated on return.
        One the chunker refuses refuses them all, or with `skip_failed` is named in the
        report's `failed` and the rest indexed."""
        docs = list(docs)
        check_distinct_ids(docs)
        report = self.indexer.add(docs, progress, encode, skip_failed)
        if self.indexer.sentence_index is not None:  # a serving index: analyse the new ones
            self._prepare(report.added + report.updated)
        return report

    def add_paths(self, paths: Sequence[Path], progress: Progress | None = None,
                  encode: Encoder | None = None,
                  steps: DocumentProgress | None = None,
                  metadata: Metadata | None = None) -> AddReport:
        """Index files and folders from disk, a batch of documents at a time: each batch is
        read, embedded and committed before the next is read, so memory stays bounded by
        `add_batch_chars` whatever the folder's size, and a run stopped midway keeps every
        batch it committed (run again, they are skipped as unchanged). A file that cannot be
        read is named in the report's `failed` and the rest indexed; two files that would
        share an id both get in (`renamed` says under which). `steps` hears each phase;
        every document gets `metadata` (collection, tags, key-values) when given."""
        found = find_document_files(list(paths))
        report = AddReport(skipped=list(found.skipped), renamed=list(found.renamed))
        total, done = len(found.files), 0

        def tell(phase: str) -> None:
            """Report the phase and the counts so far."""
            if steps is not None:
                steps(phase, done, total, report.sentences_embedded)

        tell("reading")
        batch: list[Document] = []
        size = 0
        for path, relative in found.files:
            try:
                doc = load_file(path, relative, doc_id=found.ids[relative]).filed(metadata)
                batch.append(doc)
                size += len(doc.text)
            except DocumentError as exc:
                report.failed.append(str(exc))
                done += 1
            if size >= self.settings.add_batch_chars:
                tell("embedding")
                self._add_batch(batch, report, progress, encode)
                done, batch, size = done + len(batch), [], 0
                tell("reading")
        if batch:
            tell("embedding")
            self._add_batch(batch, report, progress, encode)
            done += len(batch)
        tell("done")
        return report

    def _add_batch(self, docs: list[Document], report: AddReport, progress: Progress | None,
                   encode: Encoder | None) -> None:
        """Index one batch of a folder and fold what it did into the folder's report."""
        part = self.add_documents(docs, progress, encode, skip_failed=True)
        report.added += part.added
        report.updated += part.updated
        report.unchanged += part.unchanged
        report.failed += part.failed
        report.sentences_embedded += part.sentences_embedded

    def remove(self, doc_id: str) -> bool:
        """Delete a document; False when there was none with that id."""
        self._ready()
        return self.indexer.remove(doc_id)

    def reclaim(self) -> int:
        """Shrink the database to what it holds (deleted documents' space); bytes freed."""
        self._ready()
        return self.indexer.reclaim()

    def rebuild(self, progress: Progress | None = None, encode: Encoder | None = None,
                steps: DocumentProgress | None = None) -> int:
        """Re-embed every document with the configured model (on a cluster with `encode`), a
        batch at a time; a rebuild stopped midway goes on from there when run again."""
        self._ready()
        return self.indexer.rebuild(progress, encode, steps)

    def ask(self, question: str, top_k: int = 3, context: str = "",
            abstain: bool = True, where: dict | None = None,
            within: frozenset[str] | None = None) -> Result:
        """Answer one question (`abstain=False` quotes the best sentence whatever its
        confidence, which is how evaluation sees every ranking), from the documents the
        filter `where` allows (all when None; FilterError names what exists) in the
        collections `within` (all when None)."""
        self._ready()
        mismatch = self.indexer.model_mismatch()
        if mismatch:
            raise ModelMismatch(mismatch)
        return self.answerer.answer(question, top_k=top_k, context=context, abstain=abstain,
                                    where=where, within=within)

    def chat(self, turns: Sequence[Turn], top_k: int = 3, abstain: bool = True,
             where: dict | None = None, within: frozenset[str] | None = None) -> Result:
        """Answer the last user turn, reading earlier turns for what a follow-up refers to."""
        return self.ask(turns[-1].content, top_k=top_k, context=conversation_context(turns),
                        abstain=abstain, where=where, within=within)

    def collections(self) -> list[str]:
        """The collections documents are filed under, from memory: cheap on every request."""
        self._ready()
        return sorted({meta.collection for _, meta in self.indexer.catalog.metadata().values()})

    def list_documents(self) -> list[DocumentSummary]:
        """List what is indexed, for the documents page, the API and `qa documents`."""
        return self.store.list_documents()

    def get_document(self, doc_id: str) -> Document | None:
        """Fetch one document's text, the text citations point into."""
        return self.store.get_document(doc_id)

    def get_original(self, doc_id: str) -> Original | None:
        """Fetch the file a document was read from, to open the quote in its original."""
        return self.store.get_original(doc_id)

    def counts(self) -> dict[str, int]:
        """Count what is indexed, on disk and in memory, for health checks and metrics."""
        self._ready()
        self.indexer.refresh()
        return {**self.store.counts(), "vectors": self.indexer.vector_count()}

    def health(self) -> dict[str, object]:
        """Report counts and the model, for monitoring."""
        counts = self.counts()
        mismatch = self.indexer.model_mismatch()
        return {"status": "stale_index" if mismatch else "ok", "model": self.embedder.name,
                "store": backend_of(self.settings.store_url),
                "backend": getattr(self.embedder, "backend", "torch"),
                "detail": mismatch, "prepared": self.answerer.prepared.is_set(), **counts}

    def close(self) -> None:
        """Wait for a running write to finish, then save the vector indexes for a fast start."""
        self.indexer.save()
        self.store.close()
