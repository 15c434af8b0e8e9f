"""Word and PowerPoint files: read through one registry, answered with exact citations."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from qa.reading.documents import DocumentError
from qa.reading.formats import SUPPORTED_SUFFIXES, parse_document

docx = pytest.importorskip("docx")
pptx = pytest.importorskip("pptx")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def word_file(title: str = "") -> bytes:
    """A Word document with a heading, paragraphs (one with an emoji) and a table."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Harbour log", level=1)
    document.add_paragraph("The lighthouse keeper 🌊 lit the lamp every night at dusk.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Ferry"
    table.cell(0, 1).text = "The ferry to the island left at seven in the morning."
    table.cell(1, 0).merge(table.cell(1, 1)).text = "A merged cell about the storm of March."
    document.add_paragraph("The harbour master kept the tide tables in a green ledger.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def slides_file() -> bytes:
    """A presentation: a title slide, a bullet slide with notes, and a table."""
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Orchard report"
    first.placeholders[1].text = "Autumn season"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Harvest"
    second.placeholders[1].text = "The pickers gathered forty crates of apples on Tuesday."
    second.notes_slide.notes_text_frame.text = "The cider press broke down on Wednesday."
    from pptx.util import Inches

    table = deck.slides.add_slide(deck.slide_layouts[5]).shapes.add_table(
        2, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    table.cell(0, 0).text = "Pears"
    table.cell(0, 1).text = "The pear trees were pruned in the first week of February."
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def odt_file(title: str = "") -> bytes:
    """An OpenDocument text written by hand: a heading, a paragraph with a span and spaces, a
    table cell and a list item."""
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}>'
               '<office:body><office:text><text:h text:outline-level="1">Mill ledger</text:h>'
               '<text:p>The miller ground <text:span>ninety sacks</text:span> of wheat'
               '<text:s/>in the dry week of August.</text:p>'
               '<table:table><table:table-row><table:table-cell><text:p>The wheel was mended '
               'by the smith in May.</text:p></table:table-cell></table:table-row></table:table>'
               '<text:list><text:list-item><text:p>The flour went to the harbour by cart.'
               '</text:p></text:list-item></text:list></office:text></office:body>'
               '</office:document-content>')
    meta = ('<?xml version="1.0" encoding="UTF-8"?><office:document-meta '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta>'
            f'<dc:title>{title}</dc:title></office:meta></office:document-meta>')
    return zip_with({"mimetype": b"application/vnd.oasis.opendocument.text",
                     "content.xml": content.encode(), "meta.xml": meta.encode()})


def test_office_formats_are_in_the_one_list_of_readers():
    assert {".docx", ".pptx", ".odt"} <= set(SUPPORTED_SUFFIXES)


def test_an_opendocument_text_reads_in_order_with_its_title():
    doc = parse_document(odt_file("Miller's year"), "mill.odt")
    assert doc.title == "Miller's year"
    assert doc.text.splitlines() == [
        "Mill ledger", "The miller ground ninety sacks of wheat in the dry week of August.",
        "The wheel was mended by the smith in May.", "The flour went to the harbour by cart."]
    assert parse_document(odt_file(), "mill.odt").title == "Mill ledger"
    with pytest.raises(DocumentError, match="cannot read the OpenDocument"):
        parse_document(zip_with({"mimetype": b"x"}), "empty.odt")


def test_a_word_file_reads_in_order_with_its_title():
    doc = parse_document(word_file("Keeper's notes"), "log.docx")
    assert doc.title == "Keeper's notes" and doc.doc_id == "log"
    lines = doc.text.splitlines()
    assert lines[0] == "Harbour log"
    order = ["lit the lamp", "ferry to the island", "merged cell", "green ledger"]
    positions = [doc.text.index(s) for s in order]
    assert positions == sorted(positions)
    assert doc.text.count("merged cell") == 1  # a merged cell once, not once per grid square
    # Without a title in its properties, the first heading names it.
    assert parse_document(word_file(), "log.docx").title == "Harbour log"


def test_a_presentation_reads_slides_tables_and_notes():
    doc = parse_document(slides_file(), "orchard.pptx")
    assert doc.title == "Orchard report"
    for said in ("forty crates of apples", "cider press broke down", "pear trees were pruned"):
        assert said in doc.text


UPLOADS = {  # file -> (made by, question, what the quoted sentence says)
    "notes.docx": (word_file, "What did the keeper light every night?", "lamp"),
    "deck.pptx": (slides_file, "How many crates of apples did the pickers gather?",
                  "forty crates"),
    "mill.odt": (odt_file, "How many sacks of wheat did the miller grind?", "ninety sacks"),
}


@pytest.mark.parametrize("name", UPLOADS)
def test_uploaded_office_files_are_answered_with_exact_citations(client, name):
    make, question, said = UPLOADS[name]
    r = client.post("/v1/documents", files=[("files", (name, make(), "application/octet-stream"))])
    assert r.status_code == 200, r.text
    body = client.post("/v1/answer", json={"question": question}).json()
    citation = body["answers"][0]["citation"]
    assert citation["doc_id"] == name.split(".")[0]
    text = client.get(f"/v1/documents/{citation['doc_id']}").json()["text"]
    assert text[citation["start"]:citation["end"]] == body["answers"][0]["text"]
    assert said in body["answers"][0]["text"]


def test_qa_add_reads_office_files_from_a_folder(cli, tmp_path):
    folder = tmp_path / "office"
    folder.mkdir()
    (folder / "log.docx").write_bytes(word_file())
    (folder / "orchard.pptx").write_bytes(slides_file())
    r = cli("add", str(folder))
    assert r.exit_code == 0 and "added 2" in r.output, r.output
    r = cli("ask", "When did the cider press break down?", "--json", "--no-seeds")
    body = json.loads(r.stdout)
    assert body["answers"][0]["citation"]["doc_id"] == "orchard"
    assert "Wednesday" in body["answers"][0]["text"]


def zip_with(members: dict[str, bytes]) -> bytes:
    """A zip archive holding the given members, compressed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("make,reason", [
    (lambda: b"this is not a zip archive at all", "not a Word (.docx) file"),
    (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "encrypted"),
    (lambda: zip_with({"hello.txt": b"hi"}), "cannot read the Word (.docx) file"),
    (lambda: zip_with({"word/document.xml": b"\0" * 210_000_000}), "unpacks to 210 MB"),
])
def test_broken_encrypted_and_bomb_word_files_are_refused_with_a_reason(client, make, reason):
    data = make()
    with pytest.raises(DocumentError, match=re.escape(reason)):
        parse_document(data, "bad.docx")
    r = client.post("/v1/documents", files=[("files", ("bad.docx", data, DOCX))])
    assert r.status_code == 422 and reason in r.json()["detail"], r.text
    assert client.get("/v1/documents").json()["documents"] == []


def test_a_broken_presentation_is_refused_with_a_reason(client):
    r = client.post("/v1/documents", files=[("files", ("deck.pptx", b"PK\x03\x04 broken", PPTX))])
    assert r.status_code == 422 and "deck.pptx" in r.json()["detail"]
