"""Files and folders: which files under the paths given are documents, and their stable ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.reading.documents import Document, DocumentError, doc_id_from_name
from qa.reading.formats import SUPPORTED_SUFFIXES, parse_document


@dataclass
class FoundFiles:
    """Files to index, each with its name relative to the folder it was found in, and what
    was left out (links pointing outside the folder given)."""

    files: list[tuple[Path, str]]
    skipped: list[str]


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
    return found


def doc_id_from_path(relative: str) -> str:
    """Derive an id from a file's path inside the folder added, so `2023/summary.md` and
    `2024/summary.md` stay two documents; a file at the top keeps its plain name's id."""
    parts = [part for part in Path(relative).parts[:-1] if part not in ("", ".", "..")]
    name = "-".join([*parts, Path(relative).stem]) + Path(relative).suffix
    return doc_id_from_name(name)


def load_file(path: Path, relative: str | None = None, data: bytes | None = None) -> Document:
    """Read one document from disk; `relative` is its path inside the folder added (its id
    and source come from it), `data` its bytes when the caller has read them already."""
    name = relative or path.name
    return parse_document(path.read_bytes() if data is None else data, name,
                          doc_id=doc_id_from_path(name))

