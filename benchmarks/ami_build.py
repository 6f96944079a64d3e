"""Wall time of ``sgarch ami build`` against a local moto server, for 1, 5 and 22 copy regions.

Run: ``.venv/bin/python benchmarks/ami_build.py [--runs 3] [--copy-seconds 3] [--in-process]``.

Target (issue #5): a build that copies to 22 regions takes less than twice as long as one that copies to
one region, because copies run in parallel.

moto answers CreateImage and CopyImage with an image that is ``available`` at once; in AWS an image takes
minutes to become available, and that wait is what parallel copying saves. The server this script starts is
moto with one change: every image created or copied stays ``pending`` for ``--copy-seconds`` (minutes scaled
down to seconds). Everything else, every other API call included, is plain moto. Three scenarios:

- ``parallel``: the builder as shipped. This is the row the target is checked on.
- ``one at a time``: the same builder with its per-region work made serial, at 1 and 5 regions. It shows
  that the benchmark tells a serial builder from a parallel one (a serial 22-region build would take about
  22 copy times).
- ``API overhead``: ``--copy-seconds 0``, so nothing waits and only the builder's own work is timed: one
  boto3 client and about six API calls per region, all on this machine's cores, with moto serving them. It
  is reported as milliseconds per extra region; on 2 cores it is bound by CPU, not by copying.

moto runs as a separate process bound to 127.0.0.1 (``--in-process`` runs it as a thread instead, which then
competes with the builder for this process's GIL) and is terminated at the end. The emulator's one-off
start-up per region is paid before timing (a warm-up call per region), and this process never imports
moto unless ``--in-process`` is given, so the builder is timed in a process like the CLI's.
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
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

import sgarch.ami.aws as aws_module
from sgarch.ami import BuildOptions, ClientFactory, SystemClock, build, load_spec

BENCHMARKS = Path(__file__).resolve().parent
TESTS_AMI = BENCHMARKS.parent / "tests" / "ami"
BUILD_REGION = "us-east-1"
COUNTS = (1, 5, 22)
SERIAL_COUNTS = (1, 5)
# Fake credentials for the emulator only; the real environment is never read.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": BUILD_REGION,
}


def _spec(folder: Path, copy_regions: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provision.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\necho provisioned\n")
    (folder / "ami.yaml").write_text(
        "name: bench\nsourcegraph_version: 7.5.4453\n"
        # A distinct description per folder gives a distinct spec hash, so no run is skipped as a rebuild.
        f"description: benchmark {folder.name}\n"
        f"copy_regions: [{', '.join(copy_regions)}]\n"
        "provisioners: [provision.sh]\nhardening: [provision.sh]\n"
        "sharing: {account_ids: ['111122223333']}\n"
        "poll: {initial_delay_seconds: 0.25, max_delay_seconds: 0.5}\n"
    )
    return folder


def slow_images(copy_seconds: float) -> None:
    """Make moto keep every image it creates or copies ``pending`` for ``copy_seconds``, as AWS does.

    Applied inside the emulator (the server process, or this process with ``--in-process``), so the builder
    sees an ordinary EC2 API whose images take time to become available.
    """
    from moto.ec2.models.amis import AmiBackend

    born: dict[str, float] = {}
    create, copy, describe = AmiBackend.create_image, AmiBackend.copy_image, AmiBackend.describe_images

    def remember(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            image = method(self, *args, **kwargs)
            born[image.id] = time.monotonic()
            image.state = "pending" if copy_seconds > 0 else "available"
            return image

        return wrapper

    def describe_images(self: Any, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        for image_id, created in list(born.items()):
            image = self.amis.get(image_id)
            if image is not None and image.state == "pending" and now - created >= copy_seconds:
                image.state = "available"
        return describe(self, *args, **kwargs)

    AmiBackend.create_image = remember(create)  # type: ignore[method-assign]
    AmiBackend.copy_image = remember(copy)  # type: ignore[method-assign]
    AmiBackend.describe_images = describe_images  # type: ignore[method-assign]


# The child applies the tests' emulator set-up (base AMIs, SSM policy, DescribeInstanceInformation) and the
# image delay before moto's server starts; the address is fixed to 127.0.0.1.
_SERVER = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from ami_moto import configured_moto
from ami_build import slow_images
from moto.server import main
with configured_moto():
    slow_images(float(sys.argv[4]))
    main(["-H", "127.0.0.1", "-p", sys.argv[3]])
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _moto_process(copy_seconds: float) -> Iterator[str]:
    """A moto server in its own process (its own GIL) on a free 127.0.0.1 port; terminated on exit."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(TESTS_AMI), str(BENCHMARKS), str(port), str(copy_seconds)],
        # The child sets moto up itself; a MOTO_AMIS_PATH inherited from the parent would break its import.
        env={k: v for k, v in os.environ.items() if not k.startswith("MOTO_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
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
def _moto_thread(copy_seconds: float) -> Iterator[str]:
    sys.path.insert(0, str(TESTS_AMI))
    from ami_moto import configured_moto
    from moto.server import ThreadedMotoServer

    with configured_moto():
        slow_images(copy_seconds)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def _serial(regions: Any, work: Callable[[str], Any], **_: Any) -> dict[str, Any]:
    """A stand-in for ``for_each_region`` that works one region at a time (the reference scenario)."""
    return {region: work(region) for region in regions}


def _time_builds(
    url: str, scratch: Path, regions: list[str], counts: tuple[int, ...], runs: int
) -> dict[int, list[float]]:
    timings: dict[int, list[float]] = {}
    for count in counts:
        for run in range(runs):
            folder = _spec(scratch / f"spec-{time.monotonic_ns()}-{count}-{run}", regions[:count])
            started = time.perf_counter()
            result = build(
                load_spec(folder),
                BuildOptions(manifest_path=folder / "manifest.json"),
                ClientFactory(endpoint_url=url),
                clock=SystemClock(),
            )
            timings.setdefault(count, []).append(time.perf_counter() - started)
            assert len(result.images) == count + 1, result.images
    return timings


def _scenario(
    emulator: Callable[[float], Any], copy_seconds: float, runs: int, *, serial: bool = False
) -> dict[int, list[float]]:
    with tempfile.TemporaryDirectory() as scratch, emulator(copy_seconds) as url:
        ec2 = boto3.client("ec2", region_name=BUILD_REGION, endpoint_url=url)
        regions = sorted(
            r["RegionName"] for r in ec2.describe_regions()["Regions"] if r["RegionName"] != BUILD_REGION
        )
        if len(regions) < max(COUNTS):
            raise SystemExit(f"the emulator offers only {len(regions)} copy regions")
        for region in [BUILD_REGION, *regions[: max(COUNTS)]]:
            boto3.client("ec2", region_name=region, endpoint_url=url).describe_images(Owners=["self"])
        if not serial:
            return _time_builds(url, Path(scratch), regions, COUNTS, runs)
        # The copy, share and manifest steps look for_each_region up on sgarch.ami.aws at call time.
        parallel = aws_module.for_each_region
        aws_module.for_each_region = _serial  # type: ignore[assignment]
        try:
            return _time_builds(url, Path(scratch), regions, SERIAL_COUNTS, runs)
        finally:
            aws_module.for_each_region = parallel


def main() -> None:
    """Start a moto server per scenario, time builds for each region count, print a table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="builds per region count (median reported)")
    parser.add_argument(
        "--copy-seconds",
        type=float,
        default=3.0,
        help="how long each new image stays pending (AWS: minutes); default 3",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run moto as a thread of this process (shares the GIL)"
    )
    args = parser.parse_args()
    if args.copy_seconds <= 0:
        parser.error("--copy-seconds must be above 0; the API-overhead scenario already runs with 0")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(FAKE_CREDENTIALS)
    emulator = _moto_thread if args.in_process else _moto_process

    copy = f"copy {args.copy_seconds:g} s"
    print(
        f"moto server, images pending {args.copy_seconds:g} s after create/copy; {args.runs} runs each",
        flush=True,
    )
    parallel = _scenario(emulator, args.copy_seconds, args.runs)
    serial = _scenario(emulator, args.copy_seconds, 1, serial=True)
    overhead = _scenario(emulator, 0.0, args.runs)

    print(f"\n{'scenario':<28}  {'copy regions':>12}  {'median s':>9}  {'min s':>7}  {'vs 1 region':>11}")
    for name, by_count in (
        (f"parallel, {copy}", parallel),
        (f"one at a time, {copy}", serial),
        ("API overhead, copy 0 s", overhead),
    ):
        base = statistics.median(by_count[1])
        for count, times in sorted(by_count.items()):
            median = statistics.median(times)
            print(f"{name:<28}  {count:>12}  {median:>9.2f}  {min(times):>7.2f}  {median / base:>10.2f}x")
    ratio = statistics.median(parallel[22]) / statistics.median(parallel[1])
    print(
        f"\ntarget, 22 regions < 2x of 1 region (parallel, {copy}): {'met' if ratio < 2 else 'MISSED'} ({ratio:.2f}x)"
    )
    per_region = (statistics.median(serial[5]) - statistics.median(serial[1])) / 4
    print(
        f"one at a time, each extra region adds {per_region:.2f} s: 22 regions would take about {statistics.median(serial[1]) + 21 * per_region:.0f} s"
    )
    extra = (statistics.median(overhead[22]) - statistics.median(overhead[1])) / 21
    print(f"API overhead per extra region (client + ~6 calls, moto on this machine): {extra * 1000:.0f} ms")


if __name__ == "__main__":
    main()
