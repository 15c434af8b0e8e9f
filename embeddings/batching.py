"""Micro-batching: questions that arrive while the model is busy share its next call.

There is no timer: a lone question runs at once, so one client pays nothing. Under load, the
questions that queued during a model call go through together in the next one, which costs
little more than a single question on a CPU. Queued texts of very different lengths do not
share a call: a short question would pad to a long one's width and wait for its result, so
anyone could slow everyone down with long questions. Shorter groups go first, and short and
long questions queue in separate lanes (`Lanes`): a short question arriving while a long one is
being read runs beside it on the other core instead of waiting behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np


class _Pending:
    """One caller's texts, waiting for their vectors or for its turn to lead."""

    __slots__ = ("texts", "event", "lead", "vectors", "error")

    def __init__(self, texts: list[str]) -> None:
        """Queue texts; the event fires when vectors are ready or this caller must lead."""
        self.texts = texts
        self.event = threading.Event()
        self.lead = False
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None


SHORT_CHARS = 120  # texts up to this long share a call whatever their lengths
LENGTH_RATIO = 2  # beyond that, a call's longest text is at most this many times its shortest


def similar_lengths(lengths: Sequence[int], short: int) -> list[list[int]]:
    """Group positions by length, shortest group first: up to `short` anything goes together,
    beyond it a group's longest is at most LENGTH_RATIO times its shortest. Padding a short
    text to a long one's width would cost it the long one's time."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and (lengths[i] <= short or lengths[i] <= LENGTH_RATIO * lengths[groups[-1][0]]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class MicroBatcher:
    """Run concurrent small encode requests as one model call."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_texts: int = 64) -> None:
        """Wrap a batch encode function; at most `max_texts` texts go into one call."""
        self._encode = encode
        self.max_texts = max_texts
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._busy = False

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a few texts, joining whatever other callers are waiting for the model."""
        mine = _Pending(list(texts))
        with self._lock:
            self._queue.append(mine)
            if not self._busy:
                self._busy = mine.lead = True
        if not mine.lead:
            mine.event.wait()
        if mine.lead:
            self._run_batch()
        if mine.error is not None:
            raise mine.error
        assert mine.vectors is not None
        return mine.vectors

    def _run_batch(self) -> None:
        """Encode the queue's head group by group until the leader (first in it) has its
        vectors, then put the rest back in front and hand the lead on: a short question led
        in does not wait for the long ones queued with it."""
        with self._lock:
            leader, size, batch = self._queue[0], 0, []
            while self._queue and (not batch or size + len(self._queue[0].texts)
                                   <= self.max_texts):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
        widths = [max((len(t) for t in p.texts), default=0) for p in batch]
        groups = [[batch[i] for i in g] for g in similar_lengths(widths, SHORT_CHARS)]
        while groups:
            group = groups.pop(0)
            self._run_group(group)
            for p in group:
                if p is not leader:
                    p.event.set()
            if any(p is leader for p in group):
                break
        with self._lock:
            self._queue[:0] = [p for g in groups for p in g]
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].event.set()
            else:
                self._busy = False

    def _run_group(self, group: list[_Pending]) -> None:
        """Encode one group in one model call and give each caller its rows (or the error)."""
        try:
            vectors = self._encode([t for p in group for t in p.texts])
            start = 0
            for p in group:
                p.vectors = vectors[start:start + len(p.texts)]
                start += len(p.texts)
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it, not hang
            for p in group:
                p.error = exc


class Lanes:
    """Two micro-batchers, one for callers whose texts are all short and one for the rest, so
    a burst of long questions (made-up words, long follow-ups) never holds up ordinary ones."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], short: int = SHORT_CHARS,
                 max_texts: int = 64) -> None:
        """Wrap a batch encode function that may run in two threads at once."""
        self.short = short
        self._short = MicroBatcher(encode, max_texts)
        self._long = MicroBatcher(encode, max_texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a caller's texts in the lane its longest text belongs to."""
        lane = self._short if max(map(len, texts), default=0) <= self.short else self._long
        return lane.encode(texts)
