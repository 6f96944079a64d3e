"""Fixtures for the migrate tests: a real PostgreSQL (session), Sourcegraph-like databases, a moto server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from migrate_pg import PgServer, find_bin_dir, start_server


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """One real PostgreSQL for the session; skips (visibly) without Debian's server package."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries are not installed (apt-get install -y postgresql); .ci/run installs them"
        )
    server = start_server(bin_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on 127.0.0.1 for S3, SSM and EC2, one per module."""
    from moto.server import ThreadedMotoServer

    # Skipping moto's ~1,300 public AMIs saves seconds on the first EC2 call.
    mp = pytest.MonkeyPatch()
    mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        mp.undo()
