"""The FastAPI application: routes, error handling, start-up (model, index, seeds) and the page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from api.access import WritePolicy
from api.mcp import build_mcp, http_access
from api.metrics import Metrics
from api.middleware import BodyLimit, ObserveRequests, SecurityHeaders
from api.openai_schemas import error_body
from api.routes import answer, completions, documents, health, metrics
from qa.answering.filters import FilterError
from qa.app.service import Verbatim
from qa.config import Settings, describe_errors
from qa.indexing.indexer import ModelMismatch
from qa.reading.documents import DocumentError
from qa.reading.metadata import MetadataError

log = logging.getLogger("verbatim.api")
STATIC_DIR = Path(__file__).with_name("static")


def app_from_environment() -> FastAPI:
    """Build one worker's app from VERBATIM_* variables (`qa serve --workers N` sets them)."""
    from api.guard import GuardedHttpToolsProtocol
    from api.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)  # a fresh process: the parent's set-up is not inherited
    GuardedHttpToolsProtocol.configure(settings)
    return create_app(settings, seed=settings.seed_on_start)


def mount_mcp(app: FastAPI, policy: WritePolicy) -> MCPServer:
    """Serve the MCP tools at /mcp (Streamable HTTP, one JSON reply per request), writes
    allowed as on the API; on loopback, requests naming another host or a web page's origin
    are refused (DNS rebinding), as keyless API writes are."""
    server = build_mcp(lambda: app.state.verbatim, http_access(policy))
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    if policy.loopback_only:
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"])
    http = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                      json_response=True, transport_security=security)
    [route] = [r for r in http.routes if getattr(r, "path", None) == "/mcp"]
    app.router.routes.append(Route("/mcp", endpoint=route.endpoint,
                                   methods=["GET", "POST", "DELETE"], include_in_schema=False))
    return server


def create_app(settings: Settings | None = None, service: Verbatim | None = None,
               seed: bool = True) -> FastAPI:
    """Build the app around one service; start-up loads the model and indexes the seeds."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verbatim = service or Verbatim(settings)
        verbatim.warm_up()
        if seed:
            report = verbatim.ensure_seeded()
            if report:
                log.info("indexed the seeds: %s", asdict(report))
        mismatch = verbatim.indexer.model_mismatch()
        if mismatch:
            log.warning("%s", mismatch)
        app.state.verbatim = verbatim
        log.info("%s", app.state.write_policy.describe())
        async with mcp_server.session_manager.run():  # /mcp's sessions live with the app
            yield
        verbatim.close()  # waits for a write in progress, then saves the vector indexes
        log.info("shut down cleanly")

    # No /docs or /redoc: both load their scripts from a CDN, and Verbatim fetches nothing
    # from outside. The schema itself is at /openapi.json.
    app = FastAPI(title="Verbatim", version="0.1.0", lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Extractive question answering: every answer is a verbatim "
                              "sentence from your documents, with its citation.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                  for e in exc.errors()]
        if request.url.path.startswith(completions.PATHS):  # the OpenAI protocol's shape
            param = ".".join(str(p) for p in errors[0]["loc"][1:]) if errors else None
            return JSONResponse(status_code=400, content=error_body(
                describe_errors(errors), param=param or None))
        return JSONResponse(status_code=422, content={"detail": describe_errors(errors),
                                                      "errors": errors})

    @app.exception_handler(DocumentError)
    async def _bad_document(_: Request, exc: DocumentError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(FilterError)
    async def _bad_filter(request: Request, exc: FilterError) -> JSONResponse:
        if request.url.path.startswith(completions.PATHS):  # the OpenAI protocol's shape
            return JSONResponse(status_code=400, content=error_body(str(exc), param="metadata"))
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(MetadataError)
    async def _bad_metadata(_: Request, exc: MetadataError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(ModelMismatch)
    async def _stale(_: Request, exc: ModelMismatch) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    app.include_router(answer.router)
    app.include_router(completions.router)
    app.include_router(documents.router)
    app.include_router(health.router)
    app.include_router(metrics.router)

    build_openapi = app.openapi

    def openapi() -> dict:
        """Build the schema once, with the hand-read upload body published under components."""
        if app.openapi_schema is None:
            app.openapi_schema = documents.add_body_schemas(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.write_policy = WritePolicy.from_settings(settings)
    mcp_server = mount_mcp(app, app.state.write_policy)
    app.state.metrics = Metrics(lambda: app.state.verbatim.counts())
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    app.add_middleware(BodyLimit, upload_bytes=int(settings.max_request_mb * 1_000_000))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ObserveRequests, metrics=app.state.metrics)  # outermost: sees every status

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
