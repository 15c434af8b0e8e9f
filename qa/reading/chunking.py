"""Chunking: sentences with exact character offsets, grouped into overlapping passages."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import blingfire

from qa.reading.layout import (
    CODE,
    HEADING,
    ROW,
    ROW_SEPARATOR,
    SECTION_SEPARATOR,
    TERM,
    Block,
    Layout,
    store_context,
)
from qa.text.words import LETTER_WORD

# Scrape furniture that must never be quoted as an answer.
_BOILERPLATE = re.compile(
    r"""^(?:open\ image\ modal|story\ continues\ (?:after|below).*|advertisement|
    image\ credits?:.*|photo\ credits?:.*|read\ more.*|share\ this.*|click\ here.*|
    \(?via\ [^)]*\)?|\(?credit:?[^)]*\)?|\(?\d+\ of\ ?\d+\)?|nasa\ tv|related.*)$""",
    re.IGNORECASE | re.VERBOSE,
)
# Trailing photo-credit parentheticals: "(credit:AP)", "(AP Photo/...)", "(Photo by ...)".
_TRAILING_CREDIT = re.compile(
    r"\s*\((?:credit:|photo |ap photo|afp|reuters|getty|via |photo credit)[^()]*\)\s*$",
    re.IGNORECASE,
)
_SLIDE_COUNTER = re.compile(r"\(\s*\d+\s*of\s*\d+\s*\)\s*$", re.IGNORECASE)
# A bullet, not the sign of "-1" or an option's dashes ("-c <commit>", "--amend", "*args").
_LEADING_BULLET = re.compile(r"^(?:\s|[•·▪‣◦|]|[*\-–—](?![\w*\-]))+")
# A quotation that ends in its own full stop ("amend!", "Some fun.") closes no sentence when
# the text goes on in lower case: blingfire splits there.
_QUOTED_STOP = re.compile(r"[.!?…][\"'”’]$")
# blingfire never ends a sentence before a lower-case word, but manuals open sentences with
# names written in lower case ("... in the cluster. pg_dumpall also dumps ..."). A full stop
# after a word of two or more characters ends one there, unless the word is an abbreviation or
# holds a dot itself ("e.g.", "U.S.", "2.0.", "...").
_LOWER_OPENING = re.compile(r"(\S+)\.\s+(?=[a-z_])")
_ABBREVIATIONS = frozenset("""
    al approx avg ca capt cf ch co col corp cont dept dr ed eds eg esp est etc ex fig figs ft gen
    gov ibid ie inc incl jr lt ltd max min misc mr mrs ms mt no nos op pp prof ref refs resp rev
    sec sect sgt sr st vol vols vs viz jan feb mar apr jun jul aug sep sept oct nov dec
    """.split())
_TERMINAL = re.compile(r"[.!?…:;\"'”’)\]]$")
# A reader comment opens with a bulleted line holding only its author's handle ("  • lidocaineus").
_COMMENT_AUTHOR = re.compile(r"^(\s*)[•·▪‣◦]\s*[^\s.!?,;:][^.!?,;:]{0,38}$")
_SUBSTANCE = re.compile(LETTER_WORD.pattern + r"|\d")
# Passages one document may make per character of text: prose makes one per ~400 characters;
# past one per 40 (lines of a word or two) the document is refused, not embedded at great cost.
MIN_CHARS_PER_PASSAGE = 40
CHUNKER_VERSION = "8"  # bump when chunking changes: stored indexes then ask for a rebuild
MIN_WORDS = 4
HEADING_MAX_WORDS = 12
# In a laid-out document a short sentence is a statement when it reads as one: "The default is
# 4.0." or "Returns None." (a capital or a digit first, a full stop last, a verb's worth of words).
_SHORT_STATEMENT = re.compile(r"^[\"'“(]?(?:[A-Z0-9`]|-\d).*[.!][\"'”)]?$", re.DOTALL)
SHORT_MIN_WORDS = 2
ROW_SENTENCE_CHARS = 300  # a table row up to this long is quoted whole


@dataclass(frozen=True)
class Sentence:
    """A sentence as a span of the document's stored text; `quotable` says if it may be quoted."""

    start: int
    end: int
    text: str
    quotable: bool
    block: int
    comment: bool = False  # written by a reader below the article, not by its author
    context: tuple[str, ...] = ()  # headings, term or column labels it stands under
    location: str = ""  # where it stands in the original file, as JSON ({"page": 3}...)

    @property
    def section(self) -> str:
        """The context as one line, the way people and the model read it."""
        return SECTION_SEPARATOR.join(self.context)

    @property
    def stored_context(self) -> str:
        """The context as the store keeps it."""
        return store_context(self.context)


