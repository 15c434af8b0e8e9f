"""Readers for office documents: Word (.docx) and PowerPoint (.pptx), through python-docx and
python-pptx, and OpenDocument text (.odt), read from its XML with lxml.

Both formats are zip archives of XML. The archive is checked before any XML is parsed: a few KB
of zip can declare gigabytes of content (a zip bomb), and an encrypted Office file is not a zip
at all. The text keeps the document's reading order, one paragraph (or table row, or slide
text box) per line, so sentences never run across them; headings (Word's and OpenDocument's
heading styles, a slide's title) name the text under them, and a table's first row labels the
rows below it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator

from qa.reading.documents import MAX_DOCUMENT_CHARS, DocumentError, Extracted
from qa.reading.layout import (
    HEADING,
    ROW,
    ROW_SEPARATOR,
    SLIDE,
    TERM,
    TEXT,
    Layout,
    LayoutBuilder,
    Outline,
)

MAX_ARCHIVE_BYTES = 20 * MAX_DOCUMENT_CHARS  # XML is verbose, but not twenty times the text
MAX_ARCHIVE_PARTS = 10_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted (or pre-2007) Office files


def _check_archive(data: bytes, name: str, kind: str) -> None:
    """Refuse what is not an Office archive, or declares more content than any text needs."""
    if data.startswith(_OLE_MAGIC):
        raise DocumentError(f"{name}: the file is encrypted (password-protected) or in the old "
                            f"binary {kind} format; save it as an unprotected {kind} file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise DocumentError(f"{name}: not a {kind} file (the archive cannot be read)") from exc
    if len(parts) > MAX_ARCHIVE_PARTS:
        raise DocumentError(f"{name}: the archive holds {len(parts):,} parts, more than "
                            f"{MAX_ARCHIVE_PARTS:,}")
    declared = sum(p.file_size for p in parts)
    if declared > MAX_ARCHIVE_BYTES:
        raise DocumentError(f"{name}: the archive unpacks to {declared // 1_000_000:,} MB, more "
                            f"than {MAX_ARCHIVE_BYTES // 1_000_000:,} MB of content needs")


Item = tuple[str, str, int]  # (kind, text, heading level or 0): what a reader finds, in order
_NEW_SLIDE, _NOTE = "new slide", "note"  # items of a presentation besides the layout's kinds


def _lay_out(items: Iterable[Item], name: str) -> tuple[str, Layout]:
    """Write a document's paragraphs, headings and table rows as laid-out text, stopping as
    soon as the text passes the document limit."""
    out = LayoutBuilder(limit=MAX_DOCUMENT_CHARS)
    outline = Outline()
    labels: tuple[str, ...] = ()
    try:
        for kind, text, level in items:
            if kind == _NEW_SLIDE:
                out.new_page(SLIDE)
            elif kind == _NOTE:
                out.add(text, TEXT, outline.context(), note=True)
            elif kind == HEADING:
                out.add(text, HEADING, outline.heading(level, text))
            elif kind == TERM:  # a table's first row: it labels the rows below
                labels = (text,) if out.add(text, TERM, outline.context()) else ()
            elif kind == ROW:
                out.add(text, ROW, (*outline.context(), *labels))
            else:
                labels = ()
                out.add(text, TEXT, outline.context())
    except OverflowError:
        raise DocumentError(f"{name}: the text is longer than {MAX_DOCUMENT_CHARS:,} "
                            f"characters") from None
    return out.build()


def _read(data: bytes, name: str, kind: str,
          extract: Callable[[bytes, str], Extracted]) -> Extracted:
    """Run a reader, turning any failure of a broken file into a reason the user can act on."""
    _check_archive(data, name, kind)
    try:
        return extract(data, name)
    except DocumentError:
        raise
    except Exception as exc:  # a broken file fails in many ways: say which file
        raise DocumentError(f"{name}: cannot read the {kind} file ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from exc


def _heading_level(style_name: str) -> int:
    """The outline level a Word paragraph style gives (0: not a heading; "Title" is level 1)."""
    if style_name.startswith("Title"):
        return 1
    if style_name.startswith("Heading"):
        digits = "".join(ch for ch in style_name if ch.isdigit())
        return int(digits) + 1 if digits else 2
    return 0


def _docx_items(document: object) -> Iterator[Item]:
    """A Word document's headings, paragraphs and table rows in reading order (a merged cell
    once; a cell holding a table of its own is read paragraph by paragraph)."""
    from docx.table import Table

    def walk(container: object, in_table: bool = False) -> Iterator[Item]:
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                yield from table(block)
                continue
            style = block.style.name if block.style is not None and block.style.name else ""
            level = 0 if in_table else _heading_level(style)
            yield (HEADING, block.text, level) if level else (TEXT, block.text, 0)

    def table(block: Table) -> Iterator[Item]:
        rows = list(block.rows)
        for number, row in enumerate(rows):
            seen: set[object] = set()  # the cells' XML elements, held so ids stay theirs
            cells = []
            for cell in row.cells:
                if cell._tc not in seen:
                    seen.add(cell._tc)
                    cells.append(cell)
            if any(cell.tables for cell in cells):
                for cell in cells:
                    yield from walk(cell, in_table=True)
                continue
            text = ROW_SEPARATOR.join(" ".join(cell.text.split()) for cell in cells)
            yield (TERM if number == 0 and len(rows) > 1 else ROW), text, 0

    yield from walk(document)


def _docx(data: bytes, name: str) -> Extracted:
    """Extract a Word document's text, titled by its properties or its first heading."""
    import docx

    document = docx.Document(io.BytesIO(data))
    text, layout = _lay_out(_docx_items(document), name)
    title = document.core_properties.title or ""
    if not title.strip():
        title = next((p.text for p in document.paragraphs if p.text.strip() and p.style is not None
                      and (p.style.name or "").startswith(("Title", "Heading"))), "")
    return Extracted(text, title.strip(), layout)


