"""Structured logging: the configuration the CLI (or an application) applies, and the
event schema. The library itself only calls ``structlog.get_logger()``.

Every record that :func:`configure_logging` renders carries ``schema`` (the version of
the event schema in docs/logging.md), ``timestamp`` (ISO 8601, UTC), ``level`` and
``event``; job events carry ``job_id``, ``batch_id`` and ``kind`` from the context.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

#: Bumped when an event or field documented in docs/logging.md changes meaning or goes.
LOG_SCHEMA_VERSION = 2


def add_schema_version(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("schema", LOG_SCHEMA_VERSION)
    return event_dict


def configure_logging(
    fmt: Literal["json", "console"] = "json",
    stream: TextIO | None = None,
    level: str = "info",
) -> None:
    """Configure structlog for an application: JSON lines (default) or console output
    for people, to ``stream`` (default standard error), at ``level`` and above."""
    renderer: Any = (structlog.processors.JSONRenderer(sort_keys=False) if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_schema_version,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
