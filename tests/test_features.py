"""Ranking features: what makes one candidate sentence look like a better answer than another."""

from __future__ import annotations

import numpy as np

from qa import features
from qa.retrieval import Candidates
from qa.store import SentenceRow

COVERAGE = features.FEATURES.index("coverage")


def _coverage(question: str, texts: list[str], conversation: str = "") -> list[float]:
    """Word coverage of each sentence, all other signals equal."""
    rows = [SentenceRow(i, "doc", i, 0, 0, len(t), t) for i, t in enumerate(texts)]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows),
                            np.zeros(len(rows), np.float32))
    matrix = features.build(question, candidates, {"doc": ""}, candidates.context, conversation)
    return [round(float(v), 3) for v in matrix[:, COVERAGE]]


def test_other_forms_of_a_word_count_as_the_word():
    began, unrelated = _coverage("When did the relay begin?",
                                 ["The relay began in Moscow.", "The relay ended in Sochi."])
    assert began == 1.0 and unrelated == 0.5
    flew, _ = _coverage("Who flew the plane?", ["She will fly the plane.", "x"])
    assert flew == 1.0


def test_a_superlative_is_not_the_word_a_how_long_question_asks_with():
    longest, lasting = _coverage("How long will the relay last?",
                                 ["The longest relay ever.", "The relay will last months."])
    assert lasting > longest


def test_a_follow_up_weighs_its_own_words_above_the_earlier_turns():
    own, earlier = _coverage("How does that compare with London?",
                             ["London's games cost 9 billion.",
                              "The Sochi Olympics were expensive."],
                             conversation="How much will the Sochi Olympics cost?")
    assert own > earlier
