"""The PDF reader: page text (pypdf) and the metadata title, refusing PDFs built to exhaust it."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from qa.reading import documents
from qa.reading.documents import DocumentError, Extracted

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
    return Extracted("\n\n".join(p.strip() for p in pages if p.strip()), str(meta_title))
