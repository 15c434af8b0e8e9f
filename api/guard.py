"""Connection guard: slow or idle clients cannot hold the server's connections for ever.

uvicorn waits as long as a client likes for a request's headers and body; one process that
opens thousands of connections and sends a byte now and then (slowloris) used up every file
descriptor. This protocol closes a connection whose headers have not all arrived within
`header_timeout` seconds of connecting (or of a further request's first byte), or whose body
has not within `body_timeout`, and
refuses connections past `max_connections` at once. Behind a reverse proxy, let the proxy hold
the slow clients (see the README's security section).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qa.config import Settings


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read deadlines and a connection cap."""

    header_timeout = 10.0
    body_timeout = 120.0
    max_connections = 1000

    @classmethod
    def configure(cls, settings: Settings) -> None:
        """Take the limits from the settings (each server process calls this once)."""
        cls.header_timeout = settings.header_timeout
        cls.body_timeout = settings.body_timeout
        cls.max_connections = settings.max_connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse past the cap; otherwise start the clock for the first request's headers."""
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.close()
            return
        self._arm(self.header_timeout)

    def _arm(self, seconds: float) -> None:
        """(Re)start the clock the current part of the request must arrive within."""
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        """Stop the clock: nothing is being waited for from the client."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        """Close a connection whose request did not arrive in time."""
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        """A request starts: its headers have `header_timeout` seconds."""
        super().on_message_begin()
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        """Headers are in: the body has `body_timeout` seconds."""
        super().on_headers_complete()
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        """The whole request arrived: the app's time is not the client's."""
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)
