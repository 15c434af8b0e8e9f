"""Conversation: understand a follow-up question from the turns before it, without generation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.store import query_terms

# Words that point back to something named earlier in the conversation.
_ANAPHORA = re.compile(
    r"\b(he|she|it|its|they|them|their|theirs|him|his|her|hers|this|that|these|those|there|"
    r"then|the same|the other|else|also|too)\b",
    re.IGNORECASE,
)
_FEW_TERMS = 2
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
    """Collect what a follow-up may refer to: the previous question and the answer given to it."""
    if not turns or not is_follow_up(turns[-1].content):
        return ""
    earlier = list(turns[:-1])
    last_user = next((t.content for t in reversed(earlier) if t.role == "user"), "")
    last_answer = ""
    for t in reversed(earlier):
        if t.role == "assistant":
            last_answer = "" if t.content.startswith(ABSTAIN_MESSAGE) else t.content
            break
        if t.role == "user":
            break
    return " ".join(x for x in (last_user, last_answer) if x).strip()
