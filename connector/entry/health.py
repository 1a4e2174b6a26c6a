"""Health in three meanings, served beside `/metrics` by a threaded server that logs no probe.

- `/livez`: the process and its scheduler are alive, and no cycle has run longer than `hung_after`.
  For a liveness probe: an open breaker, a stale ledger or an unreachable org are no reason to restart
  the process (a restart cannot fix them); a cycle stuck for an hour is (one can).
- `/readyz`: logged in, the breaker closed, no rule change held back by the rail, and a cycle that
  succeeded within `stale_after`. For readiness and alerts.
- `/healthz`: the readiness answer with the detail: every reason it is not ready, and what is
  degraded without making it unready (other sources, the pixel, failing in the last cycle).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connector.entry.metrics import Metrics

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
LOGGING_IN = "logging in, the org has not answered yet"
CLIENT_TIMEOUT_SECONDS = 3.0  # a client that sends no full request in this time is dropped


@dataclass
class HealthState:
    """What the daemon knows of itself; written by the daemon's threads, read by the probes."""

    stale_after: timedelta
    alive: Callable[[], bool] = lambda: True  # the scheduler is running
    hung_after: timedelta = timedelta(hours=1)  # a cycle running longer is stuck
    cycle_started_at: datetime | None = None  # the running cycle's start (None: none is running)
    logged_in: bool = False
    login_problem: str = ""  # why the last login failed, and when the next try is
    last_success_at: datetime | None = None
    last_status: str = "starting"
    held_back: str = ""  # the rule change the rail holds back
    breaker_open_until: Callable[[], datetime | None] = lambda: None
    last_failures: dict[str, int] = field(default_factory=dict)

    def not_alive(self, now: datetime) -> str | None:
        """Why `/livez` is 503 at `now`: the scheduler stopped, or a cycle hangs (None: alive)."""
        if not self.alive():
            return "scheduler stopped"
        started = self.cycle_started_at
        if started is not None and now - started > self.hung_after:
            minutes = int((now - started).total_seconds() // 60)
            return f"hung: a cycle running since {started.isoformat()} ({minutes} min)"
        return None

    def not_ready(self, now: datetime) -> list[str]:
        """Every reason `/readyz` is 503 at `now` (none: ready)."""
        reasons = []
        if not self.logged_in:
            reasons.append(
                f"not logged in: {self.login_problem or 'logging in, the org has not answered yet'}"
            )
        until = self.breaker_open_until()
        if until is not None and now < until:
            reasons.append(f"breaker open until {until.isoformat()} (REQUEST_LIMIT_EXCEEDED)")
        if self.held_back:
            reasons.append(f"rail: {self.held_back}")
        last = self.last_success_at
        if last is None:
            reasons.append("stale: no successful cycle yet")
        elif now - last > self.stale_after:
            reasons.append(f"stale: last successful cycle ended {last.isoformat()}")
        return reasons

    def detail(self, now: datetime) -> dict[str, Any]:
        """The `/healthz` body."""
        reasons = self.not_ready(now)
        until = self.breaker_open_until()
        return {
            "status": "ready" if not reasons else "not_ready",
            "reasons": reasons,
            "degraded": [f"{source} in the last cycle" for source in sorted(self.last_failures)],
            "logged_in": self.logged_in,
            "last_success": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_cycle_status": self.last_status,
            "last_cycle_failures": self.last_failures,
            "breaker_open_until": until.isoformat() if until is not None and now < until else None,
        }


def health_app(state: HealthState, metrics: Metrics, clock: Clock) -> Callable[..., Any]:
    """WSGI app: `/livez`, `/readyz`, `/healthz` (JSON) and `/metrics`."""

    def answer(body: dict[str, Any], ok: bool) -> Response:
        return Response(json.dumps(body), status=200 if ok else 503, mimetype="application/json")

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/metrics":
            return Response(metrics.text(), mimetype="text/plain; version=0.0.4")
        if request.path == "/livez":
            problem = state.not_alive(clock())
            return answer({"status": problem or "alive"}, problem is None)
        if request.path in ("/readyz", "/healthz"):
            now = clock()
            reasons = state.not_ready(now)
            metrics.ready.labels(metrics.org).set(0 if reasons else 1)
            if request.path == "/readyz":
                return answer(
                    {"status": "ready" if not reasons else "not_ready", "reasons": reasons}, not reasons
                )
            return answer(state.detail(now), not reasons)
        return Response("not found\n", status=404, mimetype="text/plain")

    return app


class QuietHandler(WSGIRequestHandler):
    """No access log per probe (probes every few seconds would drown the cycle logs), and a socket
    timeout: a client that stops mid-request holds one thread for a few seconds, never the server."""

    timeout = CLIENT_TIMEOUT_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log_error(self, format: str, *args: Any) -> None:
        # A client that timed out or sent garbage: not worth a line per scanner at INFO.
        log.debug("health_client_error", detail=format % args)


def serve(host: str, port: int, app: Callable[..., Any]) -> BaseWSGIServer:
    """Start the threaded health server on a daemon thread; the caller shuts it down."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    assert isinstance(server, ThreadedWSGIServer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
