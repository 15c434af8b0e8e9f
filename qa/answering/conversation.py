"""Conversation: understand a follow-up question from the turns before it, without generation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.text.words import query_terms

# Words that point back to something named earlier in the conversation.
_ANAPHORA = re.compile(
    r"\b(he|she|it|its|they|them|their|theirs|him|his|her|hers|this|that|these|those|there|"
    r"then|the same|the other|else|also|too)\b",
    re.IGNORECASE,
)
_FEW_TERMS = 2
MAX_CONTEXT_CHARS = 2000  # of the earlier turn a follow-up reads, as many as a question has
MAX_CONTEXT_WORDS = 60
ABSTAIN_MESSAGE = "I couldn't find an answer to that in the documents."


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str
    content: str


def is_follow_up(question: str) -> bool:
    """Guess whether a question leans on earlier turns (pronouns, or too few words of its own)."""
    return bool(_ANAPHORA.search(question)) or len(query_terms(question)) <= _FEW_TERMS


def conversation_context(turns: Sequence[Turn]) -> str:
    """Collect what a follow-up may refer to: the user's previous questions, latest first.

    Earlier answers are left out: they would pull the same sentence back as the next answer.
    """
    if not turns or not is_follow_up(turns[-1].content):
        return ""
    earlier = [t.content for t in turns[:-1] if t.role == "user"]
    if not earlier:
        return ""
    # Bounded like a question: a 20,000-character earlier turn would otherwise make every
    # follow-up as costly as a hundred questions.
    return " ".join(earlier[-1][:MAX_CONTEXT_CHARS].split()[:MAX_CONTEXT_WORDS])
