"""A real `qa serve` process on a free loopback port, for end-to-end tests and the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Find a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, *args: str, timeout: float = 120.0,
                 env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
    """Start `qa serve --data-dir data_dir ARGS` and wait until /healthz answers."""
    port = free_port()
    log_path = Path(data_dir) / "server.log"
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port),
                                 "--data-dir", str(data_dir), *args],
                                cwd=ROOT, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited: {log_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"qa serve did not start in {timeout:.0f} s")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)


def stop_server(proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """Ask the server to stop (SIGTERM), as an operator would, and return its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextmanager
def running_server(data_dir: Path, *args: str, timeout: float = 120.0
                   ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `qa serve` for the duration of a block."""
    url, proc = start_server(data_dir, *args, timeout=timeout)
    try:
        yield url, proc
    finally:
        stop_server(proc)
