"""The formats: one registry of readers by file suffix, and the one way bytes become a document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.reading.documents import Document, DocumentError, decode_text, doc_id_from_name, make_document
from qa.reading.html import html_to_text
from qa.reading.pdf import pdf_to_text


def _plain(data: bytes, name: str) -> tuple[str, str]:
    """Read a text or Markdown file (titled later, from its first line)."""
    return decode_text(data, name), ""


def _docx(data: bytes, name: str) -> tuple[str, str]:
    """Read a Word document (python-docx is imported only when one arrives)."""
    from qa.reading.office import docx_to_text

    return docx_to_text(data, name)


def _pptx(data: bytes, name: str) -> tuple[str, str]:
    """Read a PowerPoint presentation (python-pptx is imported only when one arrives)."""
    from qa.reading.office import pptx_to_text

    return pptx_to_text(data, name)


def _odt(data: bytes, name: str) -> tuple[str, str]:
    """Read an OpenDocument text (lxml is imported only when one arrives)."""
    from qa.reading.office import odt_to_text

    return odt_to_text(data, name)


# The one list of formats: file suffix -> reader giving (text, title). `qa add`, uploads, folder
# walks and the page's file picker all read it.
READERS: dict[str, Callable[[bytes, str], tuple[str, str]]] = {
    ".txt": _plain, ".md": _plain, ".markdown": _plain,
    ".html": html_to_text, ".htm": html_to_text,
    ".pdf": pdf_to_text,
    ".docx": _docx, ".pptx": _pptx, ".odt": _odt,
}
SUPPORTED_SUFFIXES = tuple(READERS)


def parse_document(data: bytes, name: str, doc_id: str | None = None) -> Document:
    """Turn uploaded or on-disk bytes into a document, choosing the reader by file suffix."""
    suffix = Path(name).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise DocumentError(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    text, title = reader(data, name)
    if not text.strip():
        raise DocumentError(f"{name}: no text found in the file")
    return make_document(text, doc_id=doc_id or doc_id_from_name(name), title=title or None,
                         source=name)

