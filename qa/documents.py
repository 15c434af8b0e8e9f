"""Documents: reading .txt/.md/.html/.pdf files into stored text with a title and a stable id."""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PdfReader

MAX_TITLE_CHARS = 200
MAX_DOCUMENT_CHARS = 10_000_000  # of text, however small the file it was extracted from
# Ids are never used as paths; still, no slashes, controls, or leading dots or spaces.
DOC_ID_PATTERN = r"^[^\s./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,199}$"
_DOC_ID_RE = re.compile(DOC_ID_PATTERN)


class DocumentError(ValueError):
    """A document that cannot be accepted; the message says why, for the user to fix."""


@dataclass(frozen=True)
class Document:
    """One source document as stored: answers quote `text` verbatim by character offsets."""

    doc_id: str
    title: str
    text: str
    source: str = ""

    @property
    def content_hash(self) -> str:
        """Tell whether a re-added document changed, so unchanged ones are not re-embedded."""
        digest = hashlib.sha256()
        digest.update(self.title.encode("utf-8"))
        digest.update(b"\0")
        digest.update(self.text.encode("utf-8"))
        return digest.hexdigest()


def validate_doc_id(doc_id: str) -> str:
    """Keep ids usable in URLs and never path-like, so they cannot reach the file system."""
    if not _DOC_ID_RE.match(doc_id) or ".." in doc_id or doc_id != doc_id.strip():
        raise DocumentError(
            f"invalid doc_id {doc_id!r}: use 1-200 characters without slashes, control "
            "characters or '..', not starting with a dot or a space"
        )
    return doc_id


def doc_id_from_name(name: str) -> str:
    """Derive a stable id from a file name, so re-adding the same file replaces it."""
    stem = Path(name).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._\-]+", "-", ascii_stem).strip("-._")
    if not slug:
        slug = "doc-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]
    return slug[:200]


def doc_id_from_text(text: str) -> str:
    """Give untitled pasted text an id that is the same whenever the same text is sent."""
    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalize_text(text: str) -> str:
    """Store one canonical form (LF line ends, no NULs) so offsets mean the same everywhere."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.lstrip("\ufeff")


_BYLINE = re.compile(r"^(by|posted|updated|published)\b|^\W*$", re.IGNORECASE)
TITLE_TARGET_CHARS = 120


def title_from_text(text: str) -> str:
    """Use the first line that is not a byline as a title when the file carries none."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if not line or _BYLINE.match(line):
            continue
        if len(line) > TITLE_TARGET_CHARS:  # a first paragraph, not a heading: keep its start
            head = re.split(r" [-–—|] |(?<=[.!?]) ", line, maxsplit=1)[0]
            line = head if len(head) <= TITLE_TARGET_CHARS else \
                line[:TITLE_TARGET_CHARS].rsplit(" ", 1)[0] + "…"
        return line[:MAX_TITLE_CHARS]
    return ""


def _require_unicode(value: str, what: str) -> None:
    """Refuse lone surrogates (possible in JSON escapes) that no store or model can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DocumentError(f"{what} is not valid Unicode (a lone surrogate at character "
                            f"{exc.start})") from None


def make_document(text: str, doc_id: str | None = None, title: str | None = None,
                  source: str = "") -> Document:
    """Build a validated document from caller-given text, as the API and the loaders both need."""
    for value, what in ((text, "document text"), (doc_id or "", "doc_id"), (title or "", "title")):
        _require_unicode(value, what)
    text = normalize_text(text)
    if not text.strip():
        raise DocumentError("document text is empty")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentError(f"document text is longer than {MAX_DOCUMENT_CHARS:,} characters")
    doc_id = validate_doc_id(doc_id) if doc_id else doc_id_from_text(text)
    title = (title or "").strip()[:MAX_TITLE_CHARS] or title_from_text(text) or doc_id
    return Document(doc_id=doc_id, title=title, text=text, source=source)


def _decode(data: bytes, name: str) -> str:
    """Decode text files as UTF-8 or UTF-16 (with BOM) or Latin-1, refusing binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{name}: cannot decode the file as UTF-16") from exc
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{name}: cannot decode the file as text")


_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_HEAD_TAGS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript",
                        "template"})


class _HtmlText(HTMLParser):
    """Collect an HTML page's text as it streams by: no tree is built, so memory follows the
    text, not the markup (a tree of a 10 MB tag-only page took 1.4 GB), and nesting depth
    costs nothing."""

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.parts: list[str] = []
        self.title: list[str] = []
        self.chars = 0
        self.skipping = 0  # inside script, style...
        self.in_head = False
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002 - HTMLParser's signature
        if tag == "head":
            self.in_head = True
        elif tag == "body" or (self.in_head and tag not in _HEAD_TAGS):
            self.in_head = False  # a page may never close its head
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self.skipping:
            self.skipping -= 1
        elif tag == "title":
            self.in_title = False
        elif tag == "head":
            self.in_head = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skipping or self.in_head or self.in_title:
            return
        self.parts.append(data)
        self.chars += len(data)
        if self.chars > MAX_DOCUMENT_CHARS:
            raise DocumentError(f"{self.name}: the page's text is longer than "
                                f"{MAX_DOCUMENT_CHARS:,} characters")


