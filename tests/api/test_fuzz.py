"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema; no 5xx, ever."""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.main import create_app
from bench.harness import running_server
from qa.config import Settings

pytestmark = pytest.mark.slow

DOCS = {"documents": [
    {"doc_id": "harbour", "title": "Harbour", "text": "The ferry leaves the harbour at seven. "
     "It reaches the island after a two-hour crossing."},
    {"doc_id": "market", "title": "Market", "text": "The market opens on Saturdays. "
     "Farmers sell cheese, bread and honey from the valley."},
]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real `qa serve` over a small corpus, shared by the fuzzing cases."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    with running_server(data_dir, "--no-seeds") as (url, _):
        assert httpx.post(f"{url}/v1/documents", json=DOCS, timeout=60).status_code == 200
        yield url


# The schema the server publishes (building the app does not start it).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_server_fail(case, server):
    response = case.call(base_url=server, timeout=60)
    assert response.status_code < 500, (response.status_code, response.text[:500],
                                        case.as_curl_command())
    if response.status_code >= 400:
        body = response.json()
        # Verbatim's own shape, or the OpenAI protocol's on its compatible endpoints.
        detail = body.get("detail") or (body.get("error") or {}).get("message")
        assert detail, "4xx answers say why"


def _json_only(spec: dict) -> dict:
    """The same schema with document uploads offered as JSON only, so JSON bodies get fuzzed too."""
    spec = copy.deepcopy(spec)
    body = spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    body.pop("multipart/form-data")
    return spec


json_schema = schemathesis.openapi.from_dict(_json_only(create_app(Settings()).openapi()))


@json_schema.include(path="/v1/documents", method="POST").parametrize()
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_json_document_adds_never_fail_the_server(case, server):
    response = case.call(base_url=server, timeout=60)
    assert response.status_code < 500, (response.status_code, response.text[:500])
