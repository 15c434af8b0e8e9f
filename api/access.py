"""Who may read and change the corpus: an API key for writes, no open writes off loopback, and
scoped keys (`api_keys_file`) that limit a key to some collections and to reading or writing."""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
class Scope:
    """What one caller may do: read and/or write, in some collections (None: all of them)."""

    collections: frozenset[str] | None = None
    read: bool = True
    write: bool = False

    def allows(self, collection: str) -> bool:
        """Whether this caller may see (or write) a document of this collection."""
        return self.collections is None or collection in self.collections


EVERYTHING = Scope(None, read=True, write=True)


class KeysFileError(ValueError):
    """A scoped keys file that cannot be used; the message says what to fix."""


def load_scoped_keys(path: Path) -> dict[str, Scope]:
    """Read `{"<key>": {"collections": [...] or "*", "rights": ["read", "write"]}}`."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise KeysFileError(f"cannot read the keys file {path}: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise KeysFileError(f"{path}: write a JSON object of key -> {{\"collections\", "
                            f"\"rights\"}}")
    keys = {}
    for key, grant in raw.items():
        shown = f"{key[:4]}..."
        if len(key) < 16:
            raise KeysFileError(f"{path}: key {shown} is shorter than 16 characters")
        if not isinstance(grant, dict):
            raise KeysFileError(f"{path}: key {shown} needs {{\"collections\", \"rights\"}}")
        collections, rights = grant.get("collections", "*"), grant.get("rights", ["read"])
        if collections != "*" and not (isinstance(collections, list) and all(
                isinstance(c, str) for c in collections)):
            raise KeysFileError(f"{path}: key {shown}: collections is \"*\" or a list of names")
        if not isinstance(rights, list) or not set(rights) <= {"read", "write"} or not rights:
            raise KeysFileError(f"{path}: key {shown}: rights is a list of \"read\", \"write\"")
        keys[key] = Scope(None if collections == "*" else frozenset(collections),
                          read="read" in rights, write="write" in rights)
    return keys


@dataclass(frozen=True)
class WritePolicy:
    """How requests are let through, decided once at start-up."""

    api_key: str | None = field(repr=False)  # never in a log line or a traceback
    open: bool
    reason: str = ""
    loopback_only: bool = False  # open because only this machine can connect
    scoped: Mapping[str, Scope] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> WritePolicy:
        """Decide from the keys, the listening address and the explicit opt-in."""
        scoped = load_scoped_keys(settings.api_keys_file) if settings.api_keys_file else {}
        if settings.api_key is not None:
            return cls(settings.api_key.get_secret_value(), open=False, scoped=scoped)
        if scoped:
            return cls(None, open=False, scoped=scoped)
        if is_loopback(settings.host):
            return cls(None, open=True, loopback_only=True)
        if settings.allow_open_writes:
            return cls(None, open=True)
        return cls(None, open=False, reason=(
            f"writes are disabled: the server listens on {settings.host} without an API key; "
            "set VERBATIM_API_KEY (or --api-key), or pass --allow-open-writes"))

    def scope_of(self, token: str) -> Scope | None:
        """The scope a presented key grants (None: no such key), compared in constant time."""
        found = None
        if self.api_key is not None and secrets.compare_digest(token.encode(),
                                                               self.api_key.encode()):
            found = EVERYTHING
        for key, scope in self.scoped.items():
            if secrets.compare_digest(token.encode(), key.encode()):
                found = scope
        return found

    def reader(self, token: str) -> Scope | str:
        """What a request with this key (maybe empty) may read, or why it may not read."""
        if not self.scoped:  # reads are open, as they always were
            return self.scope_of(token) or Scope(None, read=True, write=False)
        scope = self.scope_of(token) if token else None
        if scope is None:
            return ("this server needs an API key for every request (Authorization: Bearer "
                    "<key>); " + ("got a wrong one" if token else "got none"))
        if not scope.read:
            return "this key may write but not read"
        return scope

    @property
    def mode(self) -> str:
        """What a client must do to write, for the page to offer: "open" (nothing), "key"
        (send the API key) or "off" (writes are disabled on this server)."""
        if self.api_key is not None or self.scoped:
            return "key"
        return "open" if self.open else "off"

    def describe(self) -> str:
        """Say at start-up who can write, so an operator sees an open server at once."""
        if self.scoped:
            return (f"every request needs a key: {len(self.scoped)} scoped key(s)"
                    + (" and the API key" if self.api_key else ""))
        if self.api_key:
            return "writes need the API key (Authorization: Bearer <key>)"
        if self.open:
            return "writes are open to anyone who can reach this address (no API key set)"
        return self.reason


def read_scope(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Scope:
    """What this request may read: everything where reads are open, else its key's
    collections (401 without a known key, 403 for a write-only key)."""
    policy: WritePolicy = request.app.state.write_policy
    token = credentials.credentials if credentials is not None else ""
    scope = policy.reader(token)
    if isinstance(scope, str):  # a known key refused is 403; no key, or an unknown one, 401
        status = 403 if token and policy.scope_of(token) is not None else 401
        raise HTTPException(status, scope, headers={"WWW-Authenticate": "Bearer"})
    return scope


Reader = Annotated[Scope, Depends(read_scope)]


def require_writer(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Scope:
    """Refuse writes without the right key (401), with a read-only key or while writes are
    closed (403); what the key may write to."""
    policy: WritePolicy = request.app.state.write_policy
    if policy.api_key is not None or policy.scoped:
        given = credentials.credentials if credentials is not None else ""
        scope = policy.scope_of(given) if given else None
        if scope is None:
            reason = "a wrong API key" if given else "no API key"
            raise HTTPException(401, f"this endpoint changes the index and needs the API key "
                                     f"(Authorization: Bearer <key>); got {reason}",
                                headers={"WWW-Authenticate": "Bearer"})
        if not scope.write:
            raise HTTPException(403, "this key may read but not change the index")
        return scope
    if not policy.open:
        raise HTTPException(403, policy.reason)
    refused = cross_site(request, policy)
    if refused:
        raise HTTPException(403, f"writes without an API key must come from this server's own "
                                 f"page or a script, not from another site: {refused}")
    return EVERYTHING


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


Writer = Annotated[Scope, Depends(require_writer)]
