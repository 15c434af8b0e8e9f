"""Answer quality on the seeds: the right sentence, valid citations, abstention when off-topic."""

from __future__ import annotations

import pytest

from qa.answering.answerer import is_near_duplicate
from qa.answering.conversation import Turn
from qa.app.service import Verbatim
from qa.reading.chunking import chunk_text
from qa.text.words import near_duplicate_key
from tests.conftest import load_questions

QUESTIONS = load_questions()
ANSWERABLE = [q for q in QUESTIONS if not q.get("unanswerable") and not q.get("history")]
OFF_TOPIC = [q for q in QUESTIONS if q.get("unanswerable")]
FOLLOW_UPS = [q for q in QUESTIONS if q.get("history")]


def _correct(text: str | None, expected: list[str]) -> bool:
    return text is not None and any(e.lower() in text.lower() for e in expected)


def test_the_question_set_is_big_enough():
    assert len(ANSWERABLE) >= 40 and len(OFF_TOPIC) >= 10 and len(FOLLOW_UPS) >= 8


def test_most_seed_questions_get_the_right_sentence_first(seeded):
    wrong = []
    for q in ANSWERABLE:
        result = seeded.ask(q["question"])
        if not _correct(result.answer, q["answers"]):
            wrong.append((q["question"], result.answer))
    accuracy = 1 - len(wrong) / len(ANSWERABLE)
    assert accuracy >= 0.85, f"P@1 {accuracy:.2f}; wrong: {wrong}"


@pytest.mark.parametrize("q", OFF_TOPIC, ids=lambda q: q["question"])
def test_off_topic_questions_abstain(seeded, q):
    result = seeded.ask(q["question"])
    assert result.abstained and result.answer is None
    assert 0.0 <= result.confidence < seeded.settings.abstain_below


def test_an_abstention_still_shows_the_closest_sentences_as_related(seeded):
    result = seeded.ask("What is the capital of France?", top_k=2)
    assert result.abstained and result.answer is None
    assert 1 <= len(result.answers) <= 2
    for a in result.answers:  # cited like answers, never scored above the abstention
        c = a.citation
        assert seeded.store.get_document(c.doc_id).text[c.start:c.end] == a.text
        assert a.score <= result.confidence


def test_the_verifier_turns_away_near_topic_questions_the_ranking_alone_would_answer(seeded):
    near = load_questions("seed_questions_near_topic.jsonl")
    assert len(near) >= 25 and all(q["unanswerable"] for q in near)
    verifier = seeded.answerer.verifier
    assert verifier is not None
    abstained = sum(seeded.ask(q["question"]).abstained for q in near)
    seeded.answerer.verifier = None  # the ranking's calibration alone
    try:
        alone = sum(seeded.ask(q["question"]).abstained for q in near)
    finally:
        seeded.answerer.verifier = verifier
    # Measured with `qa eval`: 14 of 28 with the verifier, 3 without; the aim is 85% (README).
    assert abstained >= alone + 4 and abstained >= 0.25 * len(near), (abstained, alone)


def test_few_answerable_seed_questions_abstain(seeded):
    questions = ANSWERABLE + [q for q in load_questions("seed_questions_extra.jsonl")
                              if not q.get("unanswerable") and not q.get("history")]
    silent = [q["question"] for q in questions if seeded.ask(q["question"]).abstained]
    assert len(silent) <= 0.10 * len(questions), silent


def test_follow_up_questions_use_the_conversation(seeded):
    wrong = []
    for q in FOLLOW_UPS:
        turns = []
        for earlier in q["history"]:
            turns.append(Turn("user", earlier))
            turns.append(Turn("assistant", seeded.ask(earlier).answer or ""))
        turns.append(Turn("user", q["question"]))
        result = seeded.chat(turns)
        if not _correct(result.answer, q["answers"]):
            wrong.append((q["question"], result.answer))
    assert len(wrong) <= 1, wrong


def test_every_citation_slices_to_the_quoted_sentence(seeded):
    texts = {d.doc_id: seeded.get_document(d.doc_id).text for d in seeded.list_documents()}
    spans = {d: {(s.start, s.end) for s in chunk_text(t).sentences} for d, t in texts.items()}
    for q in ANSWERABLE:
        result = seeded.ask(q["question"], top_k=5)
        assert 0.0 <= result.confidence <= 1.0
        scores = [a.score for a in result.answers]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert not scores or scores[0] <= result.confidence
        for answer in result.answers:
            c = answer.citation
            assert texts[c.doc_id][c.start:c.end] == answer.text
            for c in [answer.citation, *answer.also_in]:
                text = texts[c.doc_id]
                # Each place is a whole sentence of its page, the quote itself or a near copy of
                # it (a caption repeated with a small edit), inside the passage it cites.
                assert (c.start, c.end) in spans[c.doc_id]
                assert is_near_duplicate(near_duplicate_key(text[c.start:c.end]),
                                         near_duplicate_key(answer.text))
                assert c.passage == text[c.passage_start:c.passage_start + len(c.passage)]
                assert c.passage_start <= c.start and c.end <= c.passage_start + len(c.passage)


def test_repeated_captions_appear_once_citing_every_source(seeded):
    result = seeded.ask("When is the torch scheduled to return back to Earth?", top_k=5)
    texts = [a.text.lower() for a in result.answers]
    assert len(texts) == len(set(texts))
    repeated = [a for a in result.answers if "scheduled to return back to earth" in a.text.lower()]
    assert repeated and len(repeated[0].also_in) >= 1


def test_a_reader_comment_still_answers_what_only_the_comments_discuss(seeded):
    result = seeded.ask("What was the informal name for the NASA spacecraft?")
    assert result.answer is not None and "informal name" in result.answer
    cited = result.answers[0].citation
    page = seeded.store.get_document(cited.doc_id).text
    (quoted,) = [s for s in chunk_text(page).sentences if s.start == cited.start]
    assert quoted.comment  # the quote comes from the readers' comments


def test_a_restarted_service_analyses_its_sentences_in_the_background(seeded, embedder):
    restarted = Verbatim(seeded.settings, embedder=embedder)
    restarted.warm_up()  # returns at once; the analysis runs between questions
    question = "Who carried the torch on the spacewalk?"
    assert restarted.ask(question).answer == seeded.ask(question).answer
    assert restarted.answerer.prepared.wait(30)
    assert restarted.health()["prepared"] is True
