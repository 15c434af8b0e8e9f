"""The formats: one registry of readers by file suffix, and the one way bytes become a document."""

from __future__ import annotations

import datetime
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
from qa.reading.metadata import RESERVED_FIELDS, Metadata, MetadataError, make_metadata
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

    text = decode_text(data, name)
    front = _FRONT_MATTER.match(text)
    source = text[front.end():] if front else text
    rendered = MarkdownIt("commonmark").enable("table").render(source)
    read = html_layout(rendered.encode("utf-8"), name)
    if front is None:
        return read
    metadata, title = front_matter(front.group(0), name)
    return read._replace(metadata=metadata, title=title or read.title)


def front_matter(block: str, name: str) -> tuple[Metadata | None, str]:
    """A Markdown file's own metadata: `collection`, `tags` (a list or comma-separated) and
    `title`, every other plain value (text, number, date) a key-value; nothing when the
    block is not YAML. Metadata that cannot be stored is refused, naming the file."""
    import yaml

    try:
        raw = yaml.safe_load(block.strip().strip("-.").strip("\n"))
    except yaml.YAMLError:
        return None, ""
    if not isinstance(raw, dict):
        return None, ""
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    fields = {}
    for key, value in raw.items():
        if key in ("collection", "tags", "title") or not isinstance(key, str):
            continue
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and \
                key not in RESERVED_FIELDS:
            fields[key] = value
    collection = raw.get("collection")
    try:
        return (make_metadata(str(collection) if collection else None,
                              [str(t) for t in tags if str(t).strip()]
                              if isinstance(tags, list) else [], fields),
                str(raw.get("title") or "").strip())
    except MetadataError as exc:
        raise DocumentError(f"{name}: front matter: {exc}") from None


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
    text, title, layout, url, metadata = reader(data, name)
    if not text.strip():
        raise DocumentError(f"{name}: no text found in the file")
    return make_document(text, doc_id=doc_id or doc_id_from_name(name), title=title or None,
                         source=name, layout=layout, url=url, original=data,
                         media_type=MEDIA_TYPES[suffix], metadata=metadata)
