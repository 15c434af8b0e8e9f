"""Several server processes on one data directory: every worker answers from the same index."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.live_server import ROOT, running_server


def _answering_processes(log_text: str, after_path: str) -> set[int]:
    """Processes that logged a /v1/answer request after the first request to `after_path`."""
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    requests = [r for r in lines if r.get("message") == "request"]
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
            [sys.executable, "-m", "qa.cli", "serve", "--workers", "2", "--port", port,
             "--data-dir", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True,
            timeout=120)
        assert second.returncode != 0
        assert "cannot listen" in second.stderr and "Traceback" not in second.stderr
        assert httpx.get(f"{url}/healthz").status_code == 200  # the first one still serves
