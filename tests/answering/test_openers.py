"""A question about what a named option does is answered by its entry's first sentence."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answering import features
from qa.answering.defaults import read_with_entry
from qa.answering.openers import OPENER_LIFT, lift_opener, lift_page_lead
from qa.reading.layout import STORED_SEPARATOR
from qa.storage.records import SentenceRow
from qa.text.asked import asks_what_it_does, named_page, page_name

PATCH = STORED_SEPARATOR.join(["OPTIONS", "-p, --patch"])
UPDATE = STORED_SEPARATOR.join(["OPTIONS", "-u, --update"])
ROWS = [
    SentenceRow(0, "git-add", 0, 0, 0, 10, "Interactively choose hunks of patch between the "
                "index and the work tree and add them to the index.", context=PATCH),
    SentenceRow(1, "git-add", 1, 0, 10, 20, "See “Interactive mode” for details.",
                context=PATCH),
    SentenceRow(2, "git-add", 2, 0, 20, 30, "Update the index just where it already has an "
                "entry matching <pathspec>.", context=UPDATE),
    SentenceRow(3, "git-add", 3, 0, 30, 40, "If no <pathspec> is given when -u option is "
                "used, all tracked files are updated.", context=UPDATE),
]
OPENS = np.array([1, 0, 1, 0], np.float32)
NAMES_ENTRY = features.FEATURES.index("names_entry")


def _named(*rows: int) -> np.ndarray:
    """A feature matrix where the question names the entries of `rows`."""
    matrix = np.zeros((len(ROWS), len(features.FEATURES)), np.float32)
    matrix[list(rows), NAMES_ENTRY] = 1.0
    return matrix


@pytest.mark.parametrize("question, asks", [
    ("What does git add -p do?", True),
    ("What does the -j option of pg_restore do?", True),
    ("What is the --patch option for?", True),
    ("What is work_mem?", True),
    ("What is a savepoint?", True),  # a term of two words at most, after its article
    ("What is a materialized view?", True),
    # One use of the thing, a part of its entry, what it returns, or something else.
    ("What does setting statement_timeout to zero do?", False),
    ("What does the LIKE operator do when the pattern has no percent signs or underscores?",
     False),
    ("How do I use git add -p?", False),
    ("What is the capital of France?", False),
    ("What is the name of the mascot?", False),
    ("What is a good way to store money?", False),
    ("What does the key argument of max() do?", False),
    ("What does os.path.join return?", False),
])
def test_a_question_asks_what_a_named_thing_does_and_nothing_more(question, asks):
    assert asks_what_it_does(question) == asks


def test_the_named_entry_s_first_sentence_goes_above_a_later_one_and_stands_on_its_match():
    scores = np.array([5.0, 9.0, 4.0, 3.0], np.float32)
    lifted, stands_on = lift_opener("What does git add -p do?", ROWS, scores, _named(0, 1),
                                    OPENS, np.arange(4))
    assert int(np.argmax(lifted)) == 0 and lifted[0] == scores[1] + OPENER_LIFT
    assert stands_on.tolist() == [1, 1, 2, 3]
    assert lifted[2:].tolist() == scores[2:].tolist()  # another entry keeps its scores
    # The verifier reads the first sentence alone: it says what the entry is.
    assert read_with_entry(ROWS, 0, 1, OPENS) == ROWS[0].text


def test_the_ranking_stands_unless_the_first_sentence_is_in_a_named_entry_it_does_not_open():
    scores = np.array([5.0, 9.0, 4.0, 3.0], np.float32)
    same = np.arange(4)
    for question, matrix, opens in [
            ("How do I choose hunks with git add -p?", _named(0, 1), OPENS),  # not "what does"
            ("What does git add -p do?", _named(), OPENS),  # the question names no entry
            ("What does git add -p do?", _named(0, 1), np.ones(4, np.float32))]:  # it opens
        lifted, stands_on = lift_opener(question, ROWS, scores, matrix, opens, same)
        assert lifted.tolist() == scores.tolist() and stands_on.tolist() == same.tolist()


@pytest.mark.parametrize("title, name", [
    ("shutil — High-level file operations", "shutil"),
    ("git-status(1)", "git status"),
    ("CLUSTER", "cluster"),
    ("Built-in Functions", "built in functions"),
])
def test_a_page_is_named_as_a_question_writes_its_subject(title, name):
    assert page_name(title) == name


@pytest.mark.parametrize("question, page", [
    ("What does the CLUSTER command do?", "cluster"),
    ("What does the shutil module do?", "shutil"),
    ("What does git status do?", "git status"),
    ("What is psql?", "psql"),
    ("What does setting statement_timeout to zero do?", None),
    ("How do I cluster a table?", None),
])
def test_a_question_names_the_page_it_asks_about(question, page):
    assert named_page(question) == page


def test_the_first_sentence_of_the_page_a_question_names_goes_first():
    rows = [SentenceRow(7, "sql-cluster", 5, 0, 0, 10, "CLUSTER instructs PostgreSQL to cluster "
                        "the table specified by table_name.", context="Description"),
            SentenceRow(8, "app-clusterdb", 4, 0, 0, 10, "clusterdb is a wrapper around the SQL "
                        "command CLUSTER.", context="Description")]
    scores = np.array([2.0, 9.0], np.float32)
    lifted, stands_on = lift_page_lead(rows, scores, 7, np.arange(2))
    assert int(np.argmax(lifted)) == 0 and lifted[0] == scores[1] + OPENER_LIFT
    assert stands_on.tolist() == [1, 1]
    # No page asked about (or its first sentence already first): the ranking stands.
    for lead in (-1, 8):
        lifted, stands_on = lift_page_lead(rows, scores, lead, np.arange(2))
        assert lifted.tolist() == scores.tolist() and stands_on.tolist() == [0, 1]
