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
    diagram: bool = False
    """Draw this option's own diagram on the page (a different network, say), after the default one."""


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
    sections: tuple[tuple[str, str], ...] = ()
    """Hand-written ``(heading, markdown)`` sections, shown after the security posture."""


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

_POC_NEW_VPC = {"vpc_id": "", "subnet_ids": "[]"}
_POC_USERS = {"allowed_cidrs": '["10.0.0.0/8"]'}

_POC_WAYS_IN = """
A POC lives in the customer's network: people must reach it, and it must reach a code host. There are four
ways, and a stack that creates its own VPC must pick one; otherwise `sgarch plan` and `pulumi up` stop with one
line that names them.

| Way | Keys | Users come in through | It reaches code hosts through | Your network team does |
|---|---|---|---|---|
| Your VPC (the usual case) | `vpc_id`, `subnet_ids` (`subnets_have_nat` if they route to NAT) | your routes to the VPC | your routes (NAT, proxy, transit gateway) | nothing new |
| New VPC on your transit gateway | `transit_gateway_id`, `allowed_cidrs` (`routed_cidrs`) | the transit gateway | the transit gateway (`0.0.0.0/0` in `routed_cidrs` for a central egress VPC) | associate and propagate the attachment in the transit gateway's route tables (automatic with its default route table), route `vpc_cidr` back, accept the attachment if the gateway is shared from another account and does not auto-accept |
| New VPC peered with yours | `peer_vpc_id` (`peer_owner_id`, `peer_region`), `allowed_cidrs` | the peering connection | only what is inside the peer VPC: peering is not transitive | accept the peering request (another account or region), route `vpc_cidr` to it from the peer VPC |
| New VPC with NAT | `nat`, with `egress_allowlist` or `http_proxy` | SSM port forwarding (below) | one NAT gateway, limited to the allowlist or the proxy | nothing |

The stack routes `routed_cidrs` through the transit gateway or the peering connection from each private route
table; by default that is `allowed_cidrs`, `api_access_cidrs`, the egress allowlist's CIDRs and `proxy_cidrs`.
Pick a `vpc_cidr` that overlaps none of your networks. The diagrams above show each way.

**SSM port forwarding** brings the internal ALB to a user's machine without any network path: the `port_forwarding`
output is the command (`aws ssm start-session --target <instance> --document-name
AWS-StartPortForwardingSessionToRemoteHost --parameters host=<record_name>,portNumber=443,localPortNumber=443`).
Map `record_name` to 127.0.0.1 in the hosts file and open `https://<record_name>`: the certificate matches, and
the instance resolves and reaches the ALB from inside the VPC, which the ALB admits by default. Users need the
Session Manager plugin and `ssm:StartSession` on the instance and the document.

With `runtime: eks` a new VPC needs the transit gateway or the peering connection: Pulumi and kubectl reach the
private Kubernetes API from your network.
"""

_POC_DNS = """
The private hosted zone is named for `record_name` itself (`sourcegraph.poc.example.com`), with an alias A
record at its apex to the ALB. Never for its parent: Route 53 answers every name of a private zone's domain
from that zone and does not fall through to public DNS, so a private `poc.example.com` would make every other
name under it (your code host, your proxy) NXDOMAIN inside the VPC, and would conflict with a zone of that name
already associated with your VPC. To reuse a zone of yours, set `private_zone_id`; when the stack creates the
VPC it associates your zone with it (a zone of another account first needs
`aws route53 create-vpc-association-authorization` there).

A private zone answers only inside the VPCs associated with it. For users elsewhere:

- **Other VPCs:** associate the zone with them (`aws route53 associate-vpc-with-hosted-zone --hosted-zone-id
  <zone> --vpc VPCRegion=<region>,VPCId=<vpc>`).
- **On premises or behind your own DNS servers:** forward `record_name` to a Route 53 Resolver **inbound
  endpoint** in the POC's VPC (or in a VPC associated with the zone): a conditional forwarder for that one name
  on your DNS servers. An inbound endpoint costs about $0.125 an hour per IP address, two at least.
- **Or** add the record to your own DNS as a CNAME of the ALB's name (the `url` output's host resolves to it).
"""

