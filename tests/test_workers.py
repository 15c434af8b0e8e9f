"""Several server processes on one data directory: every worker answers from the same index."""

from __future__ import annotations

import httpx

from tests.live_server import running_server


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
            # Requests spread over both workers; each must know the new document.
            for _ in range(12):
                with httpx.Client(base_url=url, timeout=60) as fresh:  # new connection
                    body = fresh.post("/v1/answer", json={
                        "question": "What seeds are in the rye bread?"}).json()
                assert "caraway" in body["answer"]
                assert body["answers"][0]["citation"]["doc_id"] == "bakery"
            health = client.get("/healthz").json()
            assert health["documents"] == 6 and health["vectors"] == health["sentences"]
    assert proc.returncode is not None  # SIGTERM stopped the workers and the supervisor
