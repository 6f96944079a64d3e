"""Sourcegraph's Helm chart on EKS: the ``SourcegraphRelease`` component and the pure values composition."""

from __future__ import annotations

from sgarch.helm.args import SourcegraphReleaseArgs, excluded_services
from sgarch.helm.component import SourcegraphRelease
from sgarch.helm.values import IngressOptions, PostgresOptions, RedisOptions, S3Options, compose_values

__all__ = [
    "IngressOptions",
    "PostgresOptions",
    "RedisOptions",
    "S3Options",
    "SourcegraphRelease",
    "SourcegraphReleaseArgs",
    "compose_values",
    "excluded_services",
]
