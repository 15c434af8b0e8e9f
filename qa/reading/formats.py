"""The formats: one registry of readers by file suffix, and the one way bytes become a document."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from qa.reading.documents import (
    Document,
    DocumentError,
    Extracted,
    decode_text,
    doc_id_from_name,
    make_document,
)
from qa.reading.html import html_layout
from qa.reading.pdf import pdf_to_text

# YAML front matter at the top of a Markdown file: metadata, not text to quote.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def _plain(data: bytes, name: str) -> Extracted:
    """Read a text file line by line (titled later, from its first line)."""
    return Extracted(decode_text(data, name), "")


def _markdown(data: bytes, name: str) -> Extracted:
    """Read Markdown as its rendering reads: paragraphs re-joined, headings, lists, tables and
    code blocks laid out (markdown-it-py, CommonMark with tables), titled by its first heading."""
    from markdown_it import MarkdownIt

    source = _FRONT_MATTER.sub("", decode_text(data, name), count=1)
    rendered = MarkdownIt("commonmark").enable("table").render(source)
    return html_layout(rendered.encode("utf-8"), name)


def _html(data: bytes, name: str) -> Extracted:
    """Read an HTML page with its structure."""
    return html_layout(data, name)


def _docx(data: bytes, name: str) -> Extracted:
    """Read a Word document (python-docx is imported only when one arrives)."""
    from qa.reading.office import docx_to_text

    return docx_to_text(data, name)


def _pptx(data: bytes, name: str) -> Extracted:
    """Read a PowerPoint presentation (python-pptx is imported only when one arrives)."""
    from qa.reading.office import pptx_to_text

    return pptx_to_text(data, name)


def _odt(data: bytes, name: str) -> Extracted:
    """Read an OpenDocument text (lxml is imported only when one arrives)."""
    from qa.reading.office import odt_to_text

    return odt_to_text(data, name)


# The one list of formats: file suffix -> reader. `qa add`, uploads, folder walks and the
# page's file picker all read it.
READERS: dict[str, Callable[[bytes, str], Extracted]] = {
    ".txt": _plain, ".md": _markdown, ".markdown": _markdown,
    ".html": _html, ".htm": _html,
    ".pdf": pdf_to_text,
    ".docx": _docx, ".pptx": _pptx, ".odt": _odt,
}
SUPPORTED_SUFFIXES = tuple(READERS)
# How each kind of original file is served back (`GET /v1/documents/{doc_id}/original`).
MEDIA_TYPES = {
    ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8", ".html": "text/html", ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
}


def parse_document(data: bytes, name: str, doc_id: str | None = None) -> Document:
    """Turn uploaded or on-disk bytes into a document, choosing the reader by file suffix."""
    suffix = Path(name).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise DocumentError(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    text, title, layout, url = reader(data, name)
    if not text.strip():
        raise DocumentError(f"{name}: no text found in the file")
    return make_document(text, doc_id=doc_id or doc_id_from_name(name), title=title or None,
                         source=name, layout=layout, url=url, original=data,
                         media_type=MEDIA_TYPES[suffix])
