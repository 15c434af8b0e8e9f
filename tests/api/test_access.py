"""Who may write, CORS, metrics and request logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.access import is_loopback
from api.main import create_app
from tests.conftest import LOCAL

DOC = {"documents": [{"doc_id": "d1", "text": "The rover landed in a crater near the pole."}]}


def _client(service, **overrides) -> TestClient:
    """An app over `service` with some settings changed."""
    settings = service.settings.model_copy(update=overrides)
    return TestClient(create_app(settings, service=service, seed=False), base_url=LOCAL)


@pytest.fixture
def keyed(service) -> Iterator[TestClient]:
    """A server with an API key."""
    with _client(service, api_key=SecretStr("s3cret-key")) as c:
        yield c


def test_writes_need_the_api_key_when_one_is_set(keyed):
    r = keyed.post("/v1/documents", json=DOC)
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert keyed.post("/v1/documents", json=DOC,
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert keyed.post("/v1/documents", json=DOC,
                      headers={"Authorization": "Basic s3cret-key"}).status_code == 401
    assert keyed.delete("/v1/documents/d1").status_code == 401
    assert keyed.post("/v1/index/rebuild").status_code == 401
    assert keyed.get("/v1/documents").json()["documents"] == []  # nothing got in

    good = {"Authorization": "Bearer s3cret-key"}
    assert keyed.post("/v1/documents", json=DOC, headers=good).status_code == 200
    # Reads stay open.
    assert keyed.get("/v1/documents").status_code == 200
    assert keyed.post("/v1/answer", json={"question": "Where did the rover land?"}).json()[
        "answers"][0]["citation"]["doc_id"] == "d1"
    assert keyed.delete("/v1/documents/d1", headers=good).status_code == 200


def test_the_key_protects_uploads_too(keyed):
    r = keyed.post("/v1/documents", files=[("files", ("a.txt", b"Some words here.", "text/plain"))])
    assert r.status_code == 401


def test_a_public_address_without_a_key_refuses_writes(service):
    with _client(service, host="0.0.0.0") as c:
        r = c.post("/v1/documents", json=DOC)
        assert r.status_code == 403
        assert "--allow-open-writes" in r.json()["detail"] and "VERBATIM_API_KEY" in r.json()["detail"]
        assert c.post("/v1/answer", json={"question": "Where did the rover land?"}).status_code == 200
    with _client(service, host="0.0.0.0", allow_open_writes=True) as c:
        assert c.post("/v1/documents", json=DOC).status_code == 200


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False),
])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_cors_is_off_by_default_and_configurable(service):
    origin = {"Origin": "https://intranet.example"}
    with _client(service) as c:
        r = c.get("/healthz", headers=origin)
        assert "access-control-allow-origin" not in r.headers
    with _client(service, cors_origins=["https://intranet.example"]) as c:
        r = c.get("/healthz", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://intranet.example"
        r = c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = c.options("/v1/answer", headers={**origin, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200


def _sample(text: str, name: str, **labels: str) -> float | None:
    """Read one sample's value from Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_per_endpoint_and_report_the_index(client):
    client.post("/v1/documents", json=DOC)
    for _ in range(3):
        client.post("/v1/answer", json={"question": "Where did the rover land?"})
    client.post("/v1/answer", json={"question": ""})
    client.get("/v1/documents/nope")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert _sample(text, "verbatim_http_requests_total", endpoint="/v1/answer", status="200") == 3
    assert _sample(text, "verbatim_http_requests_total", endpoint="/v1/answer", status="422") == 1
    assert _sample(text, "verbatim_http_requests_total", endpoint="/v1/documents/{doc_id}",
                   status="404") == 1
    assert _sample(text, "verbatim_http_request_duration_seconds_count",
                   endpoint="/v1/answer") == 4
    assert _sample(text, "verbatim_index_documents") == 1
    assert _sample(text, "verbatim_index_sentences") == _sample(text, "verbatim_index_vectors") == 1


def test_health_reports_counts_that_agree(client):
    client.post("/v1/documents", json=DOC)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["documents"] == 1
    assert body["vectors"] == body["sentences"] == 1


def test_every_request_is_logged_with_its_id_status_and_duration(client, caplog):
    with caplog.at_level(logging.INFO, logger="verbatim.access"):
        r = client.post("/v1/answer", json={"question": "Anything?"},
                        headers={"X-Request-ID": "abc-123"})
        client.get("/v1/documents/missing")
    assert r.headers["x-request-id"] == "abc-123"
    records = [rec for rec in caplog.records if rec.name == "verbatim.access"]
    assert [(rec.endpoint, rec.status) for rec in records] == [
        ("/v1/answer", 200), ("/v1/documents/{doc_id}", 404)]
    assert records[0].request_id == "abc-123" and records[0].duration_ms >= 0
    assert records[1].request_id and records[1].request_id != "abc-123"
    # read on its own, as text logs show it: method, path, status and time
    assert re.fullmatch(r"POST /v1/answer 200 \d+\.\d ms", records[0].getMessage())
    assert records[1].getMessage().startswith("GET /v1/documents/missing 404 ")


CROSS_SITE = {
    "another localhost port": {"origin": "http://127.0.0.1:9999",
                               "sec-fetch-site": "same-site"},
    "a file:// page": {"origin": "null", "sec-fetch-site": "cross-site"},
    "a text/plain form post": {"origin": "https://evil.example", "content-type": "text/plain"},
    "fetch metadata only": {"sec-fetch-site": "cross-site"},
    "DNS rebinding": {"host": "evil.attacker.example:8000"},
}


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_keyless_writes_from_other_sites_are_refused(client, headers):
    doc = {"documents": [{"doc_id": "planted", "text": "Planted by another page."}]}
    r = client.post("/v1/documents", json=doc, headers=headers)
    assert r.status_code in (403, 415) and "detail" in r.json(), r.text
    r = client.post("/v1/index/rebuild", headers=headers)
    assert r.status_code == 403 and "another site" in r.json()["detail"], r.text
    assert client.get("/v1/documents").json()["documents"] == []


def test_the_page_itself_and_scripts_can_still_write_without_a_key(client):
    page = {"origin": LOCAL, "sec-fetch-site": "same-origin"}
    doc = {"documents": [{"doc_id": "mine", "text": "Added from the page."}]}
    assert client.post("/v1/documents", json=doc, headers=page).status_code == 200
    assert client.delete("/v1/documents/mine").status_code == 200  # curl: no browser headers
    reads = client.post("/v1/answer", json={"question": "Who added it?"},
                        headers={"origin": "https://elsewhere.example"})
    assert reads.status_code == 200  # reads stay open
