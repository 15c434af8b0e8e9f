"""Questions about what holds when nothing is set, answered by the entry's "The default is ..."

A manual describes a setting in an entry: a first sentence that matches the question's words
("Sets the planner's estimate of the cost of a non-sequentially-fetched disk page.") and, a few
sentences on, the short one that answers "what is it if I never changed it?" ("The default is
4.0."). Word and meaning matching rank the describing sentence first, since the default's
sentence shares almost no words with the question. When a question asks for the default, in
those words or in others ("out of the box", "if I never changed the setting", "unless I set
one"), a sentence that states a default takes its entry's best score, and a little more, and
speaks for its entry when confidence is judged: the entry is what matched the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qa.answering import features
from qa.storage.records import SentenceRow

# A sentence that gives a default's value ("The default is 4.0.", "100 is the default.", "5432
# by default", "Defaults to False.", "(the default)", "If omitted, ..."), not one that only
# names it ("This parameter controls the default isolation level") or a `default` argument
# ("If default is not provided, ...").
_GIVES_DEFAULT = re.compile(
    r"\bdefault(?:\s+\w+){0,2}\s+(?:is|are|was|will be)\b(?!\s+(?:not|given|provided|passed|"
    r"specified|supplied|omitted)\b)|\b(?:is|are|was|be) (?:the|its|their) "
    r"defaults?\b|\bby default\b|\bdefaults? to\b|\(the default\)|\bdefaults?:|"
    r"\b(?:if|when) (?:omitted|unspecified|unset|not (?:specified|given|set))\b", re.I)
# How far above its entry's best sentence the default's sentence goes, and how much of its own
# distance below that best it keeps (so that two sentences stating defaults keep their order).
DEFAULT_LIFT = 1.0
OWN_GAP_KEPT = 0.1


def asks_default(question: str) -> bool:
    """Say whether the question asks what holds when nothing was set: its answer is the
    sentence that states a default, which shares few words with the question."""
    return bool(features.question_types(question)["type_default"])


def gives_default(text: str) -> bool:
    """Say whether a sentence gives a default's value, which is what a question about the
    default wants quoted."""
    return bool(_GIVES_DEFAULT.search(text))


def lift_defaults(question: str, rows: Sequence[SentenceRow], ranking: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Raise each sentence that states a default to just above the best-scored sentence of
    its entry (same document, same headings or term), when the question asks for a default;
    sentences outside any entry (plain prose) are left as scored. Also says, for every
    candidate, which candidate's match it stands on: a raised sentence, its entry's best."""
    stands_on = np.arange(len(rows))
    if not asks_default(question):
        return ranking, stands_on
    best: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        if row.context:
            key = (row.doc_id, row.context)
            if key not in best or ranking[i] > ranking[best[key]]:
                best[key] = i
    lifted = ranking.copy()
    for i, row in enumerate(rows):
        if row.context and gives_default(row.text):
            top = best[(row.doc_id, row.context)]
            raised = ranking[top] + DEFAULT_LIFT - OWN_GAP_KEPT * (ranking[top] - ranking[i])
            if raised > ranking[i]:
                lifted[i], stands_on[i] = raised, top
    return lifted, stands_on


def read_with_entry(rows: Sequence[SentenceRow], best: int, stand: int,
                    opens: np.ndarray) -> str:
    """What the verifier reads as the answering sentence: a raised default's sentence after
    its entry's first sentence, which says what the entry is ("Maximum size to let the WAL
    grow during automatic checkpoints. The default is 1 GB."), or after `stand`, the entry
    sentence it stands on, when the first is no candidate; alone it says nothing of what was
    asked."""
    if stand == best:
        return rows[best].text
    key = (rows[best].doc_id, rows[best].context)
    first = next((i for i, row in enumerate(rows)
                  if (row.doc_id, row.context) == key and i < len(opens) and opens[i]), stand)
    # An entry's raised first sentence (`openers.lift_opener`) says what the entry is itself.
    return rows[best].text if first == best else f"{rows[first].text} {rows[best].text}"
