"""The single-node reference architecture: one EC2 instance running Sourcegraph with Docker Compose.

The component and its arguments load on first use, so reading the package's scripts or rendering user-data
(the AMI builder does both) does not import Pulumi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sgarch.single_node.args import (
        DEFAULT_SOURCEGRAPH_VERSION,
        EgressRule,
        LoadBalancerArgs,
        SingleNodeArgs,
    )
    from sgarch.single_node.component import DATA_DEVICE_NAME, SingleNode

__all__ = [
    "DATA_DEVICE_NAME",
    "DEFAULT_SOURCEGRAPH_VERSION",
    "EgressRule",
    "LoadBalancerArgs",
    "SingleNode",
    "SingleNodeArgs",
]

_HOME = {
    "DATA_DEVICE_NAME": "component",
    "SingleNode": "component",
    "DEFAULT_SOURCEGRAPH_VERSION": "args",
    "EgressRule": "args",
    "LoadBalancerArgs": "args",
    "SingleNodeArgs": "args",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"sgarch.single_node.{_HOME[name]}"), name)
    raise AttributeError(f"module 'sgarch.single_node' has no attribute {name!r}")
