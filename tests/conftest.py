"""Shared pytest configuration. Component tests use the `pulumi_mocks` fixture from sgarch.testing."""

pytest_plugins = ["sgarch.testing.pytest_plugin"]
