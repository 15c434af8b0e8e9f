"""Reading structure: real manual pages, Markdown, PDF and Word files come out as whole
sentences that know the headings, terms and column labels they stand under."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.harness import pdf_with_pages
from qa.reading.chunking import chunk_text
from qa.reading.formats import parse_document

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"


def read(name: str, data: bytes | None = None):
    """A fixture file read and chunked as indexing does: (document, sentences)."""
    doc = parse_document(data if data is not None else (PAGES / name).read_bytes(), name)
    return doc, chunk_text(doc.text, layout=doc.layout).sentences


def sentence(sentences, start: str):
    """The one sentence that opens with these words."""
    found = [s for s in sentences if s.text.startswith(start)]
    assert len(found) == 1, [s.text for s in sentences if start[:10] in s.text]
    return found[0]


@pytest.mark.parametrize("name", ["postgresql-resource-consumption.html",
                                  "python-built-in-functions.html",
                                  "python-sequence-operations.html"])
def test_every_sentence_slices_back_out_of_the_stored_text(name):
    doc, sentences = read(name)
    assert sentences
    for s in sentences:
        assert doc.text[s.start:s.end] == s.text


def test_a_docbook_page_reads_as_sentences_under_their_setting():
    doc, sentences = read("postgresql-resource-consumption.html")
    assert doc.title == "20.4. Resource Consumption"
    # The navigation bars above and below the page are not text.
    for furniture in ("Prev", "Up", "Next", "Home", "Submit correction"):
        assert furniture not in doc.text.split()
    # Written over several source lines with inline <code>: still one sentence.
    first = sentence(sentences, "Sets the base maximum amount of memory to be used by a query")
    assert first.text.endswith("before writing to temporary disk files.")
    assert first.context == ("20.4.1. Memory", "work_mem (integer)")
    default = sentence(sentences, "The default value is four megabytes")
    assert default.quotable and default.text == "The default value is four megabytes (4MB)."
    term = sentence(sentences, "work_mem (integer)")
    assert not term.quotable  # the term names the entry; it answers nothing by itself


def test_a_sphinx_page_keeps_definitions_under_their_signature_and_drops_its_furniture():
    doc, sentences = read("python-built-in-functions.html")
    assert doc.title == "Built-in Functions"  # not "... — Python 3.11.2 documentation"
    for furniture in ("Previous topic", "Next topic", "Copyright", "Quick search", "¶"):
        assert furniture not in doc.text
    default = sentence(sentences, "The default argument specifies an object to return")
    assert default.quotable and default.context == ("max(iterable, *, key=None)",)
    inline = sentence(sentences, "The key argument specifies a one-argument ordering function")
    assert inline.text.endswith("like that used for list.sort().")
    assert not any(s.quotable for s in sentences if s.text.startswith("max("))


def test_a_table_row_is_quoted_whole_under_its_column_labels():
    _, sentences = read("python-sequence-operations.html")
    row = sentence(sentences, "x in s |")
    assert row.text == "x in s | True if an item of s is equal to x, else False | (1)"
    assert row.quotable
    assert row.context == ("Common Sequence Operations", "Operation | Result | Notes")
    assert not sentence(sentences, "Operation | Result").quotable  # the labels themselves


def test_inline_elements_and_source_line_breaks_never_split_a_sentence():
    html = b"""<html><body><p>The default value is
      <code class="literal">replica</code>, which writes enough
      data to support <em>WAL archiving</em> and replication.</p>
      <p>Locks: acquires an <code>ACCESS EXCLUSIVE</code> lock on each table.<br>
      Short, yes.</p></body></html>"""
    doc, sentences = read("p.html", html)
    assert [s.text for s in sentences] == [
        "The default value is replica, which writes enough data to support WAL archiving and "
        "replication.",
        "Locks: acquires an ACCESS EXCLUSIVE lock on each table.", "Short, yes."]


def test_a_quotation_with_its_own_stop_and_an_option_s_dashes_stay_in_the_sentence():
    # As git's manual pages (asciidoc) write them: a quoted "amend!" inside a sentence, options
    # as terms, and a sentence that opens with a negative number.
    html = b"""<html><body><h2>OPTIONS</h2><div class="dlist"><dl>
      <dt class="hdlist1">-c &lt;commit&gt;</dt><dt class="hdlist1">--fixup=&lt;commit&gt;</dt>
      <dd><p>It creates an &#8220;amend!&#8221; commit with only a log message (ignoring any
      changes staged in the index). Neither "fixup!" nor "amend!" commits change authorship of
      &lt;commit&gt;.</p></dd>
      <dt class="hdlist1">--depth=&lt;n&gt;</dt>
      <dd><p>-1 means no limit. - A bullet written inline is still dropped.</p></dd>
      </dl></div></body></html>"""
    doc, sentences = read("git-commit.html", html)
    quotable = [s.text for s in sentences if s.quotable]
    assert quotable == [
        "It creates an \u201camend!\u201d commit with only a log message (ignoring any changes "
        "staged in the index).",
        'Neither "fixup!" nor "amend!" commits change authorship of <commit>.',
        "-1 means no limit.", "A bullet written inline is still dropped."]
    assert [s.text for s in sentences if not s.quotable][1:3] == ["-c <commit>", "--fixup=<commit>"]
    assert sentence(sentences, "-1 means").context[-1] == "--depth=<n>"


def test_code_is_kept_for_reading_but_never_quoted_and_short_statements_are():
    html = b"""<html><body><h1>Tuning</h1><h2>Costs</h2>
      <dl><dt>random_page_cost</dt><dd><p>The default is 4.0.</p>
      <p>Returns None.</p><p>Example:</p>
      <pre>SELECT split_part('abc,def,ghi,jkl', ',', -2);\n-- ghi</pre>
      <p><code>split_part('abc,def', ',', 1)</code> &#8594; <code>abc</code></p>
      </dd></dl><div class="admonition note"><p class="admonition-title">Note</p>
      <p>Raising it makes index scans look more expensive.</p></div></body></html>"""
    doc, sentences = read("t.html", html)
    assert "split_part('abc,def,ghi,jkl', ',', -2);\n-- ghi" in doc.text  # code keeps its lines
    quotable = [s.text for s in sentences if s.quotable]
    assert quotable == ["The default is 4.0.", "Returns None.",
                        "Raising it makes index scans look more expensive."]
    assert sentence(sentences, "The default is 4.0.").context == ("Costs", "random_page_cost")


def test_missing_end_tags_are_implied_as_a_browser_would():
    html = b"""<html><body><ul><li>First item says this<li>Second item says that</ul>
      <p>One paragraph never closed<p>Another one starts here.<table><tr><td>a<td>b</table>"""
    doc, _ = read("broken.html", html)
    assert doc.text.split("\n")[:4] == ["First item says this", "Second item says that",
                                        "One paragraph never closed", "Another one starts here."]


def test_a_page_that_is_only_navigation_is_read_rather_than_refused():
    doc, _ = read("nav.html", b"<html><body><nav><a href='a'>Getting started</a></nav></body></html>")
    assert "Getting started" in doc.text


def test_markdown_is_read_through_its_rendering():
    md = b"""---
layout: hidden front matter
---
# Harbour guide

The keeper lights the lamp
at dusk, every evening.

## Fees

| Boat | Fee |
|------|-----|
| Dinghy | 5 euros a night |

```
lamp --on
```
"""
    doc, sentences = read("guide.md", md)
    assert doc.title == "Harbour guide" and "front matter" not in doc.text
    assert sentence(sentences, "The keeper lights").text == \
        "The keeper lights the lamp at dusk, every evening."
    row = sentence(sentences, "Dinghy")
    assert row.quotable and row.text == "Dinghy | 5 euros a night"
    assert row.context == ("Fees", "Boat | Fee")
    assert not sentence(sentences, "lamp --on").quotable


def test_a_pdf_is_read_as_paragraphs_without_its_running_heads():
    pages = [
        ["Harbour Annual Report 2023", "Operations",
         "The keeper lit the lamp at dusk every evening of the year, except during",
         "the storm of March, when the generator failed. The boat came late twice",
         "in winter because of ice in the har-", "1"],
        ["Harbour Annual Report 2023", "bour mouth, which closed the channel for a week.",
         "Budget", "Fuel cost more than planned.", "2"],
        ["Harbour Annual Report 2023", "Outlook", "A new lens will be fitted in spring.", "3"],
    ]
    doc, sentences = read("report.pdf", pdf_with_pages(pages, "Harbour report"))
    assert "Annual Report" not in doc.text  # the header on every page
    assert "\n1\n" not in f"\n{doc.text}\n" and not doc.text.rstrip().endswith("3")
    assert sentence(sentences, "The keeper lit").text == (
        "The keeper lit the lamp at dusk every evening of the year, except during the storm "
        "of March, when the generator failed.")
    across = sentence(sentences, "The boat came late")  # over a line and a page break
    assert across.text.endswith("ice in the harbour mouth, which closed the channel for a week.")
    assert across.context == ("Operations",)
    assert sentence(sentences, "Fuel cost").context == ("Budget",)


def test_a_word_file_keeps_its_headings_and_table_labels():
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Harbour manual", level=1)
    document.add_heading("Fees", level=2)
    document.add_paragraph("Fees are paid at the harbour office.")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(table.rows[0].cells + table.rows[1].cells,
                          ["Boat", "Fee", "Dinghy", "5 euros a night"]):
        cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    doc, sentences = read("manual.docx", buffer.getvalue())
    assert sentence(sentences, "Fees are paid").context == ("Harbour manual", "Fees")
    row = sentence(sentences, "Dinghy")
    assert row.quotable and row.context == ("Harbour manual", "Fees", "Boat | Fee")


@pytest.mark.parametrize("junk", ["about:blank", "Untitled", "Microsoft Word - notes.docx",
                                  "Document1", "scan_0001.pdf"])
def test_a_pdf_titled_by_its_producer_is_titled_by_its_first_heading(junk):
    pages = [["Harbour fees", "Moorings cost five euros a night in the summer months."]]
    doc, _ = read("fees.pdf", pdf_with_pages(pages, junk))
    assert doc.title == "Harbour fees"


def location(sentence) -> dict:
    """A sentence's place in the original, as citations carry it."""
    import json

    return json.loads(sentence.location) if sentence.location else {}


