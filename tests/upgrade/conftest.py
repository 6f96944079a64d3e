"""moto in-process with fake credentials, for the upgrade snapshot tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws


@pytest.fixture(autouse=True)
def _credentials(fake_aws_credentials: None) -> None:
    """Every test here talks to moto (fixture in tests/conftest.py)."""


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield
