"""moto in-process with fake credentials, for every doctor test (helpers live in doctor_fixtures.py)."""

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
