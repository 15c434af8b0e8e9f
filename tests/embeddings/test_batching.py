"""Micro-batching of concurrent questions: fewer model calls, each caller gets its own vectors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from embeddings.batching import Lanes, MicroBatcher


def fake_model(calls: list[list[str]]):
    """A slow 'model' whose vector for a text is its length, so results can be checked."""
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        time.sleep(0.05)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
    return encode


def test_concurrent_questions_share_model_calls_and_get_their_own_answers():
    calls: list[list[str]] = []
    batcher = MicroBatcher(fake_model(calls))
    texts = ["q" * (i + 1) for i in range(16)]
    results: dict[int, np.ndarray] = {}
    start = threading.Barrier(16)

    def ask(i: int) -> None:
        start.wait()
        results[i] = batcher.encode([texts[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert all(results[i].tolist() == [[i + 1, 1.0]] for i in range(16))
    assert len(calls) < 8  # 16 callers, a handful of model calls
    assert sorted(t for c in calls for t in c) == sorted(texts)


def test_a_lone_question_runs_at_once_in_its_own_call():
    calls: list[list[str]] = []
    batcher = MicroBatcher(fake_model(calls))
    assert batcher.encode(["a", "bb"]).tolist() == [[1, 1], [2, 1]]
    assert calls == [["a", "bb"]]


def test_a_model_error_reaches_every_waiting_caller_and_the_next_call_works():
    state = {"fail": True}

    def flaky(texts: list[str]) -> np.ndarray:
        fail = state["fail"]
        time.sleep(0.05)
        if fail:
            raise RuntimeError("model crashed")
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = MicroBatcher(flaky)
    errors = []

    def ask() -> None:
        try:
            batcher.encode(["x"])
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    state["fail"] = False  # later batches succeed
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)  # nobody hangs
    assert 1 <= len(errors) < 6
    assert batcher.encode(["y"]).shape == (1, 2)


def test_the_real_model_gives_the_same_vectors_batched_or_alone(embedder):
    questions = ["Who carried the torch?", "How long was the spacewalk?", "Where is Sochi?"]
    alone = [embedder.encode_queries([q])[0] for q in questions]
    got: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: got.__setitem__(
        i, embedder.encode_queries([questions[i]])[0])) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        assert float(alone[i] @ got[i]) == pytest.approx(1.0, abs=1e-5)
    # Asked in one call, as a micro-batch joins them under load: the int8 question model scales
    # by what is in its batch, so each question must still be read alone.
    together = embedder.encode_queries(questions)
    for i in range(3):
        assert float(alone[i] @ together[i]) == pytest.approx(1.0, abs=1e-5)


def test_a_short_question_queued_with_long_ones_neither_pads_to_them_nor_waits_for_them():
    calls: list[list[str]] = []
    done: dict[str, float] = {}

    def cost_by_length(texts: list[str]) -> np.ndarray:
        """A 'model' whose call takes as long as its longest text, like padded attention."""
        calls.append(list(texts))
        time.sleep(0.0002 * max(len(t) for t in texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    batcher = MicroBatcher(cost_by_length)
    first = threading.Thread(target=lambda: batcher.encode(["x" * 500]))  # keeps the model busy
    first.start()
    time.sleep(0.02)

    def ask(text: str) -> None:
        got = batcher.encode([text])
        assert got.tolist() == [[len(text), 1.0]]
        done[text] = time.monotonic()

    long_texts = ["y" * 1500, "z" * 1600]
    short = "Who carried the torch?"
    threads = [threading.Thread(target=ask, args=(t,)) for t in [*long_texts, short]]
    for t in threads:  # the long ones queue first
        t.start()
        time.sleep(0.005)
    for t in [first, *threads]:
        t.join(timeout=10)
    assert [short] in calls  # a call of its own, not padded to 1,500 characters
    assert all(short not in c or len(c) == 1 for c in calls)
    assert done[short] < min(done[t] for t in long_texts)  # and it did not wait for them


def test_a_short_question_does_not_wait_behind_a_long_one_being_read():
    finished: dict[str, float] = {}

    def cost_by_length(texts: list[str]) -> np.ndarray:
        """A 'model' whose call takes as long as its longest text, like padded attention."""
        time.sleep(0.0002 * max(len(t) for t in texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    lanes = Lanes(cost_by_length)

    def ask(text: str) -> None:
        assert lanes.encode([text]).tolist() == [[len(text), 1.0]]
        finished[text] = time.monotonic()

    long_text, short = "z" * 1500, "Who carried the torch?"  # 0.3 s against 4 ms
    slow = threading.Thread(target=ask, args=(long_text,))
    slow.start()
    time.sleep(0.05)  # the long one is being read
    started = time.monotonic()
    ask(short)
    slow.join(timeout=10)
    assert finished[short] - started < 0.15  # it ran beside the long one...
    assert finished[short] < finished[long_text]  # ...and did not wait for it to finish
