"""The network layer every architecture shares: ``Network`` (a VPC, or yours) and its pure CIDR layout."""

from __future__ import annotations

from sgarch.network.checks import BroughtNetwork, check_brought_network
from sgarch.network.component import (
    INTERFACE_ENDPOINT_SERVICES,
    SSM_ENDPOINT_SERVICES,
    NatStrategy,
    Network,
    NetworkArgs,
)
from sgarch.network.layout import NetworkLayout, SubnetKind, SubnetPlan, plan_layout

__all__ = [
    "INTERFACE_ENDPOINT_SERVICES",
    "SSM_ENDPOINT_SERVICES",
    "BroughtNetwork",
    "NatStrategy",
    "Network",
    "NetworkArgs",
    "NetworkLayout",
    "SubnetKind",
    "SubnetPlan",
    "check_brought_network",
    "plan_layout",
]
