"""structlog, configured once at the entry point: JSON off a terminal, pretty on one.

Libraries that log through the standard library (werkzeug, APScheduler) go through the same
processors and renderer, so every line on stderr has one shape, with the context the daemon binds
(the org id, the cycle id).
"""

from __future__ import annotations

import logging
import sys

import structlog

# Chatty at INFO (a line per job run and per request); their warnings and errors still come through.
QUIET_LIBRARIES = {"apscheduler": logging.WARNING, "werkzeug": logging.WARNING}


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to the current `sys.stderr`, not the one there at configuration."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        return


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog for this process; logs go to stderr so stdout stays for results."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Resolve stderr per logger, not once: a replaced or closed stream must not break later logging.
        logger_factory=lambda *_args: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = _Stderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)  # configured again (tests, the demo): one handler, not two
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(level, floor))