@dataclass(frozen=True)
class Passage:
    """A run of consecutive sentences, the retrieval unit and the context shown with a citation."""

    start: int
    end: int
    first: int
    last: int


@dataclass(frozen=True)
class Chunks:
    """The chunker's output for one document."""

    sentences: list[Sentence]
    passages: list[Passage]
    home_passage: list[int]

    def passage_context(self, passage: Passage) -> tuple[str, ...]:
        """What a passage is about: the context of its first quotable sentence (or, when none
        is, of its first sentence)."""
        inside = self.sentences[passage.first:passage.last + 1]
        return next((s.context for s in inside if s.quotable), inside[0].context)

    def passage_text(self, passage: Passage, doc_text: str) -> str:
        """Give the passage's embeddable text: its quotable sentences, without scrape furniture."""
        parts = [s.text for s in self.sentences[passage.first:passage.last + 1] if s.quotable]
        return " ".join(parts) if parts else doc_text[passage.start:passage.end]


def _trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span past surrounding spaces, bullets and trailing photo credits."""
    segment = text[start:end]
    lead = _LEADING_BULLET.match(segment)
    if lead and lead.end() < len(segment):
        start += lead.end()
    while True:
        segment = text[start:end]
        credit = _TRAILING_CREDIT.search(segment)
        if not credit or credit.start() == 0:
            break
        end = start + credit.start()
    segment = text[start:end]
    start += len(segment) - len(segment.lstrip())
    end -= len(segment) - len(segment.rstrip())
    return start, end


_SAME_WRITING = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "FULLWIDTH": "CJK", "HALFWIDTH": "CJK"}


def _mixed_scripts(text: str) -> bool:
    """Spot text spelled with look-alike letters from several alphabets ("мʏ ƈօ-աօʀĸɛʀ")."""
    scripts = Counter(_SAME_WRITING.get(s, s) for s in
                      (unicodedata.name(ch, "?").split(" ", 1)[0] for ch in text if ch.isalpha()))
    total = sum(scripts.values())
    return total >= 10 and scripts.most_common(1)[0][1] < 0.7 * total


def _reports_a_question(sentence: str) -> bool:
    """Tell reported speech ('...giving directions: "Can you get higher?"') from a question the
    page itself asks: the quoted question follows a statement of its own."""
    opening = max(sentence.rfind('"', 0, len(sentence) - 2), sentence.rfind("“"))
    return opening > 0 and len(LETTER_WORD.findall(sentence[:opening])) >= MIN_WORDS


def is_quotable(sentence: str, alone_on_line: bool, laid_out: bool = False) -> bool:
    """Decide whether a sentence can stand as an answer, ruling out captions and furniture.

    In a laid-out document (`laid_out`) the reader already told headings, labels and code from
    prose, so a short sentence that reads as a statement ("Returns None.") may be quoted too."""
    stripped = sentence.strip()
    if _BOILERPLATE.match(stripped):
        return False
    words = LETTER_WORD.findall(stripped)
    short_statement = laid_out and len(words) >= SHORT_MIN_WORDS and \
        _SHORT_STATEMENT.match(stripped) is not None
    if len(words) < MIN_WORDS and not short_statement:
        return False
    letters = sum(ch.isalpha() for ch in stripped)
    if letters < 0.5 * len(stripped):
        return False
    if sum(ch.isupper() for ch in stripped) > 0.6 * letters:
        return False  # wire-service slugs and credit lines: "AFP PHOTO/POOL/..."
    if _SLIDE_COUNTER.search(stripped) or (stripped[0] == "(" and stripped[-1] == ")" and
                                           not (laid_out and len(words) >= 2 * MIN_WORDS)):
        return False  # slideshow captions "(03 of19)" and parenthetical credits
    if _mixed_scripts(stripped):
        return False  # look-alike letters from several alphabets: spam written to evade filters
    if stripped.rstrip("\"'”’)").endswith("?") and not _reports_a_question(stripped):
        return False  # a question answers nothing
    # A short line without closing punctuation is a heading or a caption title, not a statement.
    if alone_on_line and len(words) < HEADING_MAX_WORDS and not _TERMINAL.search(stripped):
        return False
    return True


def is_quotable_row(row: str) -> bool:
    """Decide whether a table row can stand as an answer: cells that say something in words
    ("bigint | 8 bytes | large-range integer"), not a row of numbers or marks."""
    cells = [c for c in row.split(ROW_SEPARATOR) if c.strip()]
    return len(cells) >= 2 and len(LETTER_WORD.findall(row)) >= SHORT_MIN_WORDS and \
        not _BOILERPLATE.match(row) and not _mixed_scripts(row)


def sentence_spans(line: str) -> list[tuple[int, int]]:
    """Sentence spans of one line by blingfire, a quotation's own full stop not taken for the
    sentence's: 'creates an "amend!" commit which...' stays one sentence."""
    _, found = blingfire.text_to_sentences_and_offsets(line)
    spans: list[tuple[int, int]] = []
    for a, b in (part for span in found for part in _lower_openings(line, *span)):
        if not line[a:b].strip():
            continue
        if spans and line[a:b].lstrip()[:1].islower() and \
                _QUOTED_STOP.search(line[spans[-1][0]:spans[-1][1]].rstrip()):
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans or [(0, len(line))]


def _lower_openings(line: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a span where a sentence ends before one that opens in lower case (see
    `_LOWER_OPENING`), since blingfire keeps them together."""
    parts = []
    for found in _LOWER_OPENING.finditer(line, start, end):
        word = found.group(1).strip("()[]{}\"'“”‘’")
        if len(word) < 2 or "." in word or word.lower() in _ABBREVIATIONS:
            continue
        parts.append((start, found.start(1) + len(found.group(1)) + 1))
        start = found.end()
    return parts + [(start, end)]


def _split_line(text: str, offset: int, line: str) -> list[tuple[int, int]]:
    """Sentence spans of one line of the stored text, trimmed of bullets, spaces and credits."""
    out = []
    for a, b in sentence_spans(line):
        start, end = _trim_span(text, offset + a, offset + b)
        if end > start:
            out.append((start, end))
    return out


def split_laid_out(text: str, layout: Layout) -> list[Sentence]:
    """Split a laid-out document block by block: prose into sentences, a short table row whole,
    and headings, terms and code as one sentence each that is never quoted."""
    sentences: list[Sentence] = []
    for number, block in enumerate(layout.blocks):
        context = layout.context_of(block)

        def where(start: int, end: int, block: Block = block) -> str:
            """The span's place in the original (page, slide, anchor), as stored."""
            found = layout.location(block, start, end)
            return json.dumps(found, separators=(",", ":")) if found else ""

        if block.kind in (HEADING, TERM, CODE) or (
                block.kind == ROW and block.end - block.start <= ROW_SENTENCE_CHARS):
            start, end = _trim_span(text, block.start, block.end)
            if end > start:
                body = text[start:end]
                quotable = block.kind == ROW and is_quotable_row(body)
                sentences.append(Sentence(start, end, body, quotable, number, False, context,
                                          where(start, end)))
            continue
        line = text[block.start:block.end]
        if not _SUBSTANCE.search(line):
            continue
        spans = _split_line(text, block.start, line)
        for start, end in spans:
            body = text[start:end]
            sentences.append(Sentence(start, end, body,
                                      is_quotable(body, len(spans) == 1, laid_out=True),
                                      number, False, context, where(start, end)))
    return sentences


class _CommentTracker:
    """Follow a scraped page line by line and tell the reader comments from the article."""

    def __init__(self) -> None:
        """Start in the article."""
        self.indent: int | None = None  # the author line's indent while inside a comment

    def is_comment(self, line: str) -> bool:
        """Say whether this non-blank line belongs to a reader comment."""
        author = _COMMENT_AUTHOR.match(line)
        if author and len(LETTER_WORD.findall(line)) <= 4:
            self.indent = len(author.group(1))
            return True
        if self.indent is not None:
            indent = len(line) - len(line.lstrip())
            if indent > self.indent or (self.indent == 0 and indent == 0):
                return True
            self.indent = None
        return False


def split_sentences(text: str) -> list[Sentence]:
    """Split stored text into sentences whose offsets slice back to their exact text."""
    sentences: list[Sentence] = []
    offset = 0
    comments = _CommentTracker()
    for block, line in enumerate(text.split("\n")):
        # A line without a word of two letters or a digit ("x", "|", "—") is furniture, never
        # a sentence: thousands of them must not become thousands of passages to embed.
        if _SUBSTANCE.search(line):
            comment = comments.is_comment(line)
            spans = sentence_spans(line)
            for a, b in spans:
                start, end = _trim_span(text, offset + a, offset + b)
                if end <= start:
                    continue
                body = text[start:end]
                sentences.append(Sentence(start, end, body,
                                          is_quotable(body, alone_on_line=len(spans) == 1), block,
                                          comment))
        offset += len(line) + 1
    return sentences


def group_passages(sentences: list[Sentence], size: int, overlap: int,
                   max_chars: int) -> tuple[list[Passage], list[int]]:
    """Group sentences into overlapping windows and give each sentence its home passage.

    A passage stays within one context: a new section or definition starts a new passage."""
    passages: list[Passage] = []
    home = [0] * len(sentences)
    step = max(1, size - overlap)
    i = 0
    while i < len(sentences):
        j = i
        while (j + 1 < len(sentences) and j + 1 - i < size
               and sentences[j + 1].end - sentences[i].start <= max_chars
               and not _starts_section(sentences, j + 1)):
            j += 1
        for k in range(i if not passages else max(i, passages[-1].last + 1), j + 1):
            home[k] = len(passages)
        passages.append(Passage(sentences[i].start, sentences[j].end, i, j))
        if j + 1 >= len(sentences):
            break
        if _starts_section(sentences, j + 1):
            i = j + 1  # no overlap across a section: the next one starts afresh
            continue
        i = max(i + 1, min(i + step, j + 1 - overlap if j - i + 1 > overlap else j + 1))
    return passages, home


def _starts_section(sentences: list[Sentence], k: int) -> bool:
    """Whether sentence k opens another part of a laid-out document than the one before it:
    its context differs and does not go deeper into the one before (a heading or a term and
    the text under it stay together)."""
    here, before = sentences[k].context, sentences[k - 1].context
    return here != before and here[:len(before)] != before


def chunk_text(text: str, size: int = 4, overlap: int = 1, max_chars: int = 1200,
               layout: Layout | None = None) -> Chunks:
    """Chunk one document's text for indexing, by its layout when the reader gave one."""
    sentences = split_sentences(text) if layout is None else split_laid_out(text, layout)
    passages, home = group_passages(sentences, size, overlap, max_chars)
    allowed = 100 + len(text) // MIN_CHARS_PER_PASSAGE
    if len(passages) > allowed:
        raise TooManyPassages(f"{len(text):,} characters make {len(passages):,} passages (at "
                              f"most {allowed:,}): the text is mostly very short lines")
    return Chunks(sentences, passages, home)


class TooManyPassages(ValueError):
    """A document whose text would cost far more to index than its size suggests."""
