"""Fixtures for the on-host script tests; the fake host itself is in host_sandbox.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from host_sandbox import Sandbox, embedded_scripts

from sgarch.host import script_text


@pytest.fixture(params=["source", "embedded"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh fake host with the scripts from the package or from the rendered user-data."""
    if request.param == "source":
        scripts = {name: script_text(name) for name in ("install.sh", "boot.sh", "proxy.sh")}
    else:
        scripts = embedded_scripts()
    yield Sandbox(tmp_path, scripts)
