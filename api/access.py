"""Who may change the corpus: an API key for writes, and no open writes off loopback."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Annotated

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

    @classmethod
    def from_settings(cls, settings: Settings) -> WritePolicy:
        """Decide from the key, the listening address and the explicit opt-in."""
        if settings.api_key is not None:
            return cls(settings.api_key.get_secret_value(), open=False)
        if is_loopback(settings.host) or settings.allow_open_writes:
            return cls(None, open=True)
        return cls(None, open=False, reason=(
            f"writes are disabled: the server listens on {settings.host} without an API key; "
            "set VERBATIM_API_KEY (or --api-key), or pass --allow-open-writes"))

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


Writer = [Depends(require_writer)]
