"""Questions about what a named option, setting or function does, answered by its entry's first sentence.

A manual's entry opens by saying what the thing does ("-p, --patch: Interactively choose hunks
of patch between the index and the work tree and add them to the index.") and goes on with
how it behaves, exceptions and pointers ("See “Interactive mode” for details.", "If no
<pathspec> is given when -u option is used, ..."). When a question asks what a thing it names
does ("What does git add -p do?", "What does the -j option of pg_restore do?") and the
ranking's first sentence stands in that thing's entry, the entry's first sentence goes just
above it, and speaks with its match when confidence is judged: the entry is what matched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qa.answering import features
from qa.storage.records import SentenceRow
from qa.text.words import code_names, named_keys

# "What does X do / mean / show / stand for?", "What is X for?", "What is X?" (X one word),
# where X is only the thing named ("git add -p", "the -j option of pg_restore"): a question
# that says more ("What does setting statement_timeout to zero do?") asks about one use of it,
# which a later sentence of the entry answers, and so does "What does X return?" ("The return
# value is ...", after "Join one or more path segments intelligently.").
_WHAT_IT_DOES = re.compile(
    r"^\s*what\s+(?:does|do|is|are)\s+(?P<thing>[^?]{1,80}?)\s+(?:do|mean|show|stand for|"
    r"(?:used |good )?for)\s*\?*\s*$|"
    r"^\s*what\s+(?:is|are)\s+(?P<name>\S+)\s*\?*\s*$", re.I)
_MORE_THAN_A_NAME = re.compile(
    r"\b(?:to|when|if|with|without|after|before|while|into|from|unless|once|set|setting|"
    r"given|passed|called)\b", re.I)
MOST_WORDS = 6  # "the -n option of git commit"
# How far above the entry's best-scored sentence its first sentence goes.
OPENER_LIFT = 0.5
_NAMED = [features.FEATURES.index("names_entry"), features.FEATURES.index("names_term")]


def asks_what_it_does(question: str) -> bool:
    """Say whether a question asks only what a thing does or means, which its entry's first
    sentence says."""
    m = _WHAT_IT_DOES.match(question)
    if not m:
        return False
    thing = m.group("thing") or m.group("name")
    if len(thing.split()) > MOST_WORDS or _MORE_THAN_A_NAME.search(thing):
        return False
    # "the -j option of pg_restore" asks about the option, whose entry the question names;
    # "the key argument of max()" about a part of max()'s entry, which its first sentence
    # does not describe.
    part, of, _ = thing.partition(" of ")
    return not of or bool(named_keys(part) or code_names(part))


def lift_opener(question: str, rows: Sequence[SentenceRow], ranking: np.ndarray,
                matrix: np.ndarray, opens: np.ndarray, stands_on: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Raise the first sentence of the entry the question names to just above the ranking's
    first sentence, when that one stands in the entry but does not open it and the question
    asks what the named thing does; the raised sentence stands on the first one's match."""
    if not len(rows) or len(opens) != len(rows) or not asks_what_it_does(question):
        return ranking, stands_on
    first = int(np.argmax(ranking))
    if opens[first] or not rows[first].context or not matrix[first, _NAMED].any():
        return ranking, stands_on
    where = (rows[first].doc_id, rows[first].context)
    opener = next((i for i, row in enumerate(rows)
                   if opens[i] and (row.doc_id, row.context) == where), None)
    if opener is None:
        return ranking, stands_on
    lifted, stands = ranking.copy(), stands_on.copy()
    lifted[opener], stands[opener] = ranking[first] + OPENER_LIFT, stands_on[first]
    return lifted, stands
