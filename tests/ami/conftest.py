"""Fixtures for the AMI builder tests: moto in-process or as a server, a small spec, a fake clock, a call recorder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ami_moto import SHARE_ACCOUNT, FakeClock, Recorder, configured_moto, reset_server

SPEC = f"""\
name: test-image
sourcegraph_version: 7.5.4453
copy_regions: [us-west-2, eu-west-1, ap-southeast-2]
provisioners:
  - script: install.sh
    args: [--pull-images]
hardening: [harden.sh]
tags:
  Team: platform
sharing:
  account_ids: ["{SHARE_ACCOUNT}"]
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """moto in-process with our AL2023 base images and the SSM managed policy, one per test module.

    Sharing it keeps moto's per-region start-up cost to once per module; tests compare inventories before
    and after instead of expecting an empty account, and give every spec its own hash (see ``spec_dir``).
    """
    from moto import mock_aws

    with configured_moto(), mock_aws():
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (its URL), with ``configured_moto``'s patches, one per test module.

    The server's threads share this process's moto backends and classes, so the patches apply to it too.
    """
    from moto.server import ThreadedMotoServer

    with configured_moto():
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        host, port = moto_server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            yield url
        finally:
            # Leave no emulated state (built with our patched images) behind for other test modules.
            reset_server(url)
            moto_server.stop()


@pytest.fixture
def endpoint(server: str) -> str:
    """The moto server's URL, the server emptied first; its backends (our base images, default VPCs) come
    back on first use."""
    reset_server(server)
    return server


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A spec folder with two tiny scripts."""
    folder = tmp_path / "test-image"
    folder.mkdir()
    # A description unique to the test gives each spec its own hash, so no test sees another's build.
    (folder / "ami.yaml").write_text(SPEC + f"description: {tmp_path.name}\n")
    (folder / "install.sh").write_text('#!/usr/bin/env bash\nset -euo pipefail\necho "installing $1"\n')
    (folder / "harden.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\necho hardened\n")
    return folder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
