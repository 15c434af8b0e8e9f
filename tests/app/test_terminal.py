"""What an operator sees in the terminal: readable lines, no third-party noise."""

from __future__ import annotations

import os
import sys

import pytest

from api.logs import resolve_format
from bench.harness import running_server


@pytest.mark.parametrize("terminal,expected", [(True, "text"), (False, "json")])
def test_log_lines_are_text_at_a_terminal_and_json_for_log_shippers(monkeypatch, terminal,
                                                                     expected):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    assert resolve_format("auto") == expected
    assert resolve_format("json") == "json" and resolve_format("text") == "text"


@pytest.mark.slow
def test_the_first_start_says_what_it_does_without_the_tools_chatter(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no exported model yet
    data = tmp_path / "data"
    with running_server(data, "--no-seeds", "--log-format", "text", env=env, timeout=240):
        pass
    log = (data / "server.log").read_text()
    assert "first start: exporting all-MiniLM-L6-v2 to ONNX" in log
    assert "first start: quantising all-MiniLM-L6-v2 to int8" in log
    for noise in ("Quantization parameters", "Ignore MatMul", "TracerWarning", "Loading weights",
                  "pre-processing before quantization", "Loading SentenceTransformer"):
        assert noise not in log, noise
    assert list((tmp_path / "cache" / "verbatim").glob("*-int8pc.onnx"))  # it did quantise
