"""Fixtures for the load-test tests: everything runs against FakeSourcegraph on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sgarch.loadtest import build_plan, run_plan
from sgarch.loadtest.queries import QuerySet
from sgarch.loadtest.runner import RunResult
from sgarch.testing.fake_sourcegraph import FakeSourcegraph

RunFn = Callable[..., RunResult]


@pytest.fixture
def run_k6(tmp_path: Path) -> RunFn:
    """Run a scaled-down profile with the real k6 against ``fake``; loopback only and time-bounded."""

    def run(
        fake: FakeSourcegraph,
        profile: str,
        *,
        tier: str = "XS",
        scale: float = 1.0,
        duration_scale: float = 0.02,
        queries: QuerySet | None = None,
        out: str = "out",
    ) -> RunResult:
        plan = build_plan(
            fake.url,
            tier,
            profile,
            scale=scale,
            duration_scale=duration_scale,
            queries=queries,
            local_only=True,
        )
        # For stress and search the plan's length is a cap; the runs themselves take seconds.
        assert plan.planned_seconds <= 60, "tests must stay short"
        result = run_plan(plan, fake.token, tmp_path / out, timeout_seconds=plan.planned_seconds + 20)
        # Every request the stand-in saw came from this machine.
        assert fake.stats.clients <= {"127.0.0.1"}
        return result

    return run


@pytest.fixture
def fake() -> Iterator[FakeSourcegraph]:
    """A fast, healthy stand-in."""
    with FakeSourcegraph() as sg:
        yield sg


@pytest.fixture
def http() -> Callable[..., tuple[int, bytes]]:
    """A function sending one request to the stand-in (no proxies); it returns (status, body)."""
    return _http


def _http(url: str, *, token: str | None = None, data: Any = None, timeout: float = 5.0) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