def _pptx_items(presentation: object) -> Iterator[Item]:
    """Each slide's title (a heading), text boxes, tables and notes, slide by slide."""
    def shape_items(shapes: Iterable[object], title: object) -> Iterator[Item]:
        for shape in shapes:
            if shape is title:
                continue
            if getattr(shape, "shapes", None) is not None:  # a group
                yield from shape_items(shape.shapes, title)
            if getattr(shape, "has_text_frame", False):
                yield from ((TEXT, p.text, 0) for p in shape.text_frame.paragraphs)
            if getattr(shape, "has_table", False):
                rows = list(shape.table.rows)
                for number, row in enumerate(rows):
                    text = ROW_SEPARATOR.join(" ".join(cell.text.split()) for cell in row.cells)
                    yield (TERM if number == 0 and len(rows) > 1 else ROW), text, 0

    for number, slide in enumerate(presentation.slides, 1):
        yield _NEW_SLIDE, "", number
        title = slide.shapes.title
        heading = " ".join(title.text.split()) if title is not None else ""
        yield HEADING, heading or f"Slide {number}", 1
        yield from shape_items(slide.shapes, title)
        notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
        if notes is not None and notes.text.strip():  # a notes page may lack its body
            yield HEADING, "Notes", 2
            yield from ((_NOTE, line, 0) for line in notes.text.splitlines())


def _pptx(data: bytes, name: str) -> Extracted:
    """Extract a presentation's text, titled by its properties or its first slide's title."""
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    text, layout = _lay_out(_pptx_items(presentation), name)
    title = presentation.core_properties.title or ""
    if not title.strip() and len(presentation.slides):
        heading = presentation.slides[0].shapes.title
        title = heading.text if heading is not None else ""
    return Extracted(text, " ".join(title.split()), layout)


def docx_to_text(data: bytes, name: str) -> Extracted:
    """Read a Word document's text and title."""
    return _read(data, name, "Word (.docx)", _docx)


def pptx_to_text(data: bytes, name: str) -> Extracted:
    """Read a PowerPoint presentation's text and title."""
    return _read(data, name, "PowerPoint (.pptx)", _pptx)


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_DC = "http://purl.org/dc/elements/1.1/"


def _odt_items(root: object) -> Iterator[Item]:
    """An OpenDocument text's headings and paragraphs (tables' and lists' included) in order;
    spaces, tabs and line breaks written as elements become white space."""
    blocks = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}
    gaps = {f"{{{_ODF_TEXT}}}s", f"{{{_ODF_TEXT}}}tab", f"{{{_ODF_TEXT}}}line-break"}

    def text_of(element: object) -> str:
        parts = [element.text or ""]
        for child in element:
            if child.tag in gaps:
                parts.append(" ")
            elif child.tag not in blocks:  # a span, link or note inside the paragraph
                parts.append(text_of(child))
            parts.append(child.tail or "")
        return "".join(parts)

    heading = f"{{{_ODF_TEXT}}}h"
    for element in root.iter(*blocks):
        # A paragraph inside another (a note's body) is read with its own.
        if not any(a.tag in blocks for a in element.iterancestors()):
            if element.tag == heading:
                level = element.get(f"{{{_ODF_TEXT}}}outline-level") or "1"
                yield HEADING, text_of(element), int(level) if level.isdigit() else 1
            else:
                yield TEXT, text_of(element), 0


def _odt(data: bytes, name: str) -> Extracted:
    """Extract an OpenDocument text, titled by its metadata or its first heading."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("content.xml"), parser)
        meta = archive.read("meta.xml") if "meta.xml" in archive.namelist() else b""
    text, layout = _lay_out(_odt_items(root), name)
    title = ""
    if meta:
        found = etree.fromstring(meta, parser).find(f".//{{{_ODF_DC}}}title")
        title = found.text or "" if found is not None else ""
    if not title.strip():
        heading = root.find(f".//{{{_ODF_TEXT}}}h")
        title = "".join(heading.itertext()) if heading is not None else ""
    return Extracted(text, " ".join(title.split()), layout)


def odt_to_text(data: bytes, name: str) -> Extracted:
    """Read an OpenDocument text's words and title."""
    return _read(data, name, "OpenDocument (.odt)", _odt)