def test_a_pdf_sentence_knows_its_page_and_one_over_a_break_both_pages():
    pages = [["Harbour report", "The harbour opened in spring after the long winter repairs."],
             ["Budget", "Fuel cost more than planned because the winter was long and the",
              "boats ran their engines for longer than usual."],
             ["Operations", "The keeper lit the lamp at dusk every evening of the year, except",
              "during the storm, when the generator failed and the lamp stayed dark for"],
             ["three nights. Repairs were finished on the fourth day."]]
    _, sentences = read("report.pdf", pdf_with_pages(pages))
    assert location(sentence(sentences, "The harbour opened")) == {"page": 1}
    assert location(sentence(sentences, "Fuel cost")) == {"page": 2}
    across = sentence(sentences, "The keeper lit")
    assert across.text.endswith("stayed dark for three nights.")
    assert location(across) == {"page": 3, "pages": [3, 4]}
    assert location(sentence(sentences, "Repairs were finished")) == {"page": 4}


def test_an_html_sentence_knows_the_anchor_above_it():
    _, sentences = read("postgresql-resource-consumption.html")
    assert location(sentence(sentences, "The default value is four megabytes"))["anchor"] == \
        "#GUC-WORK-MEM"
    _, sentences = read("python-built-in-functions.html")
    assert location(sentence(sentences, "The default argument specifies"))["anchor"] == "#max"


def test_a_slide_sentence_knows_its_slide_and_whether_it_is_in_the_notes():
    pptx = pytest.importorskip("pptx")
    deck = pptx.Presentation()
    for title, body, notes in (("Harbour", "The harbour opens at dawn every day.", ""),
                               ("Lamp", "The keeper lights the lamp at dusk.",
                                "Remind the keeper to carry a spare wick at all times.")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    deck.save(buffer)
    _, sentences = read("deck.pptx", buffer.getvalue())
    assert location(sentence(sentences, "The harbour opens")) == {"slide": 1}
    assert location(sentence(sentences, "The keeper lights")) == {"slide": 2}
    assert location(sentence(sentences, "Remind the keeper")) == {"slide": 2, "notes": True}
    assert sentence(sentences, "Remind the keeper").context == ("Lamp", "Notes")


def test_a_first_heading_that_only_adds_to_the_title_is_not_a_section():
    page = b"""<html><head><title>git-frob(1)</title></head><body>
<div id="header"><h1>git-frob(1) Manual Page</h1></div>
<h2>OPTIONS</h2><dl><dt>--quiet</dt><dd><p>Print nothing but errors.</p></dd></dl>
</body></html>"""
    doc, sentences = read("git-frob.html", page)
    assert doc.title == "git-frob(1)"
    assert sentence(sentences, "Print nothing").section == "OPTIONS › --quiet"


def test_the_code_a_lead_in_introduces_is_every_code_block_right_after_it():
    from qa.reading.layout import CODE, TEXT, Block, Layout

    layout = Layout((Block(0, 20, TEXT), Block(21, 40, CODE), Block(41, 60, CODE),
                     Block(61, 80, TEXT), Block(81, 90, CODE)))
    assert layout.code_after(20) == (21, 60)  # both samples, not the one after the prose
    assert layout.code_after(60) is None  # prose comes next
    assert layout.code_after(80) == (81, 90)
    assert layout.code_after(90) is None  # nothing after the last block
