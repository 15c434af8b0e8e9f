"""Faults against real server processes: kill -9 mid-write, SIGTERM mid-write, many writers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from bench.harness import ROOT, make_doc, start_server, stop_server

pytestmark = pytest.mark.slow


def documents(url: str) -> dict[str, dict]:
    """The server's document list, by id."""
    return {d["doc_id"]: d for d in httpx.get(f"{url}/v1/documents", timeout=30).json()[
        "documents"]}


def assert_consistent(url: str) -> dict:
    """The in-memory index mirrors the store exactly: one vector per quotable sentence."""
    health = httpx.get(f"{url}/healthz", timeout=30).json()
    assert health["status"] == "ok"
    assert health["vectors"] == health["sentences"]
    docs = documents(url)
    assert health["documents"] == len(docs)
    assert sum(d["sentences"] for d in docs.values()) == health["sentences"]
    return docs


def ask_about(url: str, key: str) -> str | None:
    """Which document answers a question only one document can answer."""
    body = httpx.post(f"{url}/v1/answer", json={"question": f"What did courier {key.upper()} "
                                                            "carry across the valley?"},
                      timeout=30).json()
    return body["answers"][0]["citation"]["doc_id"] if body["answers"] else None


def hammer_with_adds(url: str, writers: int, stop: threading.Event, prefix: str
                     ) -> tuple[list[str], list[threading.Thread]]:
    """Start writers that add documents one by one until stopped; return what was acknowledged."""
    acked: list[str] = []

    def write(worker: int) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                doc = make_doc(f"{prefix}{worker}x{i}")
                try:
                    r = client.post(f"{url}/v1/documents", json={"documents": [doc]})
                except httpx.HTTPError:
                    return  # the server died mid-request: this one was never acknowledged
                if r.status_code == 200:
                    acked.append(doc["doc_id"])

    threads = [threading.Thread(target=write, args=(w,), daemon=True) for w in range(writers)]
    for t in threads:
        t.start()
    return acked, threads


@pytest.mark.parametrize("kill_after", [1.2, 3.7])
def test_kill_9_during_adds_keeps_every_acknowledged_document(tmp_path, kill_after):
    url, proc = start_server(tmp_path, "--no-seeds")
    stop = threading.Event()
    acked, threads = hammer_with_adds(url, writers=3, stop=stop, prefix="k")
    # Kill in the middle of the stream: some time after the first add was acknowledged (a
    # fixed delay from the start could end before any add on a slow or busy machine).
    deadline = time.monotonic() + 120
    while not acked and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(kill_after - 1.0)
    proc.kill()  # SIGKILL: no shutdown code runs
    proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert acked, "some adds were acknowledged before the kill"

    url, proc = start_server(tmp_path, "--no-seeds")
    try:
        docs = assert_consistent(url)
        assert set(acked) <= set(docs)
        assert len(docs) - len(acked) <= 3  # at most the in-flight ones, whole or not at all
        for key in (acked[0], acked[-1]):
            assert ask_about(url, key) == key
    finally:
        stop_server(proc)


@pytest.mark.parametrize("kill_after", [0.8, 2.5])
def test_kill_9_during_a_rebuild_keeps_a_consistent_index(tmp_path, kill_after):
    url, proc = start_server(tmp_path, "--no-seeds")
    corpus = [make_doc(f"r{i}", sentences=40) for i in range(25)]
    assert httpx.post(f"{url}/v1/documents", json={"documents": corpus},
                      timeout=300).status_code == 200
    before = assert_consistent(url)
    rebuild = threading.Thread(target=lambda: _quietly_post(f"{url}/v1/index/rebuild"),
                               daemon=True)
    rebuild.start()
    time.sleep(kill_after)
    proc.kill()
    proc.wait()
    rebuild.join(timeout=30)

    url, proc = start_server(tmp_path, "--no-seeds")
    try:
        after = assert_consistent(url)
        assert {k: v["sentences"] for k, v in after.items()} == \
            {k: v["sentences"] for k, v in before.items()}
        assert ask_about(url, "r7") == "r7"
    finally:
        stop_server(proc)


def _quietly_post(url: str) -> None:
    """Post and ignore the connection dying under us."""
    try:
        httpx.post(url, timeout=120)
    except httpx.HTTPError:
        pass


def test_sigterm_finishes_the_write_in_flight_then_exits_cleanly(tmp_path):
    url, proc = start_server(tmp_path, "--no-seeds")
    big = make_doc("big", sentences=400)
    result: dict[str, object] = {}

    def add() -> None:
        result["response"] = httpx.post(f"{url}/v1/documents", json={"documents": [big]},
                                        timeout=120)

    writer = threading.Thread(target=add)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the add should still be embedding when SIGTERM arrives"
    proc.terminate()
    writer.join(timeout=120)
    assert result["response"].status_code == 200  # the in-flight write was finished
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status reports it.
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    log = (tmp_path / "server.log").read_text()
    assert "shut down cleanly" in log

    url, proc = start_server(tmp_path, "--no-seeds")
    try:
        assert "big" in assert_consistent(url)
        assert ask_about(url, "big") == "big"
    finally:
        stop_server(proc)


def test_many_concurrent_writers_and_a_cli_writer_lose_nothing(tmp_path):
    url, proc = start_server(tmp_path, "--no-seeds")
    try:
        stop = threading.Event()
        acked, threads = hammer_with_adds(url, writers=8, stop=stop, prefix="c")
        # Meanwhile a second process writes to the same data dir.
        folder = tmp_path / "incoming"
        folder.mkdir()
        cli_doc = make_doc("cliwriter")
        (folder / "cliwriter.txt").write_text(f"{cli_doc['title']}\n\n{cli_doc['text']}")
        cli = subprocess.run([sys.executable, "-m", "api.cli", "add", str(folder),
                              "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        assert cli.returncode == 0, cli.stderr[-2000:]
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        docs = assert_consistent(url)
        assert len(acked) >= 8 and set(acked) <= set(docs)
        assert "cliwriter" in docs and ask_about(url, "cliwriter") == "cliwriter"
    finally:
        stop_server(proc)


def test_a_public_address_without_a_key_says_so_and_refuses_writes(tmp_path):
    url, proc = start_server(tmp_path, "--no-seeds", "--host", "0.0.0.0")
    try:
        r = httpx.post(f"{url}/v1/documents", json={"documents": [make_doc("x", 3)]})
        assert r.status_code == 403 and "--allow-open-writes" in r.json()["detail"]
        assert httpx.post(f"{url}/v1/answer", json={"question": "Who?"}).status_code == 200
    finally:
        stop_server(proc)
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()
             if line.startswith("{")]
    assert any("writes are disabled" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "verbatim.access"]
    assert {"endpoint": "/v1/documents", "status": 403} .items() <= \
        next(a for a in access if a["method"] == "POST").items()


def test_writes_with_the_key_work_on_a_public_address(tmp_path):
    url, proc = start_server(tmp_path, "--no-seeds", "--host", "0.0.0.0",
                             "--api-key", "k3y")
    try:
        doc = {"documents": [make_doc("keyed", 3)]}
        assert httpx.post(f"{url}/v1/documents", json=doc).status_code == 401
        assert httpx.post(f"{url}/v1/documents", json=doc,
                          headers={"Authorization": "Bearer k3y"}).status_code == 200
    finally:
        stop_server(proc)
