"""Server log set-up: one JSON object per line (or plain text), for people and log shippers."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def _drop_colours(record: logging.LogRecord) -> bool:
    """Keep uvicorn's terminal colour codes out of log files."""
    record.__dict__.pop("color_message", None)
    return True


# Libraries whose INFO lines say nothing an operator acts on ("Loading SentenceTransformer model
# from ..."); their warnings still show.
QUIET_LOGGERS = ("sentence_transformers", "transformers", "onnxruntime", "httpx", "filelock")


def resolve_format(fmt: str) -> str:
    """Read "auto" as plain text for a person at a terminal, JSON for a log shipper."""
    if fmt == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return fmt


def configure_logging(fmt: str = "auto", level: int = logging.INFO) -> None:
    """Send Verbatim's and uvicorn's logs to stderr in one format."""
    fmt = resolve_format(fmt)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_drop_colours)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
