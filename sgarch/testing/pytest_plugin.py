"""pytest plugin: the ``pulumi_mocks`` fixture. Load it from a conftest.py with
``pytest_plugins = ["sgarch.testing.pytest_plugin"]``.

Each test gets fresh :class:`~sgarch.testing.SgarchMocks` in a fresh Pulumi runtime (event loop, settings,
root stack and config), so resources and async work from one test never reach the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sgarch.testing._mocks import SgarchMocks
from sgarch.testing._runtime import mocked_runtime

__all__ = ["pulumi_mocks"]


@pytest.fixture
def pulumi_mocks() -> Iterator[SgarchMocks]:
    """Fresh recording mocks in a fresh runtime (project ``test``, stack ``test``, region ``us-east-1``).

    Use ``pulumi_mocks.set_config({...})`` for config, ``pulumi_mocks.run(program)`` to run a program to
    completion, then query what it registered (``pulumi_mocks.one("aws:ec2/vpc:Vpc")``).
    """
    with mocked_runtime(SgarchMocks()) as mocks:
        yield mocks
