"""Readers for office documents: Word (.docx) and PowerPoint (.pptx), through python-docx and
python-pptx, and OpenDocument text (.odt), read from its XML with lxml.

Both formats are zip archives of XML. The archive is checked before any XML is parsed: a few KB
of zip can declare gigabytes of content (a zip bomb), and an encrypted Office file is not a zip
at all. The text keeps the document's reading order, one paragraph (or table cell, or slide
text box) per line, so sentences never run across them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator

from qa.reading.documents import MAX_DOCUMENT_CHARS, DocumentError, Extracted

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


def _collect(lines: Iterable[str], name: str) -> str:
    """Join non-blank lines, stopping as soon as the text passes the document limit."""
    out: list[str] = []
    total = 0
    for line in lines:
        line = " ".join(line.split())
        if not line:
            continue
        total += len(line) + 1
        if total > MAX_DOCUMENT_CHARS:
            raise DocumentError(f"{name}: the text is longer than {MAX_DOCUMENT_CHARS:,} "
                                f"characters")
        out.append(line)
    return "\n".join(out)


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


def _docx_lines(document: object) -> Iterator[str]:
    """A Word document's paragraphs and table cells in reading order (a merged cell once)."""
    from docx.table import Table

    def walk(container: object) -> Iterator[str]:
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                seen: set[object] = set()  # the cells' XML elements, held so ids stay theirs
                for row in block.rows:
                    for cell in row.cells:
                        if cell._tc not in seen:
                            seen.add(cell._tc)
                            yield from walk(cell)
            else:
                yield block.text

    yield from walk(document)


def _docx(data: bytes, name: str) -> Extracted:
    """Extract a Word document's text, titled by its properties or its first heading."""
    import docx

    document = docx.Document(io.BytesIO(data))
    text = _collect(_docx_lines(document), name)
    title = document.core_properties.title or ""
    if not title.strip():
        title = next((p.text for p in document.paragraphs if p.text.strip() and p.style is not None
                      and (p.style.name or "").startswith(("Title", "Heading"))), "")
    return Extracted(text, title.strip())


def _pptx_lines(presentation: object) -> Iterator[str]:
    """Each slide's text boxes, tables and notes, slide by slide."""
    def shape_lines(shapes: Iterable[object]) -> Iterator[str]:
        for shape in shapes:
            if getattr(shape, "shapes", None) is not None:  # a group
                yield from shape_lines(shape.shapes)
            if getattr(shape, "has_text_frame", False):
                yield from (p.text for p in shape.text_frame.paragraphs)
            if getattr(shape, "has_table", False):
                for row in shape.table.rows:
                    yield from (cell.text for cell in row.cells)

    for slide in presentation.slides:
        yield from shape_lines(slide.shapes)
        notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
        if notes is not None:  # a notes page may lack the body that holds them
            yield from notes.text.splitlines()


def _pptx(data: bytes, name: str) -> Extracted:
    """Extract a presentation's text, titled by its properties or its first slide's title."""
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    text = _collect(_pptx_lines(presentation), name)
    title = presentation.core_properties.title or ""
    if not title.strip() and len(presentation.slides):
        heading = presentation.slides[0].shapes.title
        title = heading.text if heading is not None else ""
    return Extracted(text, " ".join(title.split()))


def docx_to_text(data: bytes, name: str) -> Extracted:
    """Read a Word document's text and title."""
    return _read(data, name, "Word (.docx)", _docx)


def pptx_to_text(data: bytes, name: str) -> Extracted:
    """Read a PowerPoint presentation's text and title."""
    return _read(data, name, "PowerPoint (.pptx)", _pptx)


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_DC = "http://purl.org/dc/elements/1.1/"


def _odt_lines(root: object) -> Iterator[str]:
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

    for element in root.iter(*blocks):
        # A paragraph inside another (a note's body) is read with its own.
        if not any(a.tag in blocks for a in element.iterancestors()):
            yield text_of(element)


def _odt(data: bytes, name: str) -> Extracted:
    """Extract an OpenDocument text, titled by its metadata or its first heading."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("content.xml"), parser)
        meta = archive.read("meta.xml") if "meta.xml" in archive.namelist() else b""
    text = _collect(_odt_lines(root), name)
    title = ""
    if meta:
        found = etree.fromstring(meta, parser).find(f".//{{{_ODF_DC}}}title")
        title = found.text or "" if found is not None else ""
    if not title.strip():
        heading = root.find(f".//{{{_ODF_TEXT}}}h")
        title = "".join(heading.itertext()) if heading is not None else ""
    return Extracted(text, " ".join(title.split()))


def odt_to_text(data: bytes, name: str) -> Extracted:
    """Read an OpenDocument text's words and title."""
    return _read(data, name, "OpenDocument (.odt)", _odt)
