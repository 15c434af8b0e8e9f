"""Document loading: formats, titles, ids and refusals."""

from __future__ import annotations

import pytest

from qa.documents import DocumentError, doc_id_from_name, make_document, parse_document


def _pdf(text: str, title: str = "") -> bytes:
    """Write a minimal one-page PDF with a line of text (and optionally a metadata title)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    return pdf_file(objects, info=len(objects) if title else None)


def pdf_file(objects: list[bytes], info: int | None = None) -> bytes:
    """Lay numbered objects out as a PDF file (object 1 the catalog) with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer_info = b" /Info %d 0 R" % info if info else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer_info, xref)
    return bytes(out)


def test_text_file_title_is_first_line_and_id_from_name():
    doc = parse_document(b"My Title\n\nThe body says something.", "notes/My File.txt")
    assert doc.title == "My Title"
    assert doc.doc_id == "My-File"
    assert "The body says something." in doc.text


def test_html_drops_scripts_and_styles_and_uses_title_tag():
    html = b"""<html><head><title>Launch day</title><style>p{color:red}</style></head>
    <body><script>alert('x')</script><h1>Heading</h1><p>The rocket launched on Thursday.</p>
    </body></html>"""
    doc = parse_document(html, "page.html")
    assert doc.title == "Launch day"
    assert "The rocket launched on Thursday." in doc.text
    assert "alert" not in doc.text and "color:red" not in doc.text


def test_pdf_text_and_metadata_title():
    doc = parse_document(_pdf("The torch returned on November 11.", "Torch report"), "r.pdf")
    assert doc.title == "Torch report"
    assert "The torch returned on November 11." in doc.text


@pytest.mark.parametrize("data,name,reason", [
    (b"\x00\x01\x02binary", "x.txt", "binary"),
    (b"hello", "x.exe", "unsupported"),
    (b"random bytes, not a pdf", "x.pdf", "not a PDF"),
    (b"   \n\n  ", "x.txt", "no text"),
])
def test_bad_files_are_refused_with_a_reason(data, name, reason):
    with pytest.raises(DocumentError, match=reason):
        parse_document(data, name)


@pytest.mark.parametrize("doc_id", ["../etc/passwd", "/abs", "a/b", "", "a" * 300, "x\x00y",
                                    ".hidden"])
def test_path_like_or_odd_doc_ids_are_refused(doc_id):
    with pytest.raises(DocumentError):
        make_document("Some text here.", doc_id=doc_id or None) if doc_id else \
            make_document("", doc_id="ok")


def test_ids_from_names_are_safe_and_stable():
    assert doc_id_from_name("../../etc/passwd") == "passwd"
    assert doc_id_from_name("Résumé 2024.md") == "Resume-2024"
    assert doc_id_from_name("дом.txt") == doc_id_from_name("дом.txt")
    assert doc_id_from_name("дом.txt").startswith("doc-")


def test_same_text_gets_the_same_generated_id():
    assert make_document("Same text.").doc_id == make_document("Same text.").doc_id
    assert make_document("Same text.").doc_id != make_document("Other text.").doc_id
