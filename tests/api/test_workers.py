"""Several server processes on one data directory: every worker answers from the same index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from bench.harness import ROOT, running_server

pytestmark = pytest.mark.slow


def _answering_processes(log_text: str, after_path: str) -> set[int]:
    """Processes that logged a /v1/answer request after the first request to `after_path`."""
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    requests = [r for r in lines if r.get("logger") == "verbatim.access"]
    start = next(i for i, r in enumerate(requests) if r["path"] == after_path)
    return {r["process"] for r in requests[start:] if r["path"] == "/v1/answer"}


def test_two_workers_share_the_index_and_see_each_others_writes(tmp_path):
    data = tmp_path / "data"
    with running_server(data, "--workers", "2") as (url, proc):
        with httpx.Client(base_url=url, timeout=60) as client:
            seeded = client.post("/v1/answer", json={"question": "Who carried the torch?"})
            assert seeded.status_code == 200 and seeded.json()["answer"]
            doc = {"doc_id": "bakery", "title": "Bakery news",
                   "text": "The bakery on Elm Street sells rye bread baked with caraway seeds. "
                           "It opens at six every morning."}
            assert client.post("/v1/documents", json={"documents": [doc]}).status_code in (200, 201)
        # New connections spread over both workers; each must know the new document.
        for attempt in range(60):
            with httpx.Client(base_url=url, timeout=60) as fresh:
                body = fresh.post("/v1/answer", json={
                    "question": "What seeds are in the rye bread?"}).json()
            assert "caraway" in body["answer"]
            assert body["answers"][0]["citation"]["doc_id"] == "bakery"
            if attempt >= 5 and len(_answering_processes(
                    (data / "server.log").read_text(), "/v1/documents")) == 2:
                break
        assert len(_answering_processes((data / "server.log").read_text(), "/v1/documents")) == 2
        health = httpx.get(f"{url}/healthz").json()
        assert health["documents"] == 6 and health["vectors"] == health["sentences"]
    assert proc.returncode is not None  # SIGTERM stopped the workers and the supervisor


def test_a_second_server_on_a_taken_port_fails_with_a_message(tmp_path):
    with running_server(tmp_path / "data", "--workers", "2") as (url, _):
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", port,
             "--data-dir", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True,
            timeout=120)
        assert second.returncode != 0
        assert "cannot listen" in second.stderr and "Traceback" not in second.stderr
        assert httpx.get(f"{url}/healthz").status_code == 200  # the first one still serves


def _logged(data, message: str) -> list[dict]:
    """Log records of the server in `data` whose message starts with `message`."""
    text = (data / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [r for r in lines if r.get("message", "").startswith(message)]


def _requests(data) -> list[dict]:
    """Request log records of the server in `data`."""
    text = (data / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [r for r in lines if r.get("logger") == "verbatim.access"]


def _worker_pids(url: str, data) -> set[int]:
    """Process ids of the workers, as their request logs show them."""
    for _ in range(40):
        with httpx.Client(base_url=url, timeout=60) as fresh:
            assert fresh.get("/healthz").status_code == 200
        pids = {r["process"] for r in _requests(data)}
        if len(pids) >= 2:
            return pids
    return {r["process"] for r in _requests(data)}


def test_a_worker_that_dies_is_replaced_and_orphans_stop_by_themselves(tmp_path):
    data = tmp_path / "data"
    with running_server(data, "--workers", "2") as (url, proc):
        first = _worker_pids(url, data)
        assert len(first) == 2
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while not _logged(data, f"server process {victim} stopped"):
            assert time.monotonic() < deadline, "the dead worker was not noticed"
            time.sleep(0.2)
        # The replacement loads its model and vectors, then answers like the others.
        deadline = time.monotonic() + 120
        while len(_worker_pids(url, data) - {victim}) < 2:
            assert time.monotonic() < deadline, "no replacement worker answered"
            time.sleep(0.5)
        answer = httpx.post(f"{url}/v1/answer", json={"question": "Who carried the torch?"},
                            timeout=60).json()
        assert answer["answer"]
        # Without its supervisor a worker stops instead of holding the port as an orphan.
        workers = _worker_pids(url, data) - {victim}
        proc.kill()
        proc.wait()
        try:
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in workers):
                assert time.monotonic() < deadline, "workers outlived their supervisor"
                time.sleep(0.2)
        finally:
            for pid in workers:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether a process still runs (and is not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
