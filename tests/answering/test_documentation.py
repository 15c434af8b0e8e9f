"""Answering from manuals: real documentation pages, quoted sentence by sentence, cited with
their section, and questions about names the pages never mention turned away."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answering.verification import Evidence, unmet_identifiers
from qa.app.service import Verbatim
from qa.config import Settings
from qa.reading.formats import parse_document

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory, embedder) -> Verbatim:
    """A service holding the real manual pages kept as fixtures (DocBook, Sphinx, asciidoc):
    parts of PostgreSQL's resource settings and glossary, Python's built-in functions and
    sequence operations, git status's manual page."""
    svc = Verbatim(Settings(data_dir=tmp_path_factory.mktemp("manual")), embedder=embedder)
    svc.warm_up()
    report = svc.add_paths(sorted(PAGES.glob("*.html")))
    assert not report.failed and len(report.added) == 5
    return svc


@pytest.mark.parametrize("question, quote, section", [
    ("What is the default value of work_mem?", "The default value is four megabytes (4MB).",
     ["20.4.1. Memory", "work_mem (integer)"]),
    ("What does max() return for an empty iterable when a default is given?",
     "The default argument specifies an object to return if the provided iterable is empty.",
     ["max(iterable, *, key=None)"]),
    # Asked for the default in other words: the entry's "The default is ..." sentence answers.
    ("How much memory can a sort use before writing to temporary files if I never changed the "
     "setting?", "The default value is four megabytes (4MB).", ["20.4.1. Memory", "work_mem (integer)"]),
    ("How many temporary buffers does each session get unless I set it?",
     "The default is eight megabytes (8MB).", ["20.4.1. Memory", "temp_buffers (integer)"]),
    # An option named as written: "-s" is no word the searches could match.
    ("What does git status -s show?", "Give the output in the short-format.",
     ["OPTIONS", "-s, --short"]),
    # Asked what a named thing does: its entry's first sentence, not a later pointer ("See
    # below for details.", "See also git-diff(1) --find-renames.") or a detail.
    ("What does git status --porcelain do?",
     "Give the output in an easy-to-parse format for scripts.",
     ["OPTIONS", "--porcelain[=<version>]"]),
    ("What does git status --find-renames do?",
     "Turn on rename detection, optionally setting the similarity threshold.",
     ["OPTIONS", "--find-renames[=<n>]"]),
    ("What does temp_buffers do?",
     "Sets the maximum amount of memory used for temporary buffers within each database session.",
     ["20.4.1. Memory", "temp_buffers (integer)"]),
    # Asked which thing does something: the first sentence of an entry the question does not
    # name, which says what that thing does, not a later detail of the entry.
    ("Which setting controls how much memory a sort may use before writing to temporary files?",
     "Sets the base maximum amount of memory to be used by a query operation (such as a sort or "
     "hash table) before writing to temporary disk files.",
     ["20.4.1. Memory", "work_mem (integer)"]),
    ("Is there an option that shows untracked files?", "Show untracked files.",
     ["OPTIONS", "-u[<mode>], --untracked-files[=<mode>]"]),
    ("Which function returns the largest item in an iterable?",
     "Return the largest item in an iterable or the largest of two or more arguments.",
     ["max(iterable, *, key=None)"]),
    # Asked what a term is: the glossary entry's definition, not its closing pointer ("For more
    # information, see SAVEPOINT.") nor a later sentence of it.
    ("What is a savepoint?", "A special mark in the sequence of steps in a transaction.",
     ["Savepoint"]),
    ("What is a materialized view?", "A relation that is defined by a SELECT statement (just "
     "like a view), but stores data in the same way that a table does.",
     ["Materialized view (relation)"]),
    ("What is a role?", "A collection of access privileges to the instance.", ["Role"]),
    ("Which operation gives the concatenation of two sequences?",
     "s + t | the concatenation of s and t | (6)(7)",
     ["Common Sequence Operations", "Operation | Result | Notes"]),
])
def test_a_manual_answers_with_the_sentence_and_the_section_it_stands_in(manual, question,
                                                                          quote, section):
    result = manual.ask(question)
    assert not result.abstained, result
    assert result.answer == quote
    citation = result.answers[0].citation
    assert citation.section == section
    assert manual.get_document(citation.doc_id).text[citation.start:citation.end] == quote


def test_asked_what_a_command_does_the_page_named_after_it_answers_with_its_first_sentence(manual):
    # The page git-status(1) opens by saying what the command does; a later sentence that
    # repeats "this command" matched the question better.
    result = manual.ask("What does the git status command do?")
    assert result.answer.startswith("Displays paths that have differences between the index "
                                    "file and the current HEAD commit")
    assert result.answers[0].citation.section == ["DESCRIPTION"]


