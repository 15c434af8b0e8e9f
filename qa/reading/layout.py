"""Layout: where each stretch of a document's text stands in the source's structure.

A reader that sees structure (HTML, Markdown, Word, OpenDocument, PDF, slides) writes the text
block by block through a `LayoutBuilder`: a paragraph, a list item or a definition is one line,
a heading its own line, a table row one line with its cells joined by " | ", a code sample its
own lines. Each block records its kind and its context: the headings above it and, for a
definition, the term it defines, for a table row, its column labels. The chunker reads the
layout to decide what is a sentence, what may be quoted and what a sentence is about; plain
text has no layout and is read line by line.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, takewhile

from qa.text.words import code_name, entry_keys

# What a block is, for the chunker: prose is split into sentences and quoted; a heading or a
# term names what follows; a row is quoted whole; code is kept for reading, never quoted.
TEXT, HEADING, TERM, ROW, CODE = "text", "heading", "term", "row", "code"
KINDS = (TEXT, HEADING, TERM, ROW, CODE)
SECTION_SEPARATOR = " › "  # how a context's parts are written for people and the model
STORED_SEPARATOR = "\x1f"  # how they are stored in one column (a heading may hold " › ")
ROW_SEPARATOR = " | "  # between a table row's cells in the stored text
MAX_CONTEXT_PARTS = 4  # innermost parts kept: deeper paths say less and cost the model's words
MAX_CONTEXT_PART_CHARS = 120
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Block:
    """A stretch `text[start:end]` laid out as one unit, with what it is and where it stands."""

    start: int
    end: int
    kind: str
    context: int = -1  # index into `Layout.contexts`; -1: none
    anchor: str = ""  # the source's nearest element id at or above the block (HTML)
    note: bool = False  # from a slide's speaker notes


PAGE, SLIDE = "page", "slide"


@dataclass(frozen=True)
class Layout:
    """The blocks of a document's text, in order, the distinct contexts they stand in, and
    where each page (of a PDF) or slide (of a presentation) begins in the text."""

    blocks: tuple[Block, ...]
    contexts: tuple[tuple[str, ...], ...] = ()
    pages: tuple[int, ...] = ()  # the text offset where page (or slide) 1, 2, ... begins
    page_kind: str = ""  # PAGE or SLIDE

    def context_of(self, block: Block) -> tuple[str, ...]:
        """The headings (and term or column labels) a block stands under, outermost first."""
        return self.contexts[block.context] if block.context >= 0 else ()

    def location(self, block: Block, start: int, end: int) -> dict[str, object]:
        """Where `text[start:end]`, inside `block`, stands in the original: its page (or the
        pages it runs over) or slide, whether in the speaker notes, and the anchor above it."""
        where: dict[str, object] = {}
        if self.pages:
            first = max(bisect.bisect_right(self.pages, start), 1)
            last = max(bisect.bisect_right(self.pages, max(end - 1, start)), 1)
            where[self.page_kind] = first
            if last != first:
                where[f"{self.page_kind}s"] = [first, last]
        if block.note:
            where["notes"] = True
        if block.anchor:
            where["anchor"] = f"#{block.anchor}"
        return where

    def code_after(self, end: int) -> tuple[int, int] | None:
        """The span of the code blocks that come right after offset `end` (the sample a
        sentence ending in a colon introduces), or None when the next block is no code."""
        at = bisect.bisect_left(self.blocks, end, key=lambda b: b.start)
        last = None
        for block in takewhile(lambda b: b.kind == CODE, islice(self.blocks, at, None)):
            last = block
        return (self.blocks[at].start, last.end) if last is not None else None

    def to_json(self) -> str:
        """Store the layout beside the text (a few numbers per block)."""
        def row(b: Block) -> list:
            out = [b.start, b.end, KINDS.index(b.kind), b.context]
            return out + [b.anchor, int(b.note)] if b.anchor or b.note else out

        data: dict[str, object] = {"contexts": [list(c) for c in self.contexts],
                                   "blocks": [row(b) for b in self.blocks]}
        if self.pages:
            data.update(pages=list(self.pages), page_kind=self.page_kind)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | None) -> Layout | None:
        """Read a stored layout back (None for text stored without one)."""
        if not data:
            return None
        raw = json.loads(data)
        blocks = tuple(Block(r[0], r[1], KINDS[r[2]], r[3], *r[4:5], *map(bool, r[5:6]))
                       for r in raw["blocks"])
        return cls(blocks, tuple(tuple(c) for c in raw["contexts"]),
                   tuple(raw.get("pages", ())), raw.get("page_kind", ""))


def location_label(location: dict[str, object]) -> str:
    """A citation's place as a reader writes it: "p. 12", "pp. 3-4", "slide 3 (notes)"."""
    pages = location.get("pages")
    if isinstance(pages, list) and len(pages) == 2:
        return f"pp. {pages[0]}-{pages[1]}"
    if "page" in location:
        return f"p. {location['page']}"
    if "slide" in location:
        return f"slide {location['slide']}" + (" (notes)" if location.get("notes") else "")
    return ""


