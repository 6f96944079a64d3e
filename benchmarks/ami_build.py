"""Wall time of ``sgarch ami build`` against a local moto server, for 1, 5 and 22 copy regions.

Run: ``.venv/bin/python benchmarks/ami_build.py [--runs 3] [--copy-seconds 3]``. Copies run in parallel, so
the target is that 22 copy regions take less than twice as long as one.

Two scenarios, both with a real clock:

- ``emulator``: moto as it is. Every image is available at once, so this measures only the builder's own
  API calls (about five per copy region), all served by one moto process on this machine's cores.
- ``copy latency``: every new image stays ``pending`` for ``--copy-seconds`` (a client-side hook rewrites
  moto's DescribeImages answer), as real copies take minutes. This measures what parallel copying buys.

The emulator's one-off start-up per region is paid before timing (a warm-up call per region). moto runs as a
separate process bound to 127.0.0.1 (``--in-process`` runs it as a thread instead, which then competes with
the builder for this process's GIL), and is terminated at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ami"))

from ami_moto import BASE_AMI_ID, configured_moto

from sgarch.ami import BuildOptions, ClientFactory, SystemClock, build, load_spec

TESTS_AMI = Path(__file__).resolve().parents[1] / "tests" / "ami"
BUILD_REGION = "us-east-1"
COUNTS = (1, 5, 22)


def _spec(folder: Path, copy_regions: list[str], run: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provision.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\necho provisioned\n")
    (folder / "ami.yaml").write_text(
        "name: bench\nsourcegraph_version: 7.5.4453\n"
        f"description: benchmark {folder.name}\n"
        f"copy_regions: [{', '.join(copy_regions)}]\n"
        "provisioners: [provision.sh]\nhardening: [provision.sh]\n"
        "sharing: {account_ids: ['111122223333']}\n"
        "poll: {initial_delay_seconds: 0.25, max_delay_seconds: 0.5}\n"
    )
    return folder


def _latency_hook(copy_seconds: float) -> tuple[str, object]:
    """A DescribeImages hook that keeps each new image pending for ``copy_seconds`` after first sight."""
    first_seen: dict[str, float] = {}
    lock = threading.Lock()

    def pending(parsed: dict[str, list[dict[str, str]]], **_: object) -> None:
        now = time.monotonic()
        for image in parsed.get("Images", []):
            if image["ImageId"] == BASE_AMI_ID:
                continue
            with lock:
                seen = first_seen.setdefault(image["ImageId"], now)
            if now - seen < copy_seconds:
                image["State"] = "pending"

    return ("after-call.ec2.DescribeImages", pending)


# The child applies the same emulator set-up as the tests (base AMIs, SSM policy, DescribeInstanceInformation)
# before moto's server starts; the address is fixed to 127.0.0.1.
_SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
from ami_moto import configured_moto
from moto.server import main
with configured_moto():
    main(["-H", "127.0.0.1", "-p", sys.argv[2]])
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _moto_process() -> Iterator[str]:
    """A moto server in its own process (its own GIL) on a free 127.0.0.1 port; terminated on exit."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(TESTS_AMI), str(port)],
        # The child sets moto up itself; a MOTO_AMIS_PATH inherited from the parent would break its import.
        env={k: v for k, v in os.environ.items() if not k.startswith("MOTO_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the moto server did not start (exit status {server.poll()})") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def _moto_thread() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def main() -> None:
    """Start a moto server, time builds for each region count, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="builds per region count (median reported)")
    parser.add_argument(
        "--copy-seconds", type=float, default=3.0, help="simulated time until an image is available"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run moto as a thread of this process (shares the GIL)"
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    emulator = _moto_thread if args.in_process else _moto_process
    with configured_moto(), tempfile.TemporaryDirectory() as scratch, emulator() as url:
        ec2 = boto3.client("ec2", region_name=BUILD_REGION, endpoint_url=url)
        regions = sorted(
            r["RegionName"] for r in ec2.describe_regions()["Regions"] if r["RegionName"] != BUILD_REGION
        )
        if len(regions) < max(COUNTS):
            raise SystemExit(f"the emulator offers only {len(regions)} copy regions")
        for region in [BUILD_REGION, *regions[: max(COUNTS)]]:
            boto3.client("ec2", region_name=region, endpoint_url=url).describe_images(Owners=["self"])
        scenarios = {"emulator": 0.0, f"copy latency {args.copy_seconds:g} s": args.copy_seconds}
        results: dict[str, dict[int, list[float]]] = {}
        for scenario, copy_seconds in scenarios.items():
            for count in COUNTS:
                for run in range(args.runs):
                    folder = _spec(Path(scratch) / f"spec-{copy_seconds}-{count}-{run}", regions[:count], run)
                    hooks = [_latency_hook(copy_seconds)] if copy_seconds else []
                    started = time.perf_counter()
                    result = build(
                        load_spec(folder),
                        BuildOptions(manifest_path=folder / "manifest.json"),
                        ClientFactory(endpoint_url=url, event_hooks=hooks),  # type: ignore[arg-type]
                        clock=SystemClock(),
                    )
                    results.setdefault(scenario, {}).setdefault(count, []).append(
                        time.perf_counter() - started
                    )
                    assert len(result.images) == count + 1

    print(f"{'scenario':<22}  {'copy regions':>12}  {'median s':>9}  {'min s':>7}  {'vs 1 region':>11}")
    for scenario, by_count in results.items():
        base = statistics.median(by_count[1])
        for count in COUNTS:
            median = statistics.median(by_count[count])
            print(
                f"{scenario:<22}  {count:>12}  {median:>9.2f}  {min(by_count[count]):>7.2f}  {median / base:>10.2f}x"
            )
        ratio = statistics.median(by_count[22]) / base
        print(f"{scenario:<22}  22 regions < 2x of 1: {'met' if ratio < 2 else 'missed'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
