"""Documents: what every reader produces, a text with a title and a stable id, and the rules
that ids, titles and text obey whatever the format."""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NamedTuple

from pydantic import Field

from qa.reading.layout import Layout
from qa.reading.metadata import Metadata

MAX_TITLE_CHARS = 200
MAX_DOCUMENT_CHARS = 10_000_000  # of text, however small the file it was extracted from
# Ids are never used as paths; still, no slashes, controls, or leading dots or spaces.
DOC_ID_PATTERN = r"^[^\s./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,199}$"
_DOC_ID_RE = re.compile(DOC_ID_PATTERN)


class DocumentError(ValueError):
    """A document that cannot be accepted; the message says why, for the user to fix."""


class Extracted(NamedTuple):
    """What a reader makes of a file: its text, its title (may be empty) and, when the format
    has structure, how the text is laid out."""

    text: str
    title: str
    layout: Layout | None = None
    url: str = ""  # where the page lives on the web, when it says (`<link rel=canonical>`)
    metadata: Metadata | None = None  # what the file says of itself (Markdown front matter)


@dataclass(frozen=True)
class Document:
    """One source document as stored: answers quote `text` verbatim by character offsets."""

    doc_id: str
    title: str
    text: str
    source: str = ""
    # How the reader laid the text out (None: plain text, read line by line). Kept with the
    # document so a rebuild chunks it the same way; not part of the API's document body.
    layout: Annotated[Layout | None, Field(exclude=True)] = field(default=None, repr=False,
                                                                  compare=False)
    url: Annotated[str, Field(description="Where the document lives on the web, when known.")
                   ] = ""
    media_type: Annotated[str, Field(
        description="The original file's type (empty for text sent as such).")] = ""
    # The file it was read from, kept to be served as it came (`GET .../original`): its bytes
    # when just read, and the content address they are stored under.
    original: Annotated[bytes | None, Field(exclude=True)] = field(default=None, repr=False,
                                                                   compare=False)
    original_id: Annotated[str, Field(exclude=True)] = field(default="", compare=False)
    metadata: Annotated[Metadata, Field(
        description="Its collection, tags and key-values, which questions can be limited by."
    )] = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        """Address the original's bytes by their hash, so a file added twice is kept once."""
        if self.original is not None and not self.original_id:
            object.__setattr__(self, "original_id", hashlib.sha256(self.original).hexdigest())

    def filed(self, metadata: Metadata | None) -> Document:
        """This document under the metadata a command or upload gives, which wins over what
        the file says of itself (front matter); none given keeps the file's own."""
        if metadata is None or metadata == Metadata():
            return self
        return dataclasses.replace(self, metadata=metadata)

    @property
    def content_hash(self) -> str:
        """Tell whether a re-added document changed, so unchanged ones are not re-embedded."""
        digest = hashlib.sha256()
        digest.update(self.title.encode("utf-8"))
        digest.update(b"\0")
        digest.update(self.text.encode("utf-8"))
        if self.layout is not None:
            digest.update(b"\0")
            digest.update(self.layout.to_json().encode("utf-8"))
        if self.url or self.original_id:
            digest.update(f"\0{self.url}\0{self.original_id}".encode())
        if self.metadata != Metadata():
            digest.update(f"\0{self.metadata.fingerprint()}".encode())
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


_WEB_URL = re.compile(r"^https?://[^\s\x00-\x1f]{1,2000}$", re.IGNORECASE)
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
                  source: str = "", layout: Layout | None = None, url: str = "",
                  original: bytes | None = None, media_type: str = "",
                  metadata: Metadata | None = None) -> Document:
    """Build a validated document from caller-given text, as the API and the loaders both need."""
    for value, what in ((text, "document text"), (doc_id or "", "doc_id"), (title or "", "title"),
                        (url, "url")):
        _require_unicode(value, what)
    if url and not _WEB_URL.match(url):
        raise DocumentError(f"url {url[:100]!r} is not a web address (http:// or https://)")
    if layout is not None and normalize_text(text) != text:
        raise ValueError("a laid-out text must already be in its stored form")
    text = normalize_text(text)
    if not text.strip():
        raise DocumentError("document text is empty")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentError(f"document text is longer than {MAX_DOCUMENT_CHARS:,} characters")
    doc_id = validate_doc_id(doc_id) if doc_id else doc_id_from_text(text)
    title = (title or "").strip()[:MAX_TITLE_CHARS] or title_from_text(text) or doc_id
    return Document(doc_id=doc_id, title=title, text=text, source=source, layout=layout,
                    url=url, media_type=media_type if original is not None else "",
                    original=original, metadata=metadata or Metadata())


def decode_text(data: bytes, name: str) -> str:
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
