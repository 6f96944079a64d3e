"""Offline Pulumi mocks for sgarch and for users testing their own stacks.

``SgarchMocks`` records every resource (type token, logical name, parent, inputs, options) and every invoke,
answers the common AWS invokes with realistic data, emulates provider autonaming, and raises on invokes it
does not know. ``mocked_runtime`` gives a block its own fresh Pulumi runtime; the pytest fixture
``pulumi_mocks`` (load it with ``pytest_plugins = ["sgarch.testing.pytest_plugin"]``) does the same per test::

    def test_bucket_is_private(pulumi_mocks):
        pulumi_mocks.run(lambda: aws.s3.Bucket("logs"))
        assert pulumi_mocks.one("aws:s3/bucket:Bucket").inputs.get("acl") is None

Recorded inputs use the engine's camelCase names (``cidrBlock``) and numbers arrive as floats (``443.0``).
"""

from __future__ import annotations

from sgarch.testing._fakes import ACCOUNT_ID
from sgarch.testing._invokes import DEFAULT_INVOKES, InvokeFailedError, InvokeHandler
from sgarch.testing._mocks import DEFAULT_REGION, ResourceHandler, SgarchMocks, UnmockedInvokeError
from sgarch.testing._network import FakeNetwork
from sgarch.testing._records import (
    SECRET_PLACEHOLDER,
    InvokeRecord,
    RecordedOptions,
    ResourceQuery,
    ResourceRecord,
    redact_secrets,
    unwrap_secrets,
)
from sgarch.testing._runtime import mocked_runtime, resolve, run_program, stack_outputs
from sgarch.testing.fake_sourcegraph import FakeSourcegraph

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_INVOKES",
    "DEFAULT_REGION",
    "SECRET_PLACEHOLDER",
    "FakeNetwork",
    "FakeSourcegraph",
    "InvokeFailedError",
    "InvokeHandler",
    "InvokeRecord",
    "RecordedOptions",
    "ResourceHandler",
    "ResourceQuery",
    "ResourceRecord",
    "SgarchMocks",
    "UnmockedInvokeError",
    "mocked_runtime",
    "redact_secrets",
    "resolve",
    "run_program",
    "stack_outputs",
    "unwrap_secrets",
]
