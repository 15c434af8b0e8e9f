"""Conversations: a question complete on its own is judged alone, whatever came before; a
follow-up reads the earlier turn and still has to be borne out by its quote."""

from __future__ import annotations

import pytest

from qa.answering.conversation import Turn, is_follow_up, with_sample
from tests.conftest import load_questions

OPENERS = ["What was the name of the polar bear mascot?",
           "Who carried the torch on the spacewalk?",
           "How long is the Sochi torch relay?"]
OFF_TOPIC = [q["question"] for q in load_questions() if q.get("unanswerable")]
NEAR_TOPIC = [q["question"] for q in load_questions("seed_questions_near_topic.jsonl")]


def after(service, opener: str, question: str):
    """Ask `question` as the second turn of a conversation that opened with `opener`."""
    first = service.ask(opener)
    return service.chat([Turn("user", opener), Turn("assistant", first.answer or ""),
                         Turn("user", question)])


@pytest.mark.parametrize("question, leans", [
    ("How long were they outside?", True), ("Where did it launch from?", True),
    ("Why not?", True), ("How long?", True), ("And in 2014?", True),
    ("What about the relay?", True),
    ("What is the capital of France?", False), ("What is the speed of light?", False),
    ("Who lit the cauldron at the Sochi opening ceremony?", False),
])
def test_a_question_leans_on_earlier_turns_only_when_it_points_back_or_says_too_little(
        question, leans):
    assert is_follow_up(question) is leans


def test_off_topic_questions_mid_conversation_abstain_as_they_do_alone(seeded):
    answered = [(opener, q, result.confidence) for opener in OPENERS for q in OFF_TOPIC
                if not (result := after(seeded, opener, q)).abstained]
    assert all(seeded.ask(q).abstained for q in OFF_TOPIC)
    assert not answered, answered


def test_near_topic_questions_mid_conversation_abstain_as_often_as_alone(seeded):
    alone = sum(seeded.ask(q).abstained for q in NEAR_TOPIC)
    for opener in OPENERS:
        following = sum(after(seeded, opener, q).abstained for q in NEAR_TOPIC)
        assert following >= alone, (opener, following, alone)


def test_a_follow_up_its_quote_does_not_bear_out_is_never_shown_as_confident(seeded):
    # Read with the mascot question, "How many moons does it have?" finds the mascot's
    # sentences, which say nothing of moons: at most a possible answer, to check.
    result = after(seeded, "What was the name of the polar bear mascot?",
                   "How many moons does it have?")
    assert result.band != "confident", (result.confidence, result.answers[0].text)
    assert result.confidence < seeded.settings.confident_above


def test_a_code_sample_sent_with_a_reply_keeps_its_backticks_inside_the_fence():
    assert with_sample("To list files:", "") == "To list files:"
    assert with_sample("To list files:", "ls -l") == "To list files:\n\n```\nls -l\n```"
    fenced = with_sample("To quote:", "echo ```x```")
    assert fenced == "To quote:\n\n````\necho ```x```\n````"
