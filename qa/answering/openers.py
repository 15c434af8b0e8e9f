"""Questions about what a named thing does, answered by the first sentence of its entry or page.

A manual's entry opens by saying what the thing does ("-p, --patch: Interactively choose hunks
of patch between the index and the work tree and add them to the index.") and goes on with
how it behaves, exceptions and pointers ("See “Interactive mode” for details.", "If no
<pathspec> is given when -u option is used, ..."); a reference page named after a command or a
module does the same ("CLUSTER instructs PostgreSQL to cluster the table ...", "The shutil
module offers ..."). When a question asks what a thing it names does ("What does git add -p
do?", "What does the CLUSTER command do?"), that first sentence goes just above the ranking's
first, and speaks with its match when confidence is judged: the entry or page is what matched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.answering import defaults, features
from qa.answering.retrieval import Candidates
from qa.storage.records import SentenceRow
from qa.text.asked import asks_what_it_does

# How far above the entry's best-scored sentence its first sentence goes.
OPENER_LIFT = 0.5
_NAMED = [features.FEATURES.index("names_entry"), features.FEATURES.index("names_term")]


def lift_page_lead(rows: Sequence[SentenceRow], ranking: np.ndarray, page_lead: int,
                   stands_on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raise the first sentence of the page a question asks about ("What does the CLUSTER
    command do?" and the page CLUSTER: "CLUSTER instructs PostgreSQL to cluster the table
    ...", found by retrieval as `Candidates.page_lead`) above the ranking's first sentence; it
    stands on that sentence's match: the question named the page."""
    lead = next((i for i, row in enumerate(rows) if row.id == page_lead), None)
    if lead is None:
        return ranking, stands_on
    return _above_first(ranking, stands_on, lead)


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
    return _above_first(ranking, stands_on, opener)


def _above_first(ranking: np.ndarray, stands_on: np.ndarray, lifted_one: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Put one candidate `OPENER_LIFT` above the ranking's first, standing on the first's
    match (unchanged when it is the first already)."""
    first = int(np.argmax(ranking))
    if lifted_one == first:
        return ranking, stands_on
    lifted, stands = ranking.copy(), stands_on.copy()
    lifted[lifted_one], stands[lifted_one] = ranking[first] + OPENER_LIFT, stands_on[first]
    return lifted, stands


def apply_rules(question: str, candidates: Candidates, scores: np.ndarray,
                matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rules serving applies after the weights, in order, shared with training's held-out
    scoring: a default's sentence (`defaults.lift_defaults`), the named page's first sentence,
    the named entry's first sentence. Returns the scores and which candidate each stands on."""
    ranking, stands_on = defaults.lift_defaults(question, candidates.rows, scores)
    ranking, stands_on = lift_page_lead(candidates.rows, ranking, candidates.page_lead,
                                        stands_on)
    return lift_opener(question, candidates.rows, ranking, matrix, candidates.opens, stands_on)
