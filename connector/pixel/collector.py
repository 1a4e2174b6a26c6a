"""Our own pixel endpoint (`msr-engage pixel serve`): a 1x1 GIF, a tiny JS snippet, NDJSON hit files.

Placing it on the agency's site: serve the collector behind the site's TLS reverse proxy (it binds to
loopback by default), set `[pixel.collector] public_url` to the URL browsers reach it at, and put

    <script>window.msrEngageConsent = true; /* only once the visitor accepted tracking cookies */</script>
    <script async src="https://PUBLIC_URL/p.js"></script>

on every page (the consent line is set by the site's cookie banner). The snippet sends the page URL
and referrer; a first-party visitor cookie is created only when the consent flag is true, and nothing
is sent when the browser asks not to be tracked. Tracked links in e-mails carry `?mt=TOKEN`
(`msr-engage pixel token CONTACT_ID`), which the page URL brings along.

The server never reflects input: every answer is one of a few fixed bodies. Requests over the size
limit, other methods and too many hits from one address are refused. It keeps nothing it may not:

- a hit with neither a visitor cookie (set only under consent) nor a contact token is not written;
- only pages on `[pixel] site_hosts` are written, without query strings (but the token and the
  allow-listed parameters), the referrer as its host only, the address truncated;
- a page's contact token is checked here (the `[pixel]` token secrets): a line names the contact
  it proved, sealed over its fields (`tokens.Keyring.seal`), and never the token; a hit with a
  forged or expired token is not written (counted in `CollectorApp.counts`);
- no access log (werkzeug's prints full addresses and URLs); hit files are 0600 in a 0700 folder;
- behind `trusted_proxies` reverse proxies the client is the forwarded address (werkzeug's
  `ProxyFix`), so the rate limit is per visitor, not per proxy; every socket has a timeout;
- `HEAD` records nothing, and `/p.js` is served only once `public_url` is an https URL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connector.config.pixel import PixelSettings
from connector.events import format_time
from connector.pixel.hits import MAX_URL, Reason, split_token, truncate_ip
from connector.pixel.hits_ndjson import SEALED_FIELDS
from connector.pixel.privacy import host_allowed, referrer_host, url_cleaner
from connector.pixel.tokens import settings_keyring

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_VISITOR = re.compile(r"[A-Za-z0-9_-]{8,64}")
Clock = Callable[[], datetime]

SNIPPET = """(function(w,d,n){try{
if(n.doNotTrack==="1"||w.doNotTrack==="1"||n.globalPrivacyControl===true)return;
var k=%(cookie)s,c=w[%(flag)s]===true,v="",
m=d.cookie.match(new RegExp("(?:^|; )"+k+"=([A-Za-z0-9_-]{8,64})"));
if(c){v=m?m[1]:"";if(!v){var a=new Uint8Array(16);w.crypto.getRandomValues(a);
v=Array.prototype.map.call(a,function(x){return("0"+x.toString(16)).slice(-2)}).join("");}
d.cookie=k+"="+v+"; path=/; max-age=%(max_age)d; SameSite=Lax"+(location.protocol==="https:"?"; Secure":"");}
var i=new Image(1,1);i.src=%(endpoint)s+"?u="+encodeURIComponent(location.href.slice(0,2000))
+"&r="+encodeURIComponent(d.referrer.slice(0,2000))+(v?"&v="+v:"");}catch(e){}})(window,document,navigator);
"""


class RateLimiter:
    """Per-address token buckets: `per_minute` hits a minute, refilled continuously."""

    def __init__(self, per_minute: int, clock: Clock, max_addresses: int = 100_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max = max_addresses
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Take one token for `address`; False when its bucket is empty."""
        now = self._clock().timestamp()
        with self._lock:
            tokens, then = self._buckets.get(address, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            if len(self._buckets) >= self._max and address not in self._buckets:
                self._buckets.clear()  # bounded memory beats perfect fairness under a flood
            if tokens < 1:
                self._buckets[address] = (tokens, now)
                return False
            self._buckets[address] = (tokens - 1, now)
            return True


class HitWriter:
    """Appends hit lines to `hits-YYYY-MM-DD.ndjson` in a folder (one file per UTC day)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def write(self, record: dict[str, str]) -> None:
        """Append one hit as a complete NDJSON line."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        path = self.folder / f"hits-{record['time'][:10]}.ndjson"
        with self._lock:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # 0600 from the first byte (not chmodded after): hit files hold who browsed what.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(line)


def _fixed(body: bytes | str, status: int, mimetype: str = "text/plain") -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class CollectorApp:
    """The WSGI application: `GET /p.gif` records a hit, `GET /p.js` is the snippet."""

    def __init__(self, settings: PixelSettings, clock: Clock | None = None) -> None:
        keys = settings_keyring(settings)
        if keys is None:
            raise ValueError("the collector needs the token secret (MSR_ENGAGE_PIXEL__TOKEN_SECRET)")
        self.keys = keys
        self.counts: Counter[str] = Counter()  # hits by outcome: written, or why not
        self._counting = threading.Lock()
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        collector = settings.collector
        self.writer = HitWriter(settings.collector_folder)
        self.limiter = RateLimiter(collector.hits_per_minute_per_ip, self.clock)
        self.on_site = host_allowed(settings.site_hosts)
        self.clean = url_cleaner(settings.keep_query_params)
        public = collector.public_url.rstrip("/")
        self.snippet = (
            ""
            if not public.startswith("https://")
            else SNIPPET
            % {
                "cookie": json.dumps(collector.cookie_name),
                "flag": json.dumps(collector.consent_flag),
                "max_age": collector.cookie_days * 86_400,
                "endpoint": json.dumps(public + settings.pixel_path),
            }
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def wsgi(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        """The application as served: behind `trusted_proxies` hops, the forwarded client is the client."""
        hops = self.settings.collector.trusted_proxies
        return ProxyFix(self, x_for=hops, x_proto=0, x_host=0) if hops else self

    def respond(self, request: Request) -> Response:
        """The fixed answer to one request (a hit is written as a side effect)."""
        limit = self.settings.collector.max_request_bytes
        if request.method not in ("GET", "HEAD"):
            return _fixed("method not allowed\n", 405)
        if len(request.environ.get("QUERY_STRING", "")) + len(request.path) > limit:
            return _fixed("request too large\n", 414)
        if (request.content_length or 0) > 0:
            return _fixed("request too large\n", 413)
        if request.path == "/p.js":
            if not self.snippet:  # a snippet pointing at http:// would send tokens in the clear
                return _fixed("not configured: [pixel.collector] public_url must be https\n", 404)
            return _fixed(self.snippet, 200, "application/javascript")
        if request.path != self.settings.pixel_path:
            return _fixed("not found\n", 404)
        if request.method == "GET":  # HEAD: the same answer, nothing recorded
            self.record(request)
        return _fixed(GIF, 200, "image/gif")

    def record(self, request: Request) -> None:
        """Write the hit unless the browser opted out or its address is over the rate limit."""
        outcome = self._record(request)
        with self._counting:
            self.counts[outcome] += 1

    def _record(self, request: Request) -> str:
        if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
            return "do_not_track"
        args = request.args
        page = args.get("u", "")[:MAX_URL] or request.headers.get("Referer", "")[:MAX_URL]
        if not page.startswith(("https://", "http://")) or not self.on_site(page):
            return "foreign_host"  # only pages of the agency's site are visits (a replayed link is none)
        visitor = args.get("v", "")
        consented = _VISITOR.fullmatch(visitor) is not None  # the snippet sends a cookie only under consent
        if not consented and f"{self.settings.token_param}=" not in page:
            return "no_consent"  # neither consent nor a tracked link: nothing about this visitor is kept
        address = request.remote_addr or ""
        if not self.limiter.allow(address):
            return "rate_limited"  # still a GIF: a page must not break because we stopped counting
        referrer = args.get("r", "")[:MAX_URL]
        try:
            page, token = split_token(page, self.settings.token_param)
        except ValueError:  # urlsplit refuses e.g. a malformed IPv6 netloc
            return "malformed"
        now = self.clock()
        contact = ""
        if token:
            checked = self.keys.check(token[:256], now)
            if isinstance(checked, Reason):
                return checked.value  # forged_token / expired_token: the line would count for nothing
            contact = checked
        elif not consented:
            return "no_consent"  # `mt=` without a value
        record = {
            "time": format_time(now),
            "url": self.clean(page),
            "referrer": referrer_host(referrer) if referrer and self.settings.referrer == "host" else "",
            "user_agent": request.headers.get("User-Agent", "")[:512],
            "ip": truncate_ip(address),
        }
        if consented:
            record["visitor_id"] = visitor
        if contact:
            # The contact proved, never the token; the seal lets ingest tell our lines from others'.
            record["contact"] = contact
            record["seal"] = self.keys.seal([record.get(name, "") for name in SEALED_FIELDS])
        self.writer.write(record)
        return "written"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log (full client addresses, URLs with tokens)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Nothing: an access or error line would carry the address or the request line."""


def serve(settings: PixelSettings, clock: Clock | None = None) -> BaseWSGIServer:
    """A threaded HTTP server for the collector on the configured host and port (0: any free port)."""
    collector = settings.collector
    handler = type("CollectorHandler", (_QuietHandler,), {"timeout": collector.request_timeout_seconds})
    app = CollectorApp(settings, clock).wsgi()
    return make_server(collector.host, collector.port, app, threaded=True, request_handler=handler)


def collector_counts(server: BaseWSGIServer) -> dict[str, int]:
    """The hits a collector server saw by outcome (`written`, or why not), for its last log line."""
    app = server.app.app if isinstance(server.app, ProxyFix) else server.app
    return dict(sorted(app.counts.items())) if isinstance(app, CollectorApp) else {}
