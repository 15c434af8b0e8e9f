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

import json
import re
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Layout:
    """The blocks of a document's text, in order, and the distinct contexts they stand in."""

    blocks: tuple[Block, ...]
    contexts: tuple[tuple[str, ...], ...] = ()

    def context_of(self, block: Block) -> tuple[str, ...]:
        """The headings (and term or column labels) a block stands under, outermost first."""
        return self.contexts[block.context] if block.context >= 0 else ()

    def to_json(self) -> str:
        """Store the layout beside the text (a few numbers per block)."""
        return json.dumps({"contexts": [list(c) for c in self.contexts],
                           "blocks": [[b.start, b.end, KINDS.index(b.kind), b.context]
                                      for b in self.blocks]}, ensure_ascii=False,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | None) -> Layout | None:
        """Read a stored layout back (None for text stored without one)."""
        if not data:
            return None
        raw = json.loads(data)
        return cls(tuple(Block(a, b, KINDS[k], c) for a, b, k, c in raw["blocks"]),
                   tuple(tuple(c) for c in raw["contexts"]))


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
    _contexts: dict[tuple[str, ...], int] = field(default_factory=dict)

    def add(self, text: str, kind: str = TEXT, context: tuple[str, ...] = ()) -> bool:
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
        self.blocks.append(Block(start, self.length, kind, index))
        return True

    def build(self) -> tuple[str, Layout]:
        """The text and its layout."""
        contexts = tuple(sorted(self._contexts, key=self._contexts.__getitem__))
        return "".join(self.parts), Layout(tuple(self.blocks), contexts)


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