def _html_to_text(data: bytes, name: str) -> tuple[str, str]:
    """Extract readable text and the <title> from HTML, dropping scripts and styles."""
    parser = _HtmlText(name)
    parser.feed(_decode(data, name))
    parser.close()
    title = " ".join(" ".join(parser.title).split())
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip()
             for line in "\n".join(parser.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, title


PDF_CONTENT_PER_CHAR = 10  # content-stream bytes a page may spend per character of text
PDF_MAX_REPEATS = 10  # times pages may draw the same content streams, on average...
PDF_REPEAT_BYTES = 2_000_000  # ...once they draw this much (a form's pages share a little)


def _check_content_size(reader: PdfReader, name: str) -> None:
    """Refuse a PDF whose pages draw more content than any document's text could need, before
    extracting a character: a few KB can point every page at one huge compressed stream, and
    extracting even the allowed part of it held the interpreter for seconds. Each stream is
    decompressed once, however many pages share it."""
    sizes: dict[object, int] = {}
    total, budget = 0, PDF_CONTENT_PER_CHAR * MAX_DOCUMENT_CHARS
    for page in reader.pages:
        contents = page.get("/Contents")
        for ref in contents if isinstance(contents, list) else [contents]:
            if ref is None:
                continue
            key = (ref.idnum, ref.generation) if hasattr(ref, "idnum") else id(ref)
            if key not in sizes:
                sizes[key] = len(ref.get_object().get_data())
            total += sizes[key]
            if total > budget:
                raise DocumentError(f"{name}: the PDF's pages draw more than "
                                    f"{budget // 1_000_000:,} MB of content, far more than "
                                    f"{MAX_DOCUMENT_CHARS:,} characters of text need")
    if total > PDF_REPEAT_BYTES and total > PDF_MAX_REPEATS * sum(sizes.values()):
        raise DocumentError(f"{name}: the PDF's pages draw the same content over and over "
                            f"({total // 1_000_000:,} MB drawn from "
                            f"{sum(sizes.values()) // 1000:,} KB)")


def _pdf_to_text(data: bytes, name: str) -> tuple[str, str]:
    """Extract page text and the metadata title from a PDF."""
    from pypdf import PdfReader

    if not data.startswith(b"%PDF"):
        raise DocumentError(f"{name}: not a PDF file")
    pages: list[str] = []
    total = 0
    try:
        reader = PdfReader(io.BytesIO(data))
        _check_content_size(reader, name)
        for page in reader.pages:
            # A few KB of PDF can point every page at one huge compressed stream: stop as soon
            # as the text passes the document limit instead of extracting all of it.
            text = page.extract_text() or ""
            total += len(text)
            if total > MAX_DOCUMENT_CHARS:
                raise DocumentError(f"{name}: the PDF's text is longer than "
                                    f"{MAX_DOCUMENT_CHARS:,} characters")
            pages.append(text)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except RecursionError as exc:
        raise DocumentError(f"{name}: cannot read the PDF (nested too deeply)") from exc
    except Exception as exc:
        raise DocumentError(f"{name}: cannot read the PDF ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip()), str(meta_title)


def _plain(data: bytes, name: str) -> tuple[str, str]:
    """Read a text or Markdown file (titled later, from its first line)."""
    return _decode(data, name), ""


def _docx(data: bytes, name: str) -> tuple[str, str]:
    """Read a Word document (python-docx is imported only when one arrives)."""
    from qa.office import docx_to_text

    return docx_to_text(data, name)


def _pptx(data: bytes, name: str) -> tuple[str, str]:
    """Read a PowerPoint presentation (python-pptx is imported only when one arrives)."""
    from qa.office import pptx_to_text

    return pptx_to_text(data, name)


def _odt(data: bytes, name: str) -> tuple[str, str]:
    """Read an OpenDocument text (lxml is imported only when one arrives)."""
    from qa.office import odt_to_text

    return odt_to_text(data, name)


# The one list of formats: file suffix -> reader giving (text, title). `qa add`, uploads, folder
# walks and the page's file picker all read it.
READERS: dict[str, Callable[[bytes, str], tuple[str, str]]] = {
    ".txt": _plain, ".md": _plain, ".markdown": _plain,
    ".html": _html_to_text, ".htm": _html_to_text,
    ".pdf": _pdf_to_text,
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


def check_distinct_ids(docs: list[Document]) -> None:
    """Refuse a batch in which two documents would take the same id: one would silently
    replace the other."""
    seen: dict[str, Document] = {}
    for doc in docs:
        first = seen.setdefault(doc.doc_id, doc)
        if first is not doc:
            raise DocumentError(f"{first.source or 'a document'} and {doc.source or 'another'} "
                                f"would both be stored as doc_id {doc.doc_id!r}; rename one or "
                                f"add them separately")
