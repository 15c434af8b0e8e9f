"""The PDF reader: page text (pypdf) laid out as paragraphs, and the metadata title, refusing
PDFs built to exhaust it.

A PDF has no paragraphs, only lines placed on pages. The reader re-joins them: lines of one
paragraph become one line of text (a word hyphenated across a line break made whole again),
a paragraph broken by a page break is joined across it, and what repeats at the top or bottom
of most pages (running headers and footers, page numbers) is left out. A short line standing
alone without a full stop, followed by a new paragraph, is read as a heading.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections import Counter
from typing import TYPE_CHECKING

from qa.reading import documents
from qa.reading.documents import DocumentError, Extracted
from qa.reading.layout import HEADING, PAGE, TEXT, Layout, LayoutBuilder, clean_inline, clean_label

if TYPE_CHECKING:
    from pypdf import PdfReader

PDF_CONTENT_PER_CHAR = 10  # content-stream bytes a page may spend per character of text
PDF_MAX_REPEATS = 10  # times pages may draw the same content streams, on average...
PDF_REPEAT_BYTES = 2_000_000  # ...once they draw this much (a form's pages share a little)


def _check_content_size(reader: PdfReader, name: str) -> None:
    """Refuse a PDF whose pages draw more content than any document's text could need, before
    extracting a character: a few KB can point every page at one huge compressed stream, and
    extracting even the allowed part of it held the interpreter for seconds. Each stream is
    decompressed once, however many pages share it."""
    sizes: dict[object, int] = {}
    total, budget = 0, PDF_CONTENT_PER_CHAR * documents.MAX_DOCUMENT_CHARS
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
                                    f"{documents.MAX_DOCUMENT_CHARS:,} characters of text need")
    if total > PDF_REPEAT_BYTES and total > PDF_MAX_REPEATS * sum(sizes.values()):
        raise DocumentError(f"{name}: the PDF's pages draw the same content over and over "
                            f"({total // 1_000_000:,} MB drawn from "
                            f"{sum(sizes.values()) // 1000:,} KB)")


def pdf_to_text(data: bytes, name: str) -> Extracted:
    """Extract page text and the metadata title from a PDF."""
    from pypdf import PdfReader

    # pypdf logs what it repairs ("EOF marker not found") to stderr; a PDF that cannot be read
    # is reported once, in the reader's own words, and one that can needs no notice.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
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
            if total > documents.MAX_DOCUMENT_CHARS:
                raise DocumentError(f"{name}: the PDF's text is longer than "
                                    f"{documents.MAX_DOCUMENT_CHARS:,} characters")
            pages.append(text)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except RecursionError as exc:
        raise DocumentError(f"{name}: cannot read the PDF (nested too deeply)") from exc
    except Exception as exc:
        raise DocumentError(f"{name}: cannot read the PDF ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from exc
    text, layout = lay_out_pages(pages)
    title = str(meta_title).strip()
    return Extracted(text, "" if _JUNK_TITLE.search(title) else title, layout)


# Titles a PDF's producer wrote instead of the author's: the document is then titled by its
# first heading or line, like a file without one.
_JUNK_TITLE = re.compile(
    r"^(about:blank|untitled\b.*|document\d*|microsoft (word|powerpoint|excel) - .*|"
    r"slide \d+|.*\.(docx?|pptx?|xlsx?|rtf|odt|pdf|tmp|html?|txt|indd|qxd)|https?://\S+|"
    r"[\W\d_]*)$", re.IGNORECASE)


_PAGE_NUMBER = re.compile(r"^\W*(page\s*)?\d{1,5}(\s*(of|/)\s*\d{1,5})?\W*$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*([•·▪‣◦*\-–—]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]?$")
EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads stand
REPEATED_SHARE = 0.5  # a line at the edge of at least this share of pages is furniture
HEADING_MAX_CHARS = 80


def _shape(line: str) -> str:
    """A line with its numbers blurred, so "Page 3" and "Page 4" repeat as one header."""
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _furniture(pages: list[list[str]]) -> set[str]:
    """The shapes of lines repeated at the top or bottom of most pages: running headers and
    footers (a document of fewer than three pages has none)."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        edge = {_shape(x) for x in lines[:EDGE_LINES] + lines[-EDGE_LINES:] if x.strip()}
        counts.update(edge)
    least = max(3, int(REPEATED_SHARE * len(pages)))
    return {shape for shape, n in counts.items() if n >= least}


