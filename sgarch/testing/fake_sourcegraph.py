"""A local stand-in for a Sourcegraph instance, for load-test tests and ``sgarch loadtest selftest``.

It speaks just enough of Sourcegraph's HTTP API for the sgarch k6 scripts:

* ``GET /.api/search/stream``: server-sent events whose ``matches`` carry repository, commit and path;
* ``POST /.api/graphql``: ``search(query:)`` (match count) and the ``repository { commit { file { richHTML }}}``
  highlight query.

Every request must carry ``Authorization: token <token>``; anything else gets 401. Knobs make it slow, flaky
or small on purpose: latency per search type, an error rate (deterministic for a seed), a separate GraphQL
error rate (HTTP 200 with ``errors``, as a failing frontend answers) and a capacity in concurrent requests
beyond which it answers 503 or slows down. It binds 127.0.0.1 on an ephemeral port and serves from a
background thread::

    with FakeSourcegraph(latency_seconds={"structural": 4.0}) as sg:
        run_k6_against(sg.url, token=sg.token)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeSourcegraph", "FakeStats"]

SEARCH_KINDS = ("literal", "regexp", "structural", "unindexed", "highlight")
"""What the stand-in tells apart; each has its own latency knob."""

_PATTERN_TYPE = re.compile(r"(?<![\w-])patterntype:(\w+)", re.IGNORECASE)


@dataclass
class FakeStats:
    """What the stand-in has seen. Read it after the load generator has finished."""

    requests: Counter[str] = field(default_factory=Counter)
    """Authorised requests by kind (literal, regexp, structural, unindexed, highlight)."""
    unauthorized: int = 0
    errors: int = 0
    graphql_errors: int = 0
    rejected: int = 0
    """Requests answered 503 because the capacity was exceeded."""
    max_in_flight: int = 0
    clients: set[str] = field(default_factory=set)
    """Addresses requests came from (always loopback)."""

    @property
    def total(self) -> int:
        """Authorised requests of every kind."""
        return sum(self.requests.values())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # k6 starts every virtual user at once in the stress profile; the default backlog of 5 would make the
    # kernel drop connection attempts and k6 would retry them a second later.
    request_queue_size = 4096
    allow_reuse_address = True
    fake: FakeSourcegraph


class FakeSourcegraph:
    """A Sourcegraph stand-in on 127.0.0.1. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        token: the access token it accepts. Default: a random one, see :attr:`token`.
        latency_seconds: delay before answering, per kind (``literal``, ``regexp``, ``structural``,
            ``unindexed``, ``highlight``). Default: no delay.
        error_rate: share of authorised requests answered HTTP 500, exactly: with 0.2 every run of five
            requests holds one error. ``seed`` shifts where the errors fall. Default: 0.
        graphql_error_rate: share of GraphQL requests answered 200 with an ``errors`` list. Default: 0.
        capacity: concurrent requests it serves normally. Default: unlimited.
        over_capacity: what happens beyond ``capacity``: ``"reject"`` answers 503 at once, ``"slow"`` stretches
            the latency in proportion to the overload (at least 50 ms per request over).
        matches_per_search: results in every stream search, each one a highlight follow-up. Default: 3.
        seed: makes the error pattern reproducible.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        latency_seconds: Mapping[str, float] | None = None,
        error_rate: float = 0.0,
        graphql_error_rate: float = 0.0,
        capacity: int | None = None,
        over_capacity: Literal["reject", "slow"] = "reject",
        matches_per_search: int = 3,
        seed: int = 0,
    ) -> None:
        latency = dict(latency_seconds or {})
        unknown = set(latency) - set(SEARCH_KINDS)
        if unknown:
            raise ValueError(f"latency_seconds keys must be among {SEARCH_KINDS}, got {sorted(unknown)}")
        for name, rate in (("error_rate", error_rate), ("graphql_error_rate", graphql_error_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.token = token or "sgph_fake_" + secrets.token_hex(16)
        self.latency_seconds = {kind: float(latency.get(kind, 0.0)) for kind in SEARCH_KINDS}
        self.error_rate = error_rate
        self.graphql_error_rate = graphql_error_rate
        self.capacity = capacity
        self.over_capacity = over_capacity
        self.matches_per_search = matches_per_search
        self.stats = FakeStats()
        self._offset = random.Random(seed).randrange(1_000_003)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._served = 0
        self._graphql_served = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``. Only valid while running."""
        if self._server is None:
            raise RuntimeError("FakeSourcegraph is not running; call start() or use it in a with-block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeSourcegraph:
        """Bind 127.0.0.1 on an ephemeral port and serve from a background thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-sourcegraph", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSourcegraph:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- behaviour -------------------------------------------------------------------------------------

    def _enter(self) -> int:
        with self._lock:
            self._in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
            return self._in_flight

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @staticmethod
    def _nth_fails(n: int, rate: float) -> bool:
        # Exactly `rate` of any run of requests fails: the n-th fails when floor(n * rate) steps up.
        return rate > 0 and math.floor((n + 1) * rate) > math.floor(n * rate)

    def _should_error(self) -> bool:
        with self._lock:
            n = self._served + self._offset
            self._served += 1
        return self._nth_fails(n, self.error_rate)

    def _should_graphql_error(self) -> bool:
        with self._lock:
            n = self._graphql_served + self._offset
            self._graphql_served += 1
        return self._nth_fails(n, self.graphql_error_rate)

    def _delay(self, kind: str, in_flight: int) -> float:
        base = self.latency_seconds[kind]
        if self.capacity is not None and self.over_capacity == "slow" and in_flight > self.capacity:
            return max(base * in_flight / self.capacity, base + 0.05 * (in_flight - self.capacity))
        return base

    def _count(self, kind: str, client: str) -> None:
        with self._lock:
            self.stats.requests[kind] += 1
            self.stats.clients.add(client)

    def matches_for(self, query: str) -> list[dict[str, object]]:
        """Stream-search results for ``query``: stable per query, with repository, commit and path."""
        digest = hashlib.sha1(query.encode()).hexdigest()
        return [
            {
                "type": "content",
                "repository": f"fake.example/org/repo-{i}",
                "repositoryID": i + 1,
                "commit": hashlib.sha1(f"{digest}{i}".encode()).hexdigest(),
                "path": f"src/file_{digest[:6]}_{i}.go",
                "lineMatches": [{"line": "func main() {}", "lineNumber": 1, "offsetAndLengths": [[0, 4]]}],
            }
            for i in range(self.matches_per_search)
        ]


def classify(query: str, pattern_type: str | None = None) -> str:
    """The search kind of a query as Sourcegraph would run it: unindexed, structural, regexp or literal."""
    if re.search(r"(?<![\w-])index:no\b", query, re.IGNORECASE):
        return "unindexed"
    found = _PATTERN_TYPE.search(query)
    kind = (found.group(1) if found else pattern_type or "literal").lower()
    return kind if kind in ("regexp", "structural") else "literal"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSourcegraph/1"
    # Idle keep-alive connections are closed after this, so no handler thread outlives a run for long.
    timeout = 30
    # Headers and body go out in two writes; with Nagle's algorithm on, the second waits for the client's
    # delayed ACK (40 ms on Linux) and every keep-alive request would look 40 ms slow.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        # Silent: a test run would otherwise print one line per request.
        return

    @property
    def fake(self) -> FakeSourcegraph:
        return self.server.fake

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode())

    def _authorised(self) -> bool:
        expected = f"token {self.fake.token}"
        if secrets.compare_digest(self.headers.get("Authorization", ""), expected):
            return True
        with self.fake._lock:
            self.fake.stats.unauthorized += 1
        self._json(401, {"error": "invalid access token"})
        return False

    def _serve(self, kind: str, answer: bytes, content_type: str, graphql: bool) -> None:
        fake = self.fake
        in_flight = fake._enter()
        try:
            self._count(kind)
            if fake.capacity is not None and fake.over_capacity == "reject" and in_flight > fake.capacity:
                with fake._lock:
                    fake.stats.rejected += 1
                self._json(503, {"error": "over capacity"})
                return
            delay = fake._delay(kind, in_flight)
            if delay > 0:
                time.sleep(delay)
            if fake._should_error():
                with fake._lock:
                    fake.stats.errors += 1
                self._json(500, {"error": "injected failure"})
                return
            if graphql and fake._should_graphql_error():
                with fake._lock:
                    fake.stats.graphql_errors += 1
                self._json(200, {"data": None, "errors": [{"message": "injected GraphQL error"}]})
                return
            self._send(200, answer, content_type)
        finally:
            fake._leave()

    def _count(self, kind: str) -> None:
        self.fake._count(kind, str(self.client_address[0]))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/.api/search/stream":
            self._json(404, {"error": "not found"})
            return
        if not self._authorised():
            return
        params = parse_qs(parts.query)
        query = params.get("q", [""])[0]
        kind = classify(query, params.get("t", [None])[0])
        matches = self.fake.matches_for(query)
        events = [
            ("matches", matches),
            ("progress", {"done": True, "matchCount": len(matches), "durationMs": 1}),
            ("done", {}),
        ]
        body = "".join(
            f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n" for name, data in events
        )
        self._serve(kind, body.encode(), "text/event-stream", graphql=False)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/.api/graphql":
            self._json(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self._authorised():
            return
        try:
            request = json.loads(raw or b"{}")
            query = str(request.get("query", ""))
            variables = request.get("variables") or {}
        except (ValueError, AttributeError):
            self._json(400, {"errors": [{"message": "invalid JSON body"}]})
            return
        if "repository(" in query:
            answer = {
                "data": {
                    "repository": {
                        "commit": {
                            "file": {
                                "isDirectory": False,
                                "richHTML": f"<pre>{variables.get('filePath', '')}</pre>",
                            }
                        }
                    }
                }
            }
            self._serve("highlight", json.dumps(answer).encode(), "application/json", graphql=True)
            return
        if "search(" in query:
            text = str(variables.get("query", ""))
            kind = classify(text)
            count = len(self.fake.matches_for(text))
            result: dict[str, object] = {"data": {"search": {"results": {"matchCount": count}}}}
            self._serve(kind, json.dumps(result).encode(), "application/json", graphql=True)
            return
        self._json(200, {"data": None, "errors": [{"message": "unsupported query"}]})
