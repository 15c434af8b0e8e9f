"""Per-sentence analyses remembered while their sentences are in the corpus.

Ranking analyses each candidate sentence once (its words, their keys, answer-shaped strings)
and meets the same sentences question after question. The analyses are kept in memos that the
catalog empties of a document's sentences when the document is replaced or deleted, so memory
follows the corpus rather than every sentence ever indexed. A cap still bounds each memo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

Value = TypeVar("Value")
_MEMOS: list[Memo] = []


class Memo(dict[str, Value], Generic[Value]):
    """A text's analysis, worked out on first use (a dict lookup after that)."""

    def __init__(self, analyse: Callable[[str], Value], limit: int) -> None:
        """Remember up to `limit` texts' analyses; the oldest go first past it."""
        super().__init__()
        self.analyse = analyse
        self.limit = limit
        _MEMOS.append(self)

    def __missing__(self, text: str) -> Value:
        """Analyse a text met for the first time."""
        if len(self) >= self.limit:
            self.pop(next(iter(self), None), None)  # another thread may have taken it
        value = self[text] = self.analyse(text)
        return value

    # Calling a memo reads it: as cheap as functools.lru_cache, and callers need not know.
    __call__ = dict.__getitem__


def forget(texts: Iterable[str]) -> None:
    """Drop analyses of texts that left the corpus (one still in it is just analysed again)."""
    texts = list(texts)
    for memo in _MEMOS:
        for text in texts:
            memo.pop(text, None)