def _body_lines(pages: list[str]) -> list[list[str]]:
    """Each page's lines without its running header, footer and page number."""
    split = [[line.rstrip() for line in page.splitlines()] for page in pages]
    repeated = _furniture(split)
    out = []
    for lines in split:
        kept = []
        last = len(lines) - 1
        for i, line in enumerate(lines):
            at_edge = i < EDGE_LINES or i > last - EDGE_LINES
            if at_edge and (_shape(line) in repeated or _PAGE_NUMBER.match(line)):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _joined(paragraph: str, line: str) -> str:
    """Add a line to the paragraph it continues, undoing a hyphen that split a word."""
    if not paragraph:
        return line.strip()
    if re.search(r"[a-z]-$", paragraph) and re.match(r"\s*[a-z]", line):
        return paragraph[:-1] + line.strip()
    return f"{paragraph} {line.strip()}"


def lay_out_pages(pages: list[str]) -> tuple[str, Layout]:
    """Re-join the pages' lines into paragraphs and headings (see the module's notes)."""
    body = _body_lines(pages)
    widths = [len(x.strip()) for lines in body for x in lines if len(x.strip()) > 20]
    full = statistics.median(widths) if widths else 60.0
    out = LayoutBuilder(limit=documents.MAX_DOCUMENT_CHARS)
    heading: tuple[str, ...] = ()
    paragraph = ""
    starts: dict[int, int] = {}  # page number -> where its text begins in the stored text
    pending: list[tuple[int, int]] = []  # (offset in the paragraph, page) of pages begun in it

    def flush() -> None:
        nonlocal paragraph
        if paragraph and out.add(paragraph, TEXT, heading):
            for at, number in pending:
                starts[number] = out.blocks[-1].start + at
        paragraph = ""
        pending.clear()

    # A page ends like a blank line...
    lines = [(x, number) for number, page in enumerate(body, 1) for x in [*page, ""]]
    for i, (line, number) in enumerate(lines):
        text = clean_inline(line)
        nxt = next((clean_inline(x) for x, _ in lines[i + 1:i + 3] if x.strip()), "")
        if not text:
            # ...unless the paragraph runs on: no full stop yet, and the next line goes on
            # in lower case.
            if paragraph and not _SENTENCE_END.search(paragraph) and nxt[:1].islower():
                continue
            flush()
            continue
        if _LIST_ITEM.match(text) and paragraph:
            flush()
        first_on_page = number not in starts and all(n != number for _, n in pending)
        alone = not paragraph or _SENTENCE_END.search(paragraph)
        if alone and len(text) <= min(HEADING_MAX_CHARS, 0.7 * full) and \
                not _SENTENCE_END.search(text) and not _LIST_ITEM.match(text) and \
                text[:1].isupper() and nxt[:1].isupper():
            flush()
            # A PDF does not say how deep: headings stand side by side.
            if out.add(text, HEADING) and first_on_page:
                starts[number] = out.blocks[-1].start
            heading = (clean_label(text),)
            continue
        joined = _joined(paragraph, text)
        if first_on_page:  # where this line's text begins in the joined paragraph
            pending.append((len(joined) - len(text), number))
        paragraph = joined
        # A line well short of the page's measure that ends a sentence ends its paragraph.
        if _SENTENCE_END.search(text) and len(text) < 0.8 * full:
            flush()
    flush()
    for number in range(len(body), 0, -1):  # a page with no text begins where the next does
        out.pages.insert(0, starts.get(number, out.pages[0] if out.pages else out.length))
    out.page_kind = PAGE
    return out.build()
