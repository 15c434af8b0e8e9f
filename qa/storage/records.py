"""The records a store hands out: sentences, passages, document summaries, and what a write
replaced. Every backend returns these, and the catalog, ranking and the API read them."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.reading.metadata import Metadata


@dataclass(frozen=True, slots=True)
class SentenceRow:
    """A stored sentence with what a citation needs."""

    id: int
    doc_id: str
    ord: int
    passage_ord: int
    start: int
    end: int
    text: str
    comment: bool = False  # from a reader comment below the article
    context: str = ""  # the headings (and term or column labels) it stands under, "\x1f"-joined
    location: str = ""  # where it stands in the original file (page, slide, anchor), as JSON


@dataclass(frozen=True, slots=True)
class PassageRow:
    """A stored passage's span."""

    id: int
    doc_id: str
    ord: int
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True)
class Original:
    """The file a document was read from, as it came."""

    data: bytes
    media_type: str
    name: str  # the name it was added under (the document's source)


@dataclass(frozen=True)
class DocumentSummary:
    """One line of the document list."""

    doc_id: str
    title: str
    source: str
    chars: int
    passages: int
    sentences: int
    added_at: float
    metadata: Metadata = field(default_factory=Metadata)


@dataclass(frozen=True)
class Replaced:
    """Vector ids a write removed and added, so the in-memory indexes can follow."""

    doc_id: str
    removed_sentences: list[int]
    removed_passages: list[int]
    added_sentences: list[int]
    added_passages: list[int]