_POC_EGRESS = """
**A security group filters by IP address, not by name.** `egress_allowlist` opens TCP ports to CIDRs (a code
host's published ranges); it cannot say "github.com". With `http_proxy`, every client on the host uses the
proxy (dnf, curl, git, Docker, the SSM and CloudWatch agents, the containers), and the security group opens the
proxy's port to `proxy_cidrs` and nothing else outside the VPC: HTTPS to the VPC's own ranges (its interface
endpoints) and to S3's prefix list (its gateway endpoint) stay open. To filter by name without a proxy, put
**AWS Network Firewall** with domain-list rules (stateful, SNI and Host header) in the path to the internet; sgarch
does not build it. It costs about $0.395 an hour per firewall endpoint (one per zone, about $288 a month) plus
$0.065 per GB processed, more than the whole XS POC.

Session Manager (the only admin access) and the CloudWatch agent (the data-disk alarm) must reach AWS in every
combination. `interface_endpoints` decides how:

| Subnets | Egress | Interface endpoints by default | The agents reach AWS through |
|---|---|---|---|
| no NAT | any | all eight | the endpoints |
| NAT | `egress_allowlist`, no proxy | ssm, ssmmessages, ec2messages, logs, monitoring | the endpoints |
| NAT | `http_proxy` | none | the proxy |
| NAT | neither (your VPC only) | none | NAT |

Setting `interface_endpoints: false` where nothing else reaches AWS is refused for a new VPC; in your VPC it
means your VPC already has them.
"""

_POC_BUDGET = """
The budget counts costs tagged `poc=<stack>` in the stack's region, so POCs of the same stack name in other
regions do not share it. Cost Explorer and Budgets see a tag only once it is an **active cost allocation tag**,
and only the payer (management) account of an organization can activate one: until then the budget reads $0.
If this account is the payer, `activate_cost_allocation_tag: true` activates `poc` from the stack (AWS lists a
tag key only after it has seen it on a resource, up to 24 hours after the first `pulumi up`, so set it on a later
update); from a member account AWS refuses it and `pulumi up` fails, so leave it off and ask the payer account to
activate `poc` in Billing and Cost Management, Cost allocation tags. The `cost_allocation_tag` output says which
applies. Destroying the stack leaves the tag active for other POCs.

The `expires-on` tag is only on the schedules' group and the budget: extending a POC updates the schedules and
the budget and nothing else.
"""

POC = Architecture(
    slug="poc",
    title="Proof of concept",
    summary=(
        "The smallest useful Sourcegraph for an evaluation: one instance with Docker Compose and the same "
        "security defaults as single-node, sized and priced to run for days or weeks, inside your VPC or a new "
        "one connected to your network, stopped after its expiry date."
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
    variants=(
        Variant(
            "New VPC on your transit gateway",
            _POC_NEW_VPC | _POC_USERS | {"transit_gateway_id": "tgw-0123456789abcdef0"},
            "A VPC of its own, attached to your transit gateway; your networks and the proxy routed through it.",
            diagram=True,
        ),
        Variant(
            "New VPC peered with yours",
            _POC_NEW_VPC | _POC_USERS | {"peer_vpc_id": "vpc-0aaaabbbbccccdddd"},
            "A VPC of its own, peered with one of yours; reaches only what is in that VPC.",
            diagram=True,
        ),
        Variant(
            "New VPC with NAT (SSM port forwarding)",
            _POC_NEW_VPC
            | {
                "nat": "true",
                "http_proxy": "",
                "proxy_cidrs": "[]",
                "egress_allowlist": '[{"cidr": "140.82.112.0/20", "description": "github.com"}]',
            },
            "No connection to your network: one NAT gateway limited to the allowlist, people come in through "
            "SSM port forwarding.",
            diagram=True,
        ),
    ),
    sections=(
        ("Ways in and out", _POC_WAYS_IN),
        ("DNS", _POC_DNS),
        ("Egress control", _POC_EGRESS),
        ("Budget", _POC_BUDGET),
    ),
)

ARCHITECTURES: tuple[Architecture, ...] = (SINGLE_NODE, EKS, POC)
"""Every architecture, in the order the README presents them."""
