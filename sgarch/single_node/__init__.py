"""The single-node reference architecture: one EC2 instance running Sourcegraph with Docker Compose.

Importing this package imports Pulumi. What runs on the host (user-data, scripts, the standalone files) is
pure and lives in :mod:`sgarch.host`, which the AMI builder and the docs import instead.
"""

from __future__ import annotations

from sgarch.host import DATA_DEVICE_NAME
from sgarch.single_node.args import (
    DEFAULT_SOURCEGRAPH_VERSION,
    EgressRule,
    LoadBalancerArgs,
    SingleNodeArgs,
)
from sgarch.single_node.component import SingleNode

__all__ = [
    "DATA_DEVICE_NAME",
    "DEFAULT_SOURCEGRAPH_VERSION",
    "EgressRule",
    "LoadBalancerArgs",
    "SingleNode",
    "SingleNodeArgs",
]
