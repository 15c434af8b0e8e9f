"""A question about what holds when nothing is set is answered by its entry's default."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answering.defaults import DEFAULT_LIFT, asks_default, gives_default, lift_defaults, read_with_entry
from qa.reading.layout import STORED_SEPARATOR
from qa.storage.records import SentenceRow

WORK_MEM = STORED_SEPARATOR.join(["20.4.1. Memory", "work_mem (integer)"])
TEMP_BUFFERS = STORED_SEPARATOR.join(["20.4.1. Memory", "temp_buffers (integer)"])
ROWS = [
    SentenceRow(0, "doc", 0, 0, 0, 10, "Sets the base maximum amount of memory used by a sort.",
                context=WORK_MEM),
    SentenceRow(1, "doc", 1, 0, 10, 20, "The default value is four megabytes (4MB).",
                context=WORK_MEM),
    SentenceRow(2, "doc", 2, 0, 20, 30, "The default is eight megabytes (8MB).",
                context=TEMP_BUFFERS),
    SentenceRow(3, "doc", 3, 0, 30, 40, "By default, sorts spill to disk.", context=""),
]
SCORES = np.array([9.0, 4.0, 3.0, 5.0], np.float32)


@pytest.mark.parametrize("question", [
    "What is the default of work_mem?",
    "How much memory can a sort use if I never changed the setting?",
    "How big can the WAL grow when nobody tuned it?",
    "Which wal_level does a fresh cluster use?",
    "Which index method does CREATE INDEX pick when I don't name one?",
    "What fillfactor do tables get unless I set one?",
    "How often does it checkpoint if I leave the timeout alone?",
])
def test_a_question_asks_for_the_default_in_many_words(question):
    assert asks_default(question)


@pytest.mark.parametrize("question", [
    "How much memory can a sort use?",
    "Why can't I pass a str directly to update()?",
    "Can I set the port in a file?",
    "How do I change the default port?",
])
def test_a_question_that_asks_something_else_does_not(question):
    assert not asks_default(question)


def test_the_default_of_the_best_matching_entry_goes_first_and_stands_on_its_entry():
    question = "How much memory can a sort use if I never changed the setting?"
    lifted, stands_on = lift_defaults(question, ROWS, SCORES)
    assert int(np.argmax(lifted)) == 1
    assert stands_on.tolist() == [0, 0, 2, 3]  # another entry's default stands on its own
    assert lifted[2] == SCORES[2] + DEFAULT_LIFT < lifted[1]
    assert lifted[3] == SCORES[3]  # prose outside any entry is left as scored
    # Read after the entry's first sentence, which says what the setting is.
    assert read_with_entry(ROWS, 1, int(stands_on[1]), np.array([1, 0, 1, 1])) == (
        "Sets the base maximum amount of memory used by a sort. "
        "The default value is four megabytes (4MB).")


def test_a_question_not_asking_for_the_default_keeps_its_ranking():
    lifted, stands_on = lift_defaults("How much memory can a sort use?", ROWS, SCORES)
    assert lifted.tolist() == SCORES.tolist() and stands_on.tolist() == [0, 1, 2, 3]
    assert read_with_entry(ROWS, 1, int(stands_on[1]), np.array([1, 0, 1, 1])) == ROWS[1].text


@pytest.mark.parametrize("text, gives", [
    ("The default is 4.0.", True),
    ("The default method is btree.", True),
    ("100 (complete packing) is the default.", True),
    ("A value of zero (the default) disables the timeout.", True),
    ("Read Committed is the default isolation level in PostgreSQL.", True),
    ("Defaults to False.", True),
    ("If omitted, the current directory is used.", True),
    ("This parameter controls the default isolation level of each new transaction.", False),
    ("Changed in version 3.7: Default value of repeat changed from 3 to 5.", False),
    ("If the iterable is empty and default is not provided, a ValueError is raised.", False),
])
def test_only_a_sentence_that_gives_the_default_s_value_answers(text, gives):
    assert gives_default(text) is gives


def test_the_verifier_reads_the_default_after_its_entry_s_first_sentence():
    rows = [ROWS[0],
            SentenceRow(4, "doc", 4, 0, 40, 50, "Note that a sort may use this much several times.",
                        context=WORK_MEM),
            ROWS[1]]
    question = "How much memory can a sort use if I never changed the setting?"
    lifted, stands_on = lift_defaults(question, rows, np.array([5.0, 9.0, 4.0], np.float32))
    assert int(np.argmax(lifted)) == 2 and stands_on[2] == 1  # it stands on the best match
    assert read_with_entry(rows, 2, int(stands_on[2]), np.array([1, 0, 0])) == (
        "Sets the base maximum amount of memory used by a sort. "
        "The default value is four megabytes (4MB).")
    # Without its first sentence among the candidates, after the sentence it stands on.
    assert read_with_entry(rows, 2, int(stands_on[2]), np.array([0, 0, 0])).startswith("Note that")
