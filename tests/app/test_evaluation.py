"""Evaluation: the SQuAD 2.0 answer-or-abstain judgement and its threshold-free AUROC."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from qa.app.evaluation import Outcome, answer_or_abstain, auroc, load_squad, summarize


def _outcome(right: bool | None, confidence: float, threshold: float = 0.4) -> Outcome:
    """An answerable question (first sentence right or wrong), or unanswerable when None."""
    return Outcome(1 if right else (3 if right is False else None), 1, confidence,
                   confidence < threshold, right is None, 0.001, True)


def test_auroc_is_the_share_of_positive_negative_pairs_ordered_right():
    rng = np.random.default_rng(0)
    pos, neg = rng.random(30).round(1), rng.random(20).round(1) * 0.8  # with ties
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    assert auroc(pos, neg) == pytest.approx(np.mean(pairs))
    assert auroc(np.array([0.9]), np.array([0.1])) == 1.0
    assert auroc(np.array([]), np.array([0.1])) is None


def test_answer_or_abstain_counts_right_wrong_and_silent():
    outcomes = [_outcome(True, 0.9), _outcome(True, 0.3), _outcome(False, 0.8),
                _outcome(None, 0.1), _outcome(None, 0.5)]
    m = answer_or_abstain(outcomes, 0.4)
    assert m["accuracy"] == pytest.approx(2 / 5)  # answered right; unanswerable abstained
    assert m["wrong_answer_rate"] == pytest.approx(2 / 5)  # a wrong quote; unanswerable quoted
    assert m["unanswerable_abstained"] == pytest.approx(1 / 2)
    assert m["answerable_right"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["auroc"] == pytest.approx(3 / 4)  # right 0.9, 0.3 against unanswerable 0.1, 0.5
    # answering from 0.3 up (or from 0.51 up) gets 3 of 5 right; no threshold gets 4
    assert m["best_accuracy"] == pytest.approx(3 / 5)
    assert answer_or_abstain(outcomes, m["best_threshold"])["accuracy"] == m["best_accuracy"]
    assert summarize(outcomes, 0.4)["accuracy"] == m["accuracy"]
    assert "accuracy" not in summarize(outcomes)  # only asked for with a threshold


def test_squad2_unanswerable_questions_are_read_as_such(tmp_path):
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "Torch", "paragraphs": [
        {"context": "The torch went to space in 2013.", "qas": [
            {"id": "1", "question": "When did the torch go to space?", "is_impossible": False,
             "answers": [{"text": "2013", "answer_start": 27}]},
            {"id": "2", "question": "When did the torch go to the Moon?", "is_impossible": True,
             "answers": []}]}]}]}))
    docs, questions = load_squad(path)
    assert [d.doc_id for d in docs] == ["Torch#0"]
    assert [(q.unanswerable, q.answers) for q in questions] == [(False, ["2013"]), (True, [])]


def test_the_documentation_question_form_is_judged_by_phrase_and_page(tmp_path):
    from qa.app.evaluation import judge, load_jsonl, same_file

    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in [
        {"id": "p1", "question": "What does max() return?", "answerable": True,
         "gold_file": "library/functions.html", "gold_phrase": "largest  item"},
        {"id": "n1", "question": "What does pandas do?", "answerable": False, "kind": "near"},
    ]) + "\n")
    asked, near = load_jsonl(path)
    assert asked.source == "library/functions.html" and not asked.unanswerable
    assert near.unanswerable and near.group == "near" and near.answers == []
    # the phrase, case and white space aside, cited from that page (added from any folder above)
    assert judge(asked, "Return the LARGEST item in an iterable.", "x", 0, 1,
                 "html/library/functions.html")
    assert not judge(asked, "Return the largest item.", "x", 0, 1, "library/builtins.html")
    assert not judge(asked, "Return the smallest item.", "x", 0, 1, "library/functions.html")
    assert same_file("library/functions.html", "library/functions.html")
    assert not same_file("xlibrary/functions.html", "library/functions.html")


def test_documentation_figures_count_answered_right_hit_at_3_and_each_kind_abstaining():
    outcomes = [Outcome(1, None, 0.9, False, False, 0.01), Outcome(1, None, 0.1, True, False, 0.01),
                Outcome(3, None, 0.5, False, False, 0.01), Outcome(None, None, 0.5, False, False, 0.01),
                Outcome(None, None, 0.1, True, True, 0.01, group="near"),
                Outcome(None, None, 0.5, False, True, 0.01, group="near"),
                Outcome(None, None, 0.0, True, True, 0.01, group="off")]
    m = summarize(outcomes, 0.4)
    assert m["p_at_1"] == 0.5 and m["answered_right"] == 0.25 and m["r_at_3"] == 0.75
    assert m["abstained_near"] == "1 of 2" and m["abstained_off"] == "1 of 1"