@pytest.mark.parametrize("question", [
    "How do I use the @override decorator from the typing module?",
    "What is the default timeout of requests.get() in the requests library?",
    "How much memory does pgbouncer_pool_size reserve?",
])
def test_a_question_about_a_name_the_manual_never_writes_abstains(manual, question):
    result = manual.ask(question)
    assert result.abstained and result.answer is None
    assert result.answers  # still shows what the pages do say, as related


def test_a_name_is_met_only_word_for_word_in_the_quote_its_headings_or_passage():
    evidence = Evidence("Open a URL.", "urllib.request.urlopen(url) opens a URL.",
                        "urllib.request › urlopen()")
    assert unmet_identifiers("What does urllib.request.urlopen() return?", evidence) == []
    assert unmet_identifiers("What does requests.get() return?", evidence) == ["requests.get()"]
    assert unmet_identifiers("Can I pass -m to it?", evidence) == ["-m"]
    # A stand-in of the user's own names nothing the documents could write.
    assert unmet_identifiers("Can urlopen() finish with return some_value?", evidence) == []
    assert unmet_identifiers("Does my_list.sort() sort in place?", evidence) == ["my_list.sort()"]
    assert unmet_identifiers("What is an old-style URL?", evidence) == []  # no option there
    assert unmet_identifiers("Which is faster, NumPy or a list?", evidence) == ["NumPy"]


def test_a_citation_says_where_in_the_original_the_quote_stands(manual):
    citation = manual.ask("What is the default value of work_mem?").answers[0].citation
    assert citation.location == {"anchor": "#GUC-WORK-MEM"}


def test_a_pdf_citation_carries_its_page(service):
    from bench.harness import pdf_with_pages

    pages = [["Harbour report", "The harbour opened in spring after the winter repairs."],
             ["Budget", "Fuel cost more than planned in the second quarter of the year."],
             ["Outlook", "A new lens for the lighthouse will be fitted next spring."]]
    service.add_documents([parse_document(pdf_with_pages(pages), "report.pdf")])
    result = service.ask("When will the new lighthouse lens be fitted?")
    assert result.answer == "A new lens for the lighthouse will be fitted next spring."
    assert result.answers[0].citation.location == {"page": 3}


def test_an_option_s_entry_is_forgotten_with_its_page(service):
    service.add_paths([PAGES / "git-status.html"])
    before = service.ask("What does git status -s show?")
    assert before.answer == "Give the output in the short-format."
    assert service.remove(before.answers[0].citation.doc_id)
    after = service.ask("What does git status -s show?")
    assert after.answer is None and not after.answers  # nothing left to quote, no error


GUIDE = b"""# Harbour tools

## Renaming a mooring

To rename a mooring in the harbour ledger:

```
ledger rename-mooring north-7 seal-point
```

The ledger keeps the old name as an alias for a year.

## Closing the ledger

Close the ledger at the end of each tide so that entries are written to disk.
"""


def test_a_quote_that_introduces_a_code_sample_comes_with_it(service):
    doc = parse_document(GUIDE, "harbour-guide.md")
    service.add_documents([doc])
    result = service.ask("How do I rename a mooring in the harbour ledger?")
    best = result.answers[0]
    assert result.answer == "To rename a mooring in the harbour ledger:"
    assert best.follows == "ledger rename-mooring north-7 seal-point"
    # Verbatim, right after the quote: nothing in between but white space.
    text = service.get_document(best.citation.doc_id).text
    at = text.index(best.follows, best.citation.end)
    assert not text[best.citation.end:at].strip()
    # A quote that introduces nothing carries nothing.
    other = service.ask("What does the ledger keep the old name as?")
    assert other.answer == "The ledger keeps the old name as an alias for a year."
    assert other.answers[0].follows == ""


def test_a_page_s_first_sentence_is_the_first_that_says_what_not_when(service):
    page = (b"# pathfinder \xe2\x80\x94 charts between harbours\n\nNew in version 3.4.\n\n"
            b"The pathfinder module charts safe courses between two harbours.\n\n"
            b"## Notes\n\nThe pathfinder module reads tide tables once per run, so a course "
            b"charted before a tide table changes keeps the old tides.\n")
    service.add_documents([parse_document(page, "pathfinder.md")])
    result = service.ask("What does the pathfinder module do?")
    assert result.answer == "The pathfinder module charts safe courses between two harbours."
