"""Files and folders: which files under the paths given are documents, and their stable ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from qa.reading.documents import Document, DocumentError, doc_id_from_name
from qa.reading.formats import SUPPORTED_SUFFIXES, parse_document


@dataclass
class FoundFiles:
    """Files to index, each with its name relative to the folder it was found in, and what
    was left out (links pointing outside the folder given)."""

    files: list[tuple[Path, str]]
    skipped: list[str]
    ids: dict[str, str] = field(default_factory=dict)  # relative path -> its document's id
    renamed: list[str] = field(default_factory=list)  # files whose id had to differ from its name

    def assign_ids(self) -> None:
        """Give every file a distinct, stable id: its path's (`doc_id_from_path`), or, when
        another file found has the same one ("notes.txt" and "notes.html"), that id plus a
        short hash of the file's own path. A file whose name is its id exactly keeps it."""
        wanted = {rel: doc_id_from_path(rel) for _, rel in self.files}
        taken: set[str] = set()
        exact = sorted(self.files, key=lambda f: (Path(f[1]).stem.replace("/", "-") !=
                                                  wanted[f[1]], f[1]))
        for _, rel in exact:
            doc_id = wanted[rel]
            if doc_id in taken:
                suffix = hashlib.sha1(rel.encode("utf-8")).hexdigest()[:8]
                doc_id = f"{doc_id[:190]}-{suffix}"
                self.renamed.append(f"{rel} is stored as {doc_id!r} ({wanted[rel]!r} was taken)")
            taken.add(doc_id)
            self.ids[rel] = doc_id


def find_document_files(paths: list[Path]) -> FoundFiles:
    """Expand files and folders into the supported files under them, in a stable order.

    A link inside a folder is followed only while it stays inside that folder: a link to a
    credentials file elsewhere must not become a readable document.
    """
    found = FoundFiles([], [])
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or \
                        p.suffix.lower() not in SUPPORTED_SUFFIXES or not p.is_file():
                    continue
                if not p.resolve().is_relative_to(root):
                    found.skipped.append(f"{p} (a link leaving {path})")
                    continue
                found.files.append((p, rel.as_posix()))
        elif path.is_file():
            found.files.append((path, path.name))
        else:
            raise DocumentError(f"{path}: no such file or folder")
    found.assign_ids()
    return found


def doc_id_from_path(relative: str) -> str:
    """Derive an id from a file's path inside the folder added, so `2023/summary.md` and
    `2024/summary.md` stay two documents; a file at the top keeps its plain name's id."""
    parts = [part for part in Path(relative).parts[:-1] if part not in ("", ".", "..")]
    name = "-".join([*parts, Path(relative).stem]) + Path(relative).suffix
    return doc_id_from_name(name)


def load_file(path: Path, relative: str | None = None, data: bytes | None = None,
              doc_id: str | None = None) -> Document:
    """Read one document from disk; `relative` is its path inside the folder added (its
    source, and its id unless `doc_id` is given), `data` its bytes when already read."""
    name = relative or path.name
    try:
        raw = path.read_bytes() if data is None else data
    except OSError as exc:  # deleted or unreadable between listing and reading
        raise DocumentError(f"{name}: {exc.strerror or exc}") from None
    return parse_document(raw, name, doc_id=doc_id or doc_id_from_path(name))

