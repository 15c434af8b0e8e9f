"""Scoped keys: a key sees and changes only its collections, on every path (answers,
citations, documents, originals, the OpenAI endpoint, MCP), and reads need a key once scoped
keys are configured."""

from __future__ import annotations

import json

import anyio
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from api.access import KeysFileError, load_scoped_keys
from api.main import create_app
from qa.config import Settings
from tests.api.test_mcp import HANDBOOK, OPS, served_app
from tests.conftest import LOCAL

HR_KEY = "hr-reader-0123456789abcdef"
OPS_KEY = "ops-writer-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdef"


@pytest.fixture
def keys_file(tmp_path):
    """Two scoped keys: the handbook's readers, and the operations team (read and write)."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({HR_KEY: {"collections": ["handbook"], "rights": ["read"]},
                                OPS_KEY: {"collections": ["ops"], "rights": ["read", "write"]}}))
    return path


@pytest.fixture
def scoped(service, keys_file):
    """An app over a handbook and an operations guide, with scoped keys and an API key."""
    service.add_documents([HANDBOOK, OPS])
    settings = Settings(**{**service.settings.model_dump(), "api_key": ADMIN,
                           "api_keys_file": keys_file})
    with TestClient(create_app(settings, service=service, seed=False), base_url=LOCAL) as c:
        yield c


def as_key(key: str) -> dict[str, str]:
    """The header a key travels in."""
    return {"Authorization": f"Bearer {key}"}


def test_without_a_key_nothing_is_read(scoped):
    for response in (scoped.post("/v1/answer", json={"question": "When do backups run?"}),
                     scoped.get("/v1/documents"), scoped.get("/v1/documents/ops"),
                     scoped.get("/v1/models"),
                     scoped.post("/v1/answer", json={"question": "When?"},
                                 headers=as_key("not-a-key-at-all-0000"))):
        assert response.status_code == 401


def test_a_key_sees_only_its_collections_everywhere(scoped):
    hr = as_key(HR_KEY)
    body = scoped.post("/v1/answer", json={"question": "When do backups run?", "top_k": 5},
                       headers=hr).json()
    assert {a["citation"]["doc_id"] for a in body["answers"]} <= {"handbook"}
    assert "midnight" not in json.dumps(body)
    listed = scoped.get("/v1/documents", headers=hr).json()
    assert [d["doc_id"] for d in listed["documents"]] == ["handbook"]
    assert listed["collections"] == ["handbook"]
    assert scoped.get("/v1/documents/ops", headers=hr).status_code == 404
    assert scoped.get("/v1/documents/ops/original", headers=hr).status_code == 404
    refused = scoped.post("/v1/answer", json={"question": "When?", "collection": "ops"},
                          headers=hr)
    assert refused.status_code == 422 and "ops" not in refused.json()["detail"].split(";")[1]
    chat = scoped.post("/v1/chat", headers=hr, json={"messages": [
        {"role": "user", "content": "When do backups of the file server run?"}]}).json()
    assert "midnight" not in json.dumps(chat)
    completion = scoped.post("/v1/chat/completions", headers=hr, json={
        "model": "verbatim", "messages": [{"role": "user", "content": "When do backups run?"}]})
    assert completion.status_code == 200 and "midnight" not in completion.text
    assert scoped.post("/v1/chat/completions", headers=hr, json={
        "model": "verbatim:ops", "messages": [{"role": "user", "content": "x?"}]}
    ).status_code == 404
    admin = scoped.get("/v1/documents", headers=as_key(ADMIN)).json()
    assert {d["doc_id"] for d in admin["documents"]} == {"handbook", "ops"}


def test_a_key_writes_only_where_it_may(scoped):
    hr, ops = as_key(HR_KEY), as_key(OPS_KEY)
    note = {"doc_id": "note", "text": "The spare keys hang in the server room.",
            "collection": "ops"}
    assert scoped.post("/v1/documents", json={"documents": [note]}, headers=hr).status_code == 403
    assert scoped.post("/v1/documents", json={"documents": [note]}, headers=ops).status_code == 200
    elsewhere = {**note, "doc_id": "note2", "collection": "handbook"}
    assert scoped.post("/v1/documents", json={"documents": [elsewhere]},
                       headers=ops).status_code == 403
    takeover = {**note, "doc_id": "handbook"}  # replacing another collection's document
    assert scoped.post("/v1/documents", json={"documents": [takeover]},
                       headers=ops).status_code == 403
    assert scoped.delete("/v1/documents/handbook", headers=ops).status_code == 404
    assert scoped.post("/v1/index/rebuild", headers=ops).status_code == 403
    assert scoped.get("/v1/documents/handbook", headers=as_key(ADMIN)).status_code == 200


def test_mcp_over_http_keeps_a_key_to_its_collections(service, keys_file):
    service.add_documents([HANDBOOK, OPS])
    settings = Settings(**{**service.settings.model_dump(), "api_keys_file": keys_file})

    async def calls(url: str):
        async with httpx2.AsyncClient(headers=as_key(HR_KEY), timeout=30) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            asked = await client.call_tool("ask", {"question": "When do backups run?"})
            listed = await client.call_tool("list_documents", {})
            read = await client.call_tool("get_document", {"doc_id": "ops"})
            added = await client.call_tool("add_document", {"text": "A note.",
                                                            "collection": "handbook"})
        async with httpx2.AsyncClient(timeout=30) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            anonymous = await client.call_tool("search", {"query": "backups"})
        return asked, listed, read, added, anonymous

    with served_app(settings, service) as url:
        asked, listed, read, added, anonymous = anyio.run(calls, url)
    assert "midnight" not in json.dumps(asked.structured_content)
    assert [d["doc_id"] for d in listed.structured_content["documents"]] == ["handbook"]
    assert read.is_error and "no document" in read.content[0].text
    assert added.is_error
    assert anonymous.is_error and "needs an API key" in anonymous.content[0].text


@pytest.mark.parametrize("content,reason", [
    ("not json", "cannot read the keys file"),
    (json.dumps({"short": {"collections": "*"}}), "shorter than 16 characters"),
    (json.dumps({HR_KEY: {"rights": ["admin"]}}), "rights is a list"),
])
def test_a_broken_keys_file_is_refused_with_what_to_fix(tmp_path, content, reason):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeysFileError, match=reason):
        load_scoped_keys(path)
