"""Who may change the corpus: an API key for writes, and no open writes off loopback."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa.config import Settings

bearer = HTTPBearer(auto_error=False, scheme_name="APIKey",
                    description="The server's API key (VERBATIM_API_KEY); needed for writes "
                                "when one is set.")


def is_loopback(host: str) -> bool:
    """Tell whether only this machine can reach an address, so open writes are safe there."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: assume it is reachable


@dataclass(frozen=True)
class WritePolicy:
    """How write requests are let through, decided once at start-up."""

    api_key: str | None = field(repr=False)  # never in a log line or a traceback
    open: bool
    reason: str = ""
    loopback_only: bool = False  # open because only this machine can connect

    @classmethod
    def from_settings(cls, settings: Settings) -> WritePolicy:
        """Decide from the key, the listening address and the explicit opt-in."""
        if settings.api_key is not None:
            return cls(settings.api_key.get_secret_value(), open=False)
        if is_loopback(settings.host):
            return cls(None, open=True, loopback_only=True)
        if settings.allow_open_writes:
            return cls(None, open=True)
        return cls(None, open=False, reason=(
            f"writes are disabled: the server listens on {settings.host} without an API key; "
            "set VERBATIM_API_KEY (or --api-key), or pass --allow-open-writes"))

    @property
    def mode(self) -> str:
        """What a client must do to write, for the page to offer: "open" (nothing), "key"
        (send the API key) or "off" (writes are disabled on this server)."""
        if self.api_key is not None:
            return "key"
        return "open" if self.open else "off"

    def describe(self) -> str:
        """Say at start-up who can write, so an operator sees an open server at once."""
        if self.api_key:
            return "writes need the API key (Authorization: Bearer <key>)"
        if self.open:
            return "writes are open to anyone who can reach this address (no API key set)"
        return self.reason


def require_writer(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Refuse writes without the right key (401) or while writes are closed (403)."""
    policy: WritePolicy = request.app.state.write_policy
    if policy.api_key is not None:
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), policy.api_key.encode()):
            reason = "a wrong API key" if given else "no API key"
            raise HTTPException(401, f"this endpoint changes the index and needs the API key "
                                     f"(Authorization: Bearer <key>); got {reason}",
                                headers={"WWW-Authenticate": "Bearer"})
        return
    if not policy.open:
        raise HTTPException(403, policy.reason)
    refused = cross_site(request, policy)
    if refused:
        raise HTTPException(403, f"writes without an API key must come from this server's own "
                                 f"page or a script, not from another site: {refused}")


def cross_site(request: Request, policy: WritePolicy) -> str:
    """Why a keyless write looks like another web page's doing ('' when it does not).

    Any page a user visits can send requests to loopback. Browsers say where a request comes
    from (Origin, Sec-Fetch-Site); scripts and curl send neither and are let through. A Host
    that is not loopback reached a loopback server through a rebound DNS name.
    """
    headers = request.headers
    host = headers.get("host", "")
    if policy.loopback_only and not is_loopback(urlsplit(f"//{host}").hostname or ""):
        return f"Host {host!r} is not this server's loopback address"
    site = headers.get("sec-fetch-site", "").lower()
    if site and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site is {site!r}"
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        return f"Origin {origin!r} is not {host!r}"
    return ""


Writer = [Depends(require_writer)]
