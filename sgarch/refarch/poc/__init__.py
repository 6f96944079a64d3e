"""The POC reference architecture: a private, time-boxed Sourcegraph inside the customer's network.

Generalised from enterprise proofs of concept: nothing is reachable from the internet, admins come in through
SSM Session Manager, users through an internal ALB with HTTPS and a private DNS name, the instance is stopped
(never deleted) after an expiry date, a budget e-mails at 80% and 100% of a monthly limit, and the data
volume can be promoted to production by snapshot.

It runs in the customer's VPC (the usual case) or in a new VPC that must be connected: attached to their
transit gateway, peered with one of their VPCs, or given a NAT gateway for egress with people coming in by
SSM port forwarding. A new VPC without any of these would be reachable by nobody, and the settings refuse it.

With ``runtime: eks`` the same network, certificate, private zone, budget and expiry wrap an EKS cluster
(private API endpoint, the smallest node plan for the tier) running the official Helm chart with in-cluster
databases; after the expiry its node groups are scaled to zero instead of an instance being stopped.

Modules: ``_settings`` (config keys and their combinations), ``_network`` (the VPC and its way in),
``_shared`` (zone, certificate, budget, scheduler role), ``_single_node`` and ``_eks`` (the runtimes),
``_environment`` (the component that wires them).
"""

from __future__ import annotations

from sgarch.refarch.poc._eks import CLUSTER_NAME_PREFIX, EKS_ENDPOINT_SERVICES, scale_to_zero_input
from sgarch.refarch.poc._environment import PocEnvironment, deploy
from sgarch.refarch.poc._settings import AGENT_ENDPOINT_SERVICES, PocSettings
from sgarch.refarch.poc._shared import EXPIRY_TAG, POC_TAG, stop_schedule_expression
from sgarch.refarch.poc._single_node import port_forwarding_command

__all__ = [
    "AGENT_ENDPOINT_SERVICES",
    "CLUSTER_NAME_PREFIX",
    "EKS_ENDPOINT_SERVICES",
    "EXPIRY_TAG",
    "POC_TAG",
    "PocEnvironment",
    "PocSettings",
    "deploy",
    "port_forwarding_command",
    "scale_to_zero_input",
    "stop_schedule_expression",
]
