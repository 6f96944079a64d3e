"""The words around the numbers: what each architecture is for, and how it is upgraded and backed up.

Everything measurable on the pages (resources, tiers, costs, diagram, findings) comes from planning the
stack; only these explanations are written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ARCHITECTURES", "Architecture", "Variant"]


@dataclass(frozen=True)
class Variant:
    """An option worth pricing separately: ``config`` on top of the defaults, planned at the smallest tier."""

    label: str
    config: dict[str, str]
    note: str


@dataclass(frozen=True)
class Architecture:
    """One reference architecture: its stack folder (``stacks/<slug>``), its page and its hand-written text."""

    slug: str
    title: str
    summary: str
    choose_when: str
    upgrade_notes: tuple[str, ...]
    backup_notes: tuple[str, ...]
    docs_config: dict[str, str] = field(default_factory=dict)
    """Config on top of ``Pulumi.example.yaml`` for the pages (clearing its workload so the tier decides)."""
    tiers: tuple[str, ...] | None = None
    """Tiers the page shows. Default: every tier the stack accepts."""
    variants: tuple[Variant, ...] = ()


# The examples size from a workload; the pages size by tier, so they clear it.
_CLEAR_WORKLOAD = {"users": "0", "repos": "0", "total_repo_gb": "", "largest_repo_gb": ""}

SINGLE_NODE = Architecture(
    slug="single-node",
    title="Single node",
    summary=(
        "Sourcegraph on one EC2 instance with Docker Compose, in the private subnet of a new (or your) VPC. "
        "Every repository, index and database lives on a separate, encrypted gp3 data volume that is "
        "protected, retained and snapshotted daily, so the instance itself is disposable: upgrades and tier "
        "changes replace it and re-attach the same volume. There is no SSH and no inbound rule by default; "
        "reach it with SSM Session Manager port forwarding, or give it a certificate for an internal ALB."
    ),
    choose_when=(
        "Up to 20,000 users and 250,000 repositories (XS to XL), when a few minutes of downtime during "
        "upgrades and the rare host failure are acceptable. The simplest architecture to run."
    ),
    upgrade_notes=(
        "Change `sourcegraph_version` one minor release at a time (7.4 → 7.5): the instance is replaced, the "
        "data volume is re-attached, and Sourcegraph's `migrator up` runs before the frontend starts.",
        "Skipping minor releases is a multi-version upgrade: it needs downtime and Sourcegraph's migrator "
        "`upgrade --from --to` procedure. Snapshot the data volume first.",
        "PostgreSQL 12 data cannot go straight to 7.0 or later: pass through a 6.x release first.",
        "Changing `tier` (or `instance_type`) replaces the instance only. The data volume never shrinks; "
        "raise `data_volume_gib` to grow it (EBS grows online).",
        "Every upgrade and tier change is a `pulumi up`; `sgarch plan` shows beforehand that only the "
        "instance is replaced.",
    ),
    backup_notes=(
        "Data Lifecycle Manager snapshots the data volume every day at `snapshot_time_utc` (03:00 UTC) and "
        "keeps `snapshot_retention_days` of them (7).",
        "The data volume is protected and retained by Pulumi and takes a final snapshot if it is ever deleted.",
        "To restore, create the volume of a new stack from a snapshot with `data_volume_snapshot_id`; the same "
        "setting promotes a POC's data to this architecture.",
        "Take a manual snapshot before any multi-version upgrade.",
    ),
    docs_config=dict(_CLEAR_WORKLOAD),
    variants=(
        Variant(
            "No ALB (SSM port forwarding only)",
            {"certificate_arn": ""},
            "Saves the ALB; people reach Sourcegraph through SSM Session Manager port forwarding.",
        ),
        Variant(
            "Interface endpoints",
            {"interface_endpoints": "true"},
            "SSM, ECR, CloudWatch Logs and STS without leaving the VPC, in each AZ.",
        ),
        Variant(
            "One NAT gateway per AZ",
            {"nat": "one_per_az"},
            "Egress survives the loss of one availability zone.",
        ),
    ),
)

EKS = Architecture(
    slug="eks",
    title="EKS",
    summary=(
        "Sourcegraph's Helm chart on Amazon EKS with managed node groups, in private subnets across several "
        "availability zones, with the databases and Redis as managed AWS services where configured: RDS "
        "Multi-AZ and ElastiCache with a replica and automatic failover in another zone. "
        "`pulumi up` reaches the Kubernetes API from where it runs: when the stack creates the VPC, the API "
        "endpoint is private and public, the public side open only to `public_access_cidrs` (required); with "
        "your own `vpc_id` it is private only, and Pulumi runs from inside that network."
    ),
    choose_when=(
        "Required for 2XL and 3XL (over 20,000 users or 250,000 repositories). Also the choice at smaller "
        "tiers when you need rolling upgrades, redundancy across availability zones (with `postgres` and "
        "`redis`: the in-cluster databases and Redis are single pods on one zone's EBS volumes), or already "
        "run Kubernetes."
    ),
    upgrade_notes=(
        "Upgrade Sourcegraph one minor release at a time with `helm upgrade` to the next chart version; the "
        "migrator runs as an init container.",
        "A multi-version upgrade needs downtime: scale every Deployment and StatefulSet except the databases "
        "to 0, run the migrator's `upgrade --from --to`, then `helm upgrade` to the target.",
        "Upgrade Kubernetes one minor version at a time by changing `kubernetes_version`: the control plane "
        "moves first (several minutes), then each node group follows the cluster's version in a rolling update "
        "(a new node, then one old node drained, waiting up to 15 minutes for PodDisruptionBudgets before the "
        "update fails rather than forcing), then the managed add-ons move to EKS's default version for it. "
        "Standard support lasts 14 months; extended support bills the control plane at six times the standard "
        "rate.",
        "A new instance type or node disk is blue/green: new node groups (a new `<stack>-nodes-<zone>-"
        "<generation>` name) are created and Ready before Pulumi deletes the old ones at the end of the update. "
        "Launching takes minutes; deleting an old group drains all its nodes at once and terminates a node "
        "that has not drained after 5 minutes, so PodDisruptionBudgets count only within those 5 minutes and "
        "every pod of the old groups restarts on the new nodes within a few minutes. Node counts change in "
        "place. Check the EC2 vCPU quota for both generations at once.",
    ),
    backup_notes=(
        "Snapshot every database (RDS snapshots, or EBS snapshots of the database volumes) before any "
        "multi-version upgrade.",
        "Keep automated RDS backups on and ElastiCache snapshots for redis-store; redis-cache can be rebuilt.",
    ),
    docs_config=dict(_CLEAR_WORKLOAD),
)

POC = Architecture(
    slug="poc",
    title="Proof of concept",
    summary=(
        "The smallest useful Sourcegraph for an evaluation: one instance with Docker Compose and the same "
        "security defaults as single-node, sized and priced to run for days or weeks."
    ),
    choose_when=(
        "Evaluating Sourcegraph on a few hundred repositories before committing to a tier. Not for production; "
        "promote the data to single-node when the evaluation succeeds."
    ),
    upgrade_notes=(
        "A POC is not upgraded in place across many releases: recreate it on the newest release, or promote it.",
        "Promote to single-node by snapshotting the data volume and setting `data_volume_snapshot_id` in the "
        "single-node stack.",
    ),
    backup_notes=("Snapshot the data volume before promoting or destroying the POC.",),
    tiers=("XS",),
)

ARCHITECTURES: tuple[Architecture, ...] = (SINGLE_NODE, EKS, POC)
"""Every architecture, in the order the README presents them."""
