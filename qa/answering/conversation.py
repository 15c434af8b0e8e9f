"""Conversation: understand a follow-up question from the turns before it, without generation.

A question is read with the turns before it only when it leans on them: it points back ("they",
"it", "there"), opens as a continuation ("And in 2014?", "What about the relay?"), or has at
most one word of its own ("How long?", "Why not?"). A question complete on its own ("What is
the capital of France?") is answered and judged exactly as if asked alone, whatever came before.
"""

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
_CONTINUATION = re.compile(r"^\s*(and|but|or|so|also|then|what about|how about)\b",
                          re.IGNORECASE)
_FEW_TERMS = 1
MAX_QUESTION_CHARS = 2000
MAX_CONTEXT_CHARS = 2000  # of the earlier turn a follow-up reads, as many as a question has
MAX_CONTEXT_WORDS = 60
ABSTAIN_MESSAGE = "I couldn't find an answer to that in the documents."
# Before a quote in the "possible" band, wherever an answer is written out as text.
POSSIBLE_PREFIX = "Possible answer (check it against the source): "


def reply_text(answer: str | None, band: str) -> str:
    """An answer as a chat reply: the quote, marked when it is only possible, or the
    abstention message."""
    if answer is None:
        return ABSTAIN_MESSAGE
    return f"{POSSIBLE_PREFIX}{answer}" if band == "possible" else answer


def with_sample(reply: str, follows: str) -> str:
    """A reply followed by the code sample its quote introduces (`Answer.follows`), fenced as
    Markdown with a fence longer than any run of backticks inside it."""
    if not follows:
        return reply
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", follows)), default=0))
    return f"{reply}\n\n{fence}\n{follows}\n{fence}"


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str
    content: str


def clean_question(value: str) -> str:
    """Refuse questions that are blank, too long or carry NUL characters, before any work
    is done (the API and the CLI apply the same rule)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"must be at most {MAX_QUESTION_CHARS:,} characters")
    return value


def is_follow_up(question: str) -> bool:
    """Tell whether a question leans on earlier turns: it points back, continues, or has too
    few words of its own to be asked alone."""
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question)) or \
        len(query_terms(question)) <= _FEW_TERMS


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
