"""FakeSourcegraph speaks enough of Sourcegraph's API for k6, on 127.0.0.1 only, with its knobs honoured."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import quote

import pytest

from sgarch.testing.fake_sourcegraph import FakeSourcegraph, classify

Http = Callable[..., tuple[int, bytes]]
HIGHLIGHT = (
    "query ($repoName: String!, $commitID: String!, $filePath: String!) { repository(name: $repoName) "
    "{ commit(rev: $commitID) { file(path: $filePath) { isDirectory richHTML } } } }"
)


def stream(sg: FakeSourcegraph, query: str, http: Http, token: str | None = None) -> tuple[int, bytes]:
    return http(
        f"{sg.url}/.api/search/stream?q={quote(query)}&v=V2&t=literal&display=10", token=token or sg.token
    )


def test_binds_loopback_on_an_ephemeral_port_and_stops() -> None:
    sg = FakeSourcegraph()
    with pytest.raises(RuntimeError, match="not running"):
        _ = sg.url
    with sg:
        assert sg.url.startswith("http://127.0.0.1:")
        assert int(sg.url.rsplit(":", 1)[1]) > 0
        url = sg.url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.URLError):
        opener.open(url + "/.api/search/stream?q=x", timeout=2)


def test_rejects_a_missing_or_wrong_token(fake: FakeSourcegraph, http: Http) -> None:
    assert stream(fake, "x", http, token="wrong")[0] == 401
    assert http(f"{fake.url}/.api/search/stream?q=x")[0] == 401
    assert http(f"{fake.url}/.api/graphql", data={"query": "{ search }"}, token="nope")[0] == 401
    assert fake.stats.unauthorized == 3 and fake.stats.total == 0


def test_stream_search_sends_events_with_repository_commit_and_path(
    fake: FakeSourcegraph, http: Http
) -> None:
    status, body = stream(fake, "lang:go func main", http)
    assert status == 200
    lines = body.decode().splitlines()
    data = [ln for ln in lines if ln.startswith('data: [{"type":"')]
    assert len(data) == 1 and "event: matches" in lines and "event: done" in lines
    matches = json.loads(data[0].removeprefix("data: "))
    assert len(matches) == 3
    for match in matches:
        assert (
            match["repository"].startswith("fake.example/") and len(match["commit"]) == 40 and match["path"]
        )
    assert stream(fake, "lang:go func main", http)[1] == body  # stable per query
    assert fake.stats.requests["literal"] == 2


def test_graphql_search_and_highlight(fake: FakeSourcegraph, http: Http) -> None:
    search = "query ($query: String!) { search(query: $query) { results { matchCount } } }"
    status, body = http(
        f"{fake.url}/.api/graphql",
        data={"query": search, "variables": {"query": "foo patterntype:regexp"}},
        token=fake.token,
    )
    assert status == 200 and json.loads(body) == {"data": {"search": {"results": {"matchCount": 3}}}}
    variables = {"repoName": "r", "commitID": "c" * 40, "filePath": "a/b.go"}
    status, body = http(
        f"{fake.url}/.api/graphql", data={"query": HIGHLIGHT, "variables": variables}, token=fake.token
    )
    assert status == 200
    assert json.loads(body)["data"]["repository"]["commit"]["file"] == {
        "isDirectory": False,
        "richHTML": "<pre>a/b.go</pre>",
    }
    assert dict(fake.stats.requests) == {"regexp": 1, "highlight": 1}


@pytest.mark.parametrize(
    ("query", "t", "kind"),
    [
        ("foo", None, "literal"),
        ("foo", "regexp", "regexp"),
        ("foo patterntype:structural", "literal", "structural"),
        ("foo index:no", "literal", "unindexed"),
        ("foo patterntype:regexp index:no", None, "unindexed"),
        ("reindex:no", None, "literal"),
    ],
)
def test_classify(query: str, t: str | None, kind: str) -> None:
    assert classify(query, t) == kind


def test_error_rate_is_exact_and_seeded(http: Http) -> None:
    def pattern(seed: int) -> list[int]:
        with FakeSourcegraph(error_rate=0.2, seed=seed) as sg:
            return [stream(sg, "x", http)[0] for _ in range(50)]

    first = pattern(1)
    assert first.count(500) == 10 and first.count(200) == 40
    assert pattern(1) == first
    assert pattern(2).count(500) == 10


def test_graphql_error_rate_answers_200_with_errors(http: Http) -> None:
    with FakeSourcegraph(graphql_error_rate=0.5) as sg:
        bodies = [
            json.loads(
                http(f"{sg.url}/.api/graphql", data={"query": HIGHLIGHT, "variables": {}}, token=sg.token)[1]
            )
            for _ in range(10)
        ]
        assert sum("errors" in b for b in bodies) == 5
        assert sg.stats.graphql_errors == 5


def test_latency_per_search_type(http: Http) -> None:
    with FakeSourcegraph(latency_seconds={"structural": 0.3}) as sg:
        start = time.monotonic()
        stream(sg, "x", http)
        fast = time.monotonic() - start
        start = time.monotonic()
        stream(sg, "x patterntype:structural", http)
        slow = time.monotonic() - start
    assert fast < 0.2 <= 0.3 <= slow < 2.0


def _concurrently(sg: FakeSourcegraph, http: Http, n: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status = stream(sg, "x", http)[0]
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)
    return statuses


def test_capacity_rejects_beyond_n_concurrent_requests(http: Http) -> None:
    with FakeSourcegraph(capacity=3, latency_seconds={"literal": 0.4}) as sg:
        statuses = _concurrently(sg, http, 8)
        assert len(statuses) == 8
        assert statuses.count(200) >= 3 and statuses.count(503) >= 1
        assert sg.stats.rejected == statuses.count(503)
        assert sg.stats.max_in_flight > 3
        assert _concurrently(sg, http, 3).count(200) == 3  # within capacity: all served


def test_capacity_can_slow_down_instead(http: Http) -> None:
    with FakeSourcegraph(capacity=1, over_capacity="slow", latency_seconds={"literal": 0.1}) as sg:
        start = time.monotonic()
        statuses = _concurrently(sg, http, 4)
        elapsed = time.monotonic() - start
    assert statuses == [200] * 4
    assert elapsed >= 0.2  # at least one request waited longer than the base latency


@pytest.mark.parametrize(
    "kwargs",
    [{"error_rate": 1.5}, {"graphql_error_rate": -0.1}, {"capacity": 0}, {"latency_seconds": {"fuzzy": 1.0}}],
)
def test_bad_knobs_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FakeSourcegraph(**kwargs)  # type: ignore[arg-type]
