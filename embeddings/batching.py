"""Micro-batching: questions that arrive while the model is busy share its next call.

There is no timer: a lone question runs at once, so one client pays nothing. Under load, the
questions that queued during a model call go through together in the next one, which costs
little more than a single question on a CPU.
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
        """Encode the queue's head (the leader is first in it), then hand the lead on."""
        with self._lock:
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].texts)
                                   <= self.max_texts):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
        try:
            vectors = self._encode([t for p in batch for t in p.texts])
            start = 0
            for p in batch:
                p.vectors = vectors[start:start + len(p.texts)]
                start += len(p.texts)
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it, not hang
            for p in batch:
                p.error = exc
        for p in batch[1:]:
            p.event.set()
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].event.set()
            else:
                self._busy = False
