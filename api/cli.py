"""The `qa` entry point: the core commands of `qa/app/cli.py` plus `qa serve`, which runs the API.

The server and its worker supervision live on the API side, so `qa/` never imports `api/`.
"""

from __future__ import annotations

import os
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from qa.app.cli import DataDir, NoSeeds, StoreUrl, app, fail, open_service
from qa.config import Settings, describe_errors, get_settings, to_environment


@app.command()
def serve(data_dir: DataDir = None,
          host: Annotated[str | None, typer.Option(
              help="Address to listen on (default 127.0.0.1).")] = None,
          port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
          api_key: Annotated[str | None, typer.Option(
              "--api-key", envvar="VERBATIM_API_KEY", show_envvar=True,
              help="Writes need `Authorization: Bearer <key>`.")] = None,
          allow_open_writes: Annotated[bool, typer.Option(
              "--allow-open-writes",
              help="Allow writes without a key on a non-loopback address.")] = False,
          cors_origin: Annotated[list[str] | None, typer.Option(
              "--cors-origin", help="Allow browser calls from this origin (repeatable).")] = None,
          log_format: Annotated[str | None, typer.Option(
              "--log-format", help="auto (text at a terminal, JSON otherwise), json or text.")] = None,
          workers: Annotated[int | None, typer.Option(
              help="Server processes (default 1); more answer questions in parallel.")] = None,
          api_keys: Annotated[Path | None, typer.Option(
              "--api-keys", envvar="VERBATIM_API_KEYS_FILE", show_envvar=True,
              help="A JSON file of scoped keys (collections, read/write); every request then "
                   "needs a key.")] = None,
          no_seeds: NoSeeds = False, store_url: StoreUrl = None) -> None:
    """Serve the chat page and the HTTP API (indexes the seeds on first start)."""
    # Imported here: the other commands should not pay for loading the web stack.
    import uvicorn
    from pydantic import ValidationError

    from api.guard import GuardedHttpToolsProtocol
    from api.logs import configure_logging
    from api.main import create_app

    try:
        settings = get_settings(data_dir=data_dir, host=host, port=port, api_key=api_key,
                                allow_open_writes=allow_open_writes or None,
                                cors_origins=cors_origin or None, log_format=log_format,
                                workers=workers, seed_on_start=False if no_seeds else None,
                                api_keys_file=api_keys,
                                store_url=store_url)
    except ValidationError as exc:
        fail(describe_errors(exc.errors()))
    from api.access import KeysFileError, load_scoped_keys
    from qa.config import StoreUrlError

    if settings.api_keys_file is not None:  # a broken keys file stops the start, clearly
        try:
            load_scoped_keys(settings.api_keys_file)
        except KeysFileError as exc:
            fail(str(exc))
    from qa.storage.factory import open_store

    try:  # reach the store (and bring this machine's copy up to date) before serving
        store = open_store(settings)
    except StoreUrlError as exc:
        fail(str(exc))
    with closing(store):
        empty = not store.has_content()
    configure_logging(settings.log_format)
    # Stop accepting on SIGTERM/Ctrl-C, let in-flight requests and writes finish, then save.
    GuardedHttpToolsProtocol.configure(settings)
    options = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                   timeout_graceful_shutdown=60, http=GuardedHttpToolsProtocol)
    if settings.workers == 1:
        uvicorn.run(create_app(settings, seed=settings.seed_on_start), **options)
    else:
        _serve_workers(settings, options, empty)


def _serve_workers(settings: Settings, options: dict, empty: bool) -> None:
    """Run several server processes on one data directory (`empty`: nothing indexed yet),
    the cores shared between them."""
    import uvicorn

    from api.workers import APP, can_share_port
    from api.workers import serve as serve_workers

    if settings.seed_on_start and empty:
        # once, here, not racing in every worker
        with open_service(settings.data_dir, seed=True, store_url=settings.store_url):
            pass
    if not settings.threads:
        settings = settings.model_copy(
            update={"threads": max(1, (os.cpu_count() or 1) // settings.workers)})
    # The workers read their settings from here; the parent has seeded already.
    os.environ.update(to_environment(settings.model_copy(update={"seed_on_start": False})))
    if can_share_port() and settings.port:
        try:
            status = serve_workers(settings.workers, options, settings.log_format)
        except OSError as exc:
            fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
        if status:
            fail(f"a server process stopped with status {status}; see the log above")
    else:  # one shared socket: connections may bunch up on one worker
        uvicorn.run(APP, factory=True, workers=settings.workers, **options)


@app.command()
def mcp(data_dir: DataDir = None,
        allow_add: Annotated[bool, typer.Option(
            "--allow-add", help="Let the assistant add documents (add_document).")] = False,
        no_seeds: NoSeeds = False, store_url: StoreUrl = None) -> None:
    """Serve the documents to an assistant over MCP on stdin/stdout (Claude Desktop, VS Code,
    Cursor...): tools ask, search, get_document, list_documents (and add_document)."""
    import logging

    from api.mcp import build_mcp, local_access

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # stdout carries the protocol
    with open_service(data_dir, seed=not no_seeds, store_url=store_url) as service:
        service.warm_up()
        server = build_mcp(lambda: service, local_access(allow_add))
        server.run("stdio")


def main() -> None:
    """Run the CLI; a mistyped command line gets the same one-line `error:` and exit status 1
    as any other bad input (click's default is a usage box and status 2)."""
    # The command-line library's own error type, whichever click typer runs on.
    command_line_error = next(c for c in typer.BadParameter.__mro__
                              if c.__name__ == "ClickException")
    try:
        code = app(standalone_mode=False)
    except command_line_error as exc:
        if not exc.format_message().strip():  # bare `qa`: the help was shown already
            sys.exit(1)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.secho(f"error: {exc.format_message()}{hint}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
