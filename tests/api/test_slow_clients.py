"""Slow clients (slowloris) against a real `qa serve`: connections are cut, not hoarded."""

from __future__ import annotations

import os
import socket
import time

import httpx
import pytest

from bench.harness import start_server, stop_server

pytestmark = pytest.mark.slow


def _drip(port: int) -> socket.socket:
    """Open a connection and send only the start of a request's headers."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return s


def _closed(s: socket.socket, wait: float) -> bool:
    """Whether the server closed the connection within `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_slow_headers_are_cut_and_the_connection_cap_holds(tmp_path):
    env = {**os.environ, "VERBATIM_HEADER_TIMEOUT": "1.5", "VERBATIM_MAX_CONNECTIONS": "20"}
    url, proc = start_server(tmp_path / "data", "--no-seeds", env=env)
    port = int(url.rsplit(":", 1)[1])
    try:
        slow = [_drip(port) for _ in range(25)]
        time.sleep(0.3)
        refused = sum(_closed(s, 0.2) for s in slow)
        assert refused >= 5  # past the cap: closed at once
        for s in slow:
            try:
                s.sendall(b"X-Drip: 1\r\n")  # a byte now and then does not keep it open
            except OSError:
                pass
        t0 = time.monotonic()
        assert all(_closed(s, 5.0) for s in slow)
        assert time.monotonic() - t0 < 5.0
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # others served again
        body = httpx.post(f"{url}/v1/answer", json={"question": "Anything here?"}, timeout=30)
        assert body.status_code == 200
    finally:
        for s in slow:
            s.close()
        stop_server(proc)