def store_context(parts: tuple[str, ...] | list[str]) -> str:
    """A context in one stored string."""
    return STORED_SEPARATOR.join(parts)


def context_parts(stored: str) -> list[str]:
    """A stored context's parts, outermost first."""
    return stored.split(STORED_SEPARATOR) if stored else []


def readable_context(stored: str) -> str:
    """A stored context as people and the model read it: "Memory › work_mem (integer)"."""
    return stored.replace(STORED_SEPARATOR, SECTION_SEPARATOR)


def clean_inline(text: str) -> str:
    """Collapse white space as a browser does inside a paragraph: runs become one space."""
    return _SPACE.sub(" ", text.replace("\x00", "")).strip()


def clean_label(text: str) -> str:
    """A heading or term fit to name a context: one line, not too long."""
    label = clean_inline(text).rstrip(":").strip()
    if len(label) > MAX_CONTEXT_PART_CHARS:
        label = label[:MAX_CONTEXT_PART_CHARS].rsplit(" ", 1)[0] + "…"
    return label


@dataclass
class LayoutBuilder:
    """Writes a document's text block by block and remembers each block's layout.

    Blocks are separated by a line break, and by a blank line before a heading, so the stored
    text reads as the page did. `limit` bounds the text (a reader's parse stays bounded).
    """

    limit: int | None = None
    parts: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    length: int = 0
    pages: list[int] = field(default_factory=list)
    page_kind: str = ""
    _contexts: dict[tuple[str, ...], int] = field(default_factory=dict)

    def new_page(self, kind: str = PAGE, at: int | None = None) -> None:
        """Say where a page (or slide) begins: at text offset `at` (a page break inside a
        paragraph), or else with the next block."""
        self.page_kind = kind
        self.pages.append(at if at is not None else self.length + (1 if self.parts else 0))

    def add(self, text: str, kind: str = TEXT, context: tuple[str, ...] = (),
            anchor: str = "", note: bool = False) -> bool:
        """Append one block (already cleaned; code may hold line breaks); False if empty."""
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        text = text.replace("\ufeff", "").strip("\n")
        if kind != CODE:
            text = clean_inline(text)
        else:
            text = "\n".join(line.rstrip() for line in text.split("\n"))
        if not text.strip():
            return False
        if self.parts:
            gap = "\n\n" if kind == HEADING else "\n"
            self.parts.append(gap)
            self.length += len(gap)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        if self.limit is not None and self.length > self.limit:
            raise OverflowError(self.length)
        context = tuple(p for p in context if p)[-MAX_CONTEXT_PARTS:]
        index = self._contexts.setdefault(context, len(self._contexts)) if context else -1
        self.blocks.append(Block(start, self.length, kind, index, anchor, note))
        return True

    def build(self) -> tuple[str, Layout]:
        """The text and its layout."""
        contexts = tuple(sorted(self._contexts, key=self._contexts.__getitem__))
        return "".join(self.parts), Layout(tuple(self.blocks), contexts, tuple(self.pages),
                                           self.page_kind)


@dataclass
class Outline:
    """The headings open at a point of a document, by level: a heading closes those at its
    level and below, and names the text under it."""

    open: list[tuple[int, str]] = field(default_factory=list)

    def context(self) -> tuple[str, ...]:
        """The open headings, outermost first."""
        return tuple(text for _, text in self.open)

    def heading(self, level: int, text: str) -> tuple[str, ...]:
        """Open a heading; returns the context the heading line itself stands in."""
        self.open = [(lvl, t) for lvl, t in self.open if lvl < level]
        parents = self.context()
        label = clean_label(text)
        if label:
            self.open.append((level, label))
        return parents


def term_names(context: str) -> set[str]:
    """The names a sentence's innermost term gives its thing, in lower case, for a question
    asking what it is: "Materialized view (relation)" -> {"materialized view"} (a kind in
    parentheses is no name), "Multi-version concurrency control (MVCC)" -> both."""
    if not context:
        return set()
    head, _, alias = context.rsplit(STORED_SEPARATOR, 1)[-1].partition("(")
    alias = alias.rstrip(") ").strip()
    return {head.strip().lower()} | ({alias.lower()} if alias.isupper() else set())


@lru_cache(maxsize=8192)  # an entry's sentences share their context: read once
def term_name(context: str) -> str:
    """The code name a sentence's innermost term defines ("exception TypeError" ->
    typeerror; "str.join(iterable)" -> str.join; "PyObject *PyErr_Occurred()"), for a
    question that writes that name (`code_names_meet`)."""
    term = context.rsplit(STORED_SEPARATOR, 1)[-1] if context else ""
    head = term.split("(", 1)[0].split()
    return code_name(head[-1]) if head else ""


def sentence_keys(text: str, context: str) -> frozenset[str]:
    """The options or codes whose entry a stored sentence belongs to: those its innermost term
    names, or, for a table row, its first cell ("%j | Day of the year ...")."""
    if ROW_SEPARATOR in text:
        return entry_keys(text.split(ROW_SEPARATOR, 1)[0])
    return entry_keys(context.rsplit(STORED_SEPARATOR, 1)[-1]) if context else frozenset()
