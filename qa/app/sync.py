"""Mirror a folder in the index: new and changed files indexed, deleted ones removed.

What a folder contributed is remembered in the store (file -> content hash and doc_id), so a
sync reads only files whose bytes changed, removes only documents that came from this folder
(never seeds or uploads), and works the same from any process: the writes take the data dir's
write lock, so a running `qa serve` keeps answering and picks the changes up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.app.service import DocumentProgress, Verbatim
from qa.indexing.indexer import Progress
from qa.reading.documents import Document, DocumentError
from qa.reading.files import find_document_files, load_file
from qa.reading.metadata import Metadata


@dataclass
class SyncReport:
    """What one pass over the folder changed, and what it could not read."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)  # "file: reason"
    sentences_embedded: int = 0

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"documents: added {len(self.added)}, updated {len(self.updated)}, removed "
                f"{len(self.removed)}, unchanged {self.unchanged}, failed {len(self.failed)} "
                f"({self.sentences_embedded:,} sentences embedded)")

    @property
    def changed(self) -> bool:
        """Whether the pass wrote anything."""
        return bool(self.added or self.updated or self.removed)


class FolderSync:
    """Keeps one folder's documents in the index in step with the files on disk."""

    def __init__(self, service: Verbatim, folder: Path, metadata: Metadata | None = None) -> None:
        """Name the folder to mirror (it must exist) and the metadata its documents carry."""
        if not folder.is_dir():
            raise DocumentError(f"{folder}: no such folder")
        self.service = service
        self.folder = folder
        self.metadata = metadata or Metadata()
        self._key = f"sync:{folder.resolve()}"

    def _known(self) -> dict[str, list[str]]:
        """The folder's files at the last pass: relative path -> [content hash, doc_id]."""
        raw = self.service.store.get_meta(self._key)
        return json.loads(raw) if raw else {}

    def run(self, progress: Progress | None = None,
            steps: DocumentProgress | None = None) -> SyncReport:
        """Make the index hold exactly the folder's readable files; `steps` hears (phase,
        files done, files found, sentences embedded) as it goes."""
        report = SyncReport()
        known = self._known()
        found = find_document_files([self.folder])
        report.failed.extend(found.skipped)
        stored = self.service.store.document_hashes()  # one query, not one per file
        seen: dict[str, list[str]] = {}
        changed: list[Document] = []

        def tell(phase: str, done: int) -> None:
            """Report the phase and the counts so far."""
            if steps is not None:
                steps(phase, done, len(found.files), report.sentences_embedded)

        tell("reading", 0)
        for done, (path, relative) in enumerate(found.files, 1):
            try:
                data = path.read_bytes()
            except OSError as exc:  # deleted or unreadable between listing and reading
                report.failed.append(f"{relative}: {exc.strerror or exc}")
                continue
            doc_id = found.ids[relative]
            # New metadata (another --collection) re-files every document, bytes unchanged.
            digest = hashlib.sha256(data + self.metadata.fingerprint().encode()).hexdigest()
            before = known.get(relative)
            if before and before == [digest, doc_id] and doc_id in stored:
                seen[relative] = before
                report.unchanged += 1
                continue
            try:
                doc = load_file(path, relative, data, doc_id).filed(self.metadata)
            except DocumentError as exc:
                report.failed.append(str(exc))
                if before:  # keep the last good version rather than losing it
                    seen[relative] = before
                continue
            seen[relative] = [digest, doc.doc_id]
            changed.append(doc)
            if sum(len(d.text) for d in changed) >= self.service.settings.add_batch_chars:
                tell("embedding", done - len(changed))
                self._add(changed, report, seen, known, progress)  # a batch at a time
                changed = []
                tell("reading", done)
        if changed:
            tell("embedding", len(found.files) - len(changed))
            self._add(changed, report, seen, known, progress)
        tell("done", len(found.files))
        gone = {doc_id for _, doc_id in known.values()} - {doc_id for _, doc_id in seen.values()}
        for doc_id in sorted(gone):
            if self.service.remove(doc_id):
                report.removed.append(doc_id)
        self.service.store.set_meta(self._key, json.dumps(seen, sort_keys=True))
        return report

    def _add(self, changed: list[Document], report: SyncReport, seen: dict[str, list[str]],
             known: dict[str, list[str]], progress: Progress | None) -> None:
        """Index one batch of new and changed files; a document the indexer refuses keeps its
        last good version's record (or none), so the next pass tries it again."""
        added = self.service.add_documents(changed, progress, skip_failed=True)
        report.added.extend(added.added)
        report.updated.extend(added.updated)
        report.unchanged += len(added.unchanged)
        report.failed.extend(added.failed)
        report.sentences_embedded += added.sentences_embedded
        refused = {doc.doc_id for doc in changed} - set(added.added + added.updated +
                                                        added.unchanged)
        for relative, (_, doc_id) in list(seen.items()):
            if doc_id in refused:
                if relative in known:
                    seen[relative] = known[relative]
                else:
                    del seen[relative]

    def follow(self, each_pass: Callable[[], object]) -> None:
        """Run a pass whenever the folder changes, until Ctrl-C. The watcher yields nothing
        every few seconds when all is quiet; its first yield also catches what changed between
        the last pass and its start."""
        from watchfiles import watch

        caught_up = False
        for changed in watch(self.folder, debounce=500, raise_interrupt=False,
                             yield_on_timeout=True, rust_timeout=2000):
            if changed or not caught_up:
                caught_up = True
                each_pass()
