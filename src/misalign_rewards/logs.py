"""Structured logging: the configuration the CLI (or an application) applies, and the
event schema. The library's modules log through :func:`get_logger`.

A library is silent unless its user asks: when the application has not configured
structlog, the library's events go to the standard ``logging`` logger of the same name
(``misalign_rewards.client``, ...), so they obey the application's logging setup; with
none, Python prints warnings and errors on standard error and nothing else (never
standard output). An application that configures structlog (as the CLI and the server do
through :func:`configure_logging`) gets every event through that configuration.

Every record that :func:`configure_logging` renders carries ``schema`` (the version of
the event schema in docs/logging.md), ``timestamp`` (ISO 8601, UTC), ``level`` and
``event``; job events carry ``job_id``, ``batch_id`` and ``kind`` from the context.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

#: Bumped when an event or field documented in docs/logging.md changes meaning or goes.
LOG_SCHEMA_VERSION = 2


def add_schema_version(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
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


#: What the library's events go through when structlog is not configured: dropped below
#: the stdlib logger's level before any rendering, then one ``key=value`` message.
_STDLIB_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.processors.format_exc_info,
    structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
]


class _LibraryLogger:
    """A logger of the library: structlog's own when the application configured structlog,
    else structlog wrapping the stdlib logger of the same name. Decided at each call, so
    configuring logging after import works."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _target(self) -> Any:
        if structlog.is_configured():
            return structlog.get_logger(self._name)
        return structlog.wrap_logger(logging.getLogger(self._name), processors=_STDLIB_PROCESSORS,
                                     wrapper_class=structlog.stdlib.BoundLogger)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target(), attr)


def get_logger(name: str) -> Any:
    """The logger the library's modules use (see the module doc: silent by default)."""
    return _LibraryLogger(name)
