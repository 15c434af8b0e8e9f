"""Several server processes on one port, each with a listening socket of its own.

uvicorn's own `--workers` shares one socket: whichever process wakes first accepts every
connection waiting, so 16 clients connecting at once often all landed on one worker while the
other idled (385 answers/s instead of 570). With SO_REUSEPORT the kernel spreads connections
over the workers' sockets instead.

The supervisor replaces a worker that dies (a crash, the kernel's OOM killer) and gives up when
workers keep dying right after they start. A worker whose supervisor is gone (`kill -9`) stops
by itself instead of serving on as an orphan.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.connection import wait
from typing import Any

APP = "api.main:app_from_environment"
QUICK_DEATH_S = 10.0  # a worker dying this soon after its start counts towards giving up
QUICK_DEATHS = 3  # that many quick deaths in a row: something is wrong beyond one worker

log = logging.getLogger(__name__)


def can_share_port() -> bool:
    """Tell whether this system lets several sockets listen on one port (SO_REUSEPORT)."""
    return hasattr(socket, "SO_REUSEPORT")


def _address(host: str, port: int) -> tuple[int, int, int, tuple]:
    """Resolve where to listen: family, socket type, protocol and address."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, kind, proto, address


def check_port_free(host: str, port: int) -> None:
    """Raise OSError when something already listens there: with SO_REUSEPORT alone, a second
    server of the same user would silently share the port instead of failing."""
    family, kind, proto, address = _address(host, port)
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def _listen(host: str, port: int) -> socket.socket:
    """Open this worker's own socket on the shared port."""
    family, kind, proto, address = _address(host, port)
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    return sock


def _stop_with(parent: int) -> None:
    """Stop this worker cleanly once its supervisor is gone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(options: dict[str, Any], log_format: str, parent: int) -> None:
    """Serve the app (settings come from VERBATIM_* variables) on a socket of its own."""
    import uvicorn

    from api.logs import configure_logging

    configure_logging(log_format)
    threading.Thread(target=_stop_with, args=(parent,), daemon=True, name="orphan-check").start()
    sock = _listen(options["host"], options["port"])
    config = uvicorn.Config(APP, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(workers: int, options: dict[str, Any], log_format: str) -> int:
    """Start the workers, replace any that dies, and stop them all on SIGTERM or Ctrl-C (each
    finishes its requests); return 0, or the status of the worker that made it give up."""
    check_port_free(options["host"], options["port"])
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    processes: dict[int, multiprocessing.process.BaseProcess] = {}  # by slot
    started: dict[int, float] = {}

    def start(slot: int) -> None:
        """Start the worker of one slot (again)."""
        processes[slot] = context.Process(target=_worker, args=(options, log_format, os.getpid()),
                                          name=f"verbatim-worker-{slot}")
        processes[slot].start()
        started[slot] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        """Pass the stop on to every worker still running."""
        stopping.append(signum)
        for process in processes.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        start(slot)
    failure, quick = 0, 0
    while not stopping and not failure:
        wait([p.sentinel for p in processes.values()], timeout=1.0)
        for slot, process in list(processes.items()):
            if process.is_alive() or stopping:
                continue
            quick = quick + 1 if time.monotonic() - started[slot] < QUICK_DEATH_S else 0
            if quick >= QUICK_DEATHS:
                log.error("server processes keep stopping right after they start (last status "
                          "%s); stopping", process.exitcode)
                failure = process.exitcode or 1
                stop(signal.SIGTERM, None)
                break
            log.warning("server process %s stopped with status %s; starting another",
                        process.pid, process.exitcode)
            start(slot)
    if stopping:
        stop(stopping[0], None)  # a worker started while the stop came in hears it too
    for process in processes.values():
        process.join()
    if failure:
        return failure
    # uvicorn re-raises the stop signal once it has shut down cleanly: that is no failure.
    return next((p.exitcode for p in processes.values() if p.exitcode not in
                 {0, -signal.SIGTERM, -signal.SIGINT}), 0)
