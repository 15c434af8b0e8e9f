"""Health endpoint."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Service
from api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz(service: Service) -> Health:
    """Tell monitors the service is up and what it holds."""
    return Health.model_validate(service.health())
