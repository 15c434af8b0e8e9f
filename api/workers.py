"""Several server processes on one port, each with a listening socket of its own.

uvicorn's own `--workers` shares one socket: whichever process wakes first accepts every
connection waiting, so 16 clients connecting at once often all landed on one worker while the
other idled (385 answers/s instead of 570). With SO_REUSEPORT the kernel spreads connections
over the workers' sockets instead.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from typing import Any

APP = "api.main:app_from_environment"


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


def _worker(options: dict[str, Any], log_format: str) -> None:
    """Serve the app (settings come from VERBATIM_* variables) on a socket of its own."""
    import uvicorn

    from api.logs import configure_logging

    configure_logging(log_format)
    sock = _listen(options["host"], options["port"])
    config = uvicorn.Config(APP, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(workers: int, options: dict[str, Any], log_format: str) -> int:
    """Start the workers and stop them all on SIGTERM or Ctrl-C (each finishes its requests);
    return the first non-zero exit status of a worker, or 0."""
    check_port_free(options["host"], options["port"])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(options, log_format),
                                 name=f"verbatim-worker-{i}") for i in range(workers)]
    stopping = []

    def stop(signum: int, _frame: object) -> None:
        """Pass the stop on to every worker still running."""
        stopping.append(signum)
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    # uvicorn re-raises the stop signal once it has shut down cleanly: that is no failure.
    stopped = {0, -signal.SIGTERM, -signal.SIGINT} if stopping else {0}
    return next((p.exitcode for p in processes if p.exitcode not in stopped), 0)
