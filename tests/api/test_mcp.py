"""The MCP server, driven by the official SDK's own client: in process, over Streamable HTTP
on a running server (with the API key), and over stdio as `qa mcp` runs for an assistant."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from api.main import create_app
from api.mcp import build_mcp, local_access
from qa.app.service import Verbatim
from qa.config import Settings
from qa.reading.documents import make_document
from qa.reading.metadata import make_metadata

ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = make_document(
    "Lunch is served in the cafeteria until two in the afternoon. Visitors sign in at the "
    "front desk.", "handbook", "Staff handbook", metadata=make_metadata("handbook", ["hr"]))
OPS = make_document(
    "Backups of the file server run every night at midnight. The server room is on the "
    "second floor.", "ops", "Operations guide", metadata=make_metadata("ops", ["it"]))


def run(coro):
    """Drive an async client from a plain test."""
    return anyio.run(coro)


@pytest.fixture
def filed(service: Verbatim) -> Verbatim:
    """A service holding two documents in two collections."""
    service.add_documents([HANDBOOK, OPS])
    return service


def test_tools_quote_cite_filter_and_refuse_writes_in_process(filed: Verbatim) -> None:
    server = build_mcp(lambda: filed, local_access(False))

    async def session():
        async with Client(server) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            ask = await client.call_tool("ask", {"question": "When do backups run?"})
            fenced = await client.call_tool("ask", {"question": "When do backups run?",
                                                    "collection": "handbook"})
            typo = await client.call_tool("ask", {"question": "When?", "filter": {"colour": 1}})
            found = await client.call_tool("search", {"query": "lunch", "top_k": 2})
            listed = await client.call_tool("list_documents", {"collection": "ops"})
            part = await client.call_tool("get_document", {"doc_id": "ops", "start": 0,
                                                           "end": 20})
            add = await client.call_tool("add_document", {"text": "New text here."})
            return names, ask, fenced, typo, found, listed, part, add

    names, ask, fenced, typo, found, listed, part, add = run(session)
    assert {"ask", "search", "get_document", "list_documents", "add_document"} <= names
    answer = ask.structured_content
    assert answer["answered"] and "midnight" in answer["quote"]
    cited = answer["citation"]
    assert OPS.text[cited["start"]:cited["end"]] == answer["quote"]  # offsets are exact
    # The handbook alone cannot say when backups run: nothing from "ops" comes back.
    assert all(r["citation"]["doc_id"] == "handbook"
               for r in fenced.structured_content.get("related", []) +
               fenced.structured_content.get("ranked", []))
    assert typo.is_error and "unknown field 'colour'" in typo.content[0].text
    assert "lunch" in found.structured_content["results"][0]["quote"].lower()
    assert [d["doc_id"] for d in listed.structured_content["documents"]] == ["ops"]
    assert part.structured_content["text"] == OPS.text[:20]
    assert add.is_error and "--allow-add" in add.content[0].text
    assert filed.get_document(make_document("New text here.").doc_id) is None


def _free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app(settings: Settings, service: Verbatim) -> Iterator[str]:
    """The app on a real port (loopback), serving /mcp; yields its MCP URL."""
    port = _free_port()
    settings = Settings(**{**settings.model_dump(), "port": port})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, service=service, seed=False),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(filed: Verbatim) -> Iterator[str]:
    """The app with an API key, serving /mcp; yields its MCP URL."""
    settings = Settings(**{**filed.settings.model_dump(), "api_key": "s3cret"})
    with served_app(settings, filed) as url:
        yield url


def test_streamable_http_reads_are_open_and_writes_need_the_api_key(served: str,
                                                                     filed: Verbatim) -> None:
    async def call(headers: dict[str, str], tool: str, args: dict):
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
                Client(streamable_http_client(served, http_client=http)) as client:
            return await client.call_tool(tool, args)

    asked = run(lambda: call({}, "ask", {"question": "Where do visitors sign in?"}))
    assert asked.structured_content["answered"]
    assert "front desk" in asked.structured_content["quote"]
    refused = run(lambda: call({}, "add_document", {"text": "Parking is free on Sundays.",
                                                    "doc_id": "parking"}))
    assert refused.is_error and "API key" in refused.content[0].text
    assert filed.get_document("parking") is None
    added = run(lambda: call({"Authorization": "Bearer s3cret"}, "add_document",
                             {"text": "Parking is free on Sundays.", "doc_id": "parking",
                              "collection": "handbook"}))
    assert not added.is_error and added.structured_content["added"]
    assert filed.get_document("parking").metadata.collection == "handbook"


@pytest.mark.slow
def test_qa_mcp_over_stdio_answers_as_an_assistant_would_run_it(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ops.txt").write_text(OPS.text)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VERBATIM_DATA_DIR": str(tmp_path / "data")}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "api.cli", "add", str(tmp_path / "docs")],
                                   env=env, cwd=str(ROOT))
    import subprocess
    subprocess.run([params.command, *params.args], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "api.cli", "mcp", "--no-seeds"], env=env,
                                   cwd=str(ROOT))

    async def session():
        async with Client(params, read_timeout_seconds=120) as client:
            return await client.call_tool("ask", {"question": "When do backups run?"})

    result = run(session)
    assert result.structured_content["answered"]
    assert "midnight" in result.structured_content["quote"]
