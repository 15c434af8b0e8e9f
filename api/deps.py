"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.app.service import Verbatim


def get_service(request: Request) -> Verbatim:
    """Give routes the app's one Verbatim service."""
    return request.app.state.verbatim


Service = Annotated[Verbatim, Depends(get_service)]
