"""Document loading: formats, titles, ids and refusals."""

from __future__ import annotations

import pytest

from bench.harness import pdf_with_text
from qa.reading.documents import DocumentError, doc_id_from_name, make_document
from qa.reading.formats import parse_document


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
    doc = parse_document(pdf_with_text("The torch returned on November 11.", "Torch report"), "r.pdf")
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


@pytest.mark.parametrize("doc_id", ["../etc/passwd", "/abs", "a/b", "a" * 300, "x\x00y",
                                    ".hidden", ".."])
def test_path_like_or_odd_doc_ids_are_refused(doc_id):
    with pytest.raises(DocumentError, match="doc_id"):
        make_document("Some text here.", doc_id=doc_id)


def test_an_empty_doc_id_means_none_was_given():
    assert make_document("Some text here.", doc_id="").doc_id == \
        make_document("Some text here.").doc_id


def test_empty_text_is_refused_whatever_the_id():
    with pytest.raises(DocumentError, match="empty"):
        make_document("  \n ", doc_id="ok")


def test_ids_from_names_are_safe_and_stable():
    assert doc_id_from_name("../../etc/passwd") == "passwd"
    assert doc_id_from_name("Résumé 2024.md") == "Resume-2024"
    assert doc_id_from_name("дом.txt") == doc_id_from_name("дом.txt")
    assert doc_id_from_name("дом.txt").startswith("doc-")


def test_same_text_gets_the_same_generated_id():
    assert make_document("Same text.").doc_id == make_document("Same text.").doc_id
    assert make_document("Same text.").doc_id != make_document("Other text.").doc_id


def test_markdown_front_matter_files_the_document():
    doc = parse_document(b"""---
title: Harbour rules
collection: harbour
tags: [boats, fees]
published: 2024-03-01
berths: 40
---
# Rules

Dinghies pay five euros a night.
""", "rules.md")
    assert doc.title == "Harbour rules" and "berths" not in doc.text
    assert doc.metadata.collection == "harbour" and doc.metadata.tags == ("boats", "fees")
    assert doc.metadata.fields == {"berths": 40, "published": "2024-03-01"}
    with pytest.raises(DocumentError, match="rules.md: front matter: collection"):
        parse_document(b"---\ncollection: no spaces allowed\n---\nText here.\n", "rules.md")
