"""stacks/poc on a real account: reachable, resolvable and administrable in every network combination.

Each combination of the network (your VPC with or without NAT; a new VPC on a transit gateway, peered, with
NAT, or with nothing), ``http_proxy``, ``egress_allowlist`` and ``image: stock`` goes through ``sgarch plan
stacks/poc --json``. It either exits 2 with one line, or its plan shows, from the planned resources alone:
Session Manager and the CloudWatch agent have a path to AWS (interface endpoints the instance may reach on 443,
the proxy in the host's environment with its port allowed, or open egress through NAT), the private zone is
named for the record itself, and the way into a new VPC has its routes.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.cli.app import main

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "poc"
TODAY = "2026-11-23"
RECORD = "sourcegraph.poc.example.com"  # Pulumi.example.yaml's record_name
PROXY = "http://proxy.corp.example.com:3128"
PROXY_CIDR = "10.1.2.0/28"
CODE_HOST = "140.82.112.0/20"
USERS = "10.0.0.0/8"
NEW_VPC = {"vpc_id": "", "subnet_ids": "[]"}
NO_PROXY = {"http_proxy": "", "proxy_cidrs": "[]"}  # clears the example's proxy

NETWORKS: dict[str, dict[str, str]] = {
    "your-vpc": {},
    "your-vpc-nat": {"subnets_have_nat": "true"},
    "new-tgw": NEW_VPC
    | {"transit_gateway_id": "tgw-0123456789abcdef0", "allowed_cidrs": json.dumps([USERS])},
    "new-peering": NEW_VPC | {"peer_vpc_id": "vpc-0aaaabbbbccccdddd", "allowed_cidrs": json.dumps([USERS])},
    "new-nat": NEW_VPC | {"nat": "true"},
    "new-nothing": dict(NEW_VPC),
}
COMBINATIONS = list(itertools.product(NETWORKS, (False, True), (False, True), ("sgarch", "stock")))


def _refused(network: str, proxy: bool, allowlist: bool, image: str) -> bool:
    """The spec: which combinations cannot work on a real account and must be refused."""
    if network == "new-nothing":
        return True  # nobody reaches it, it reaches nothing
    if network == "new-nat" and not (proxy or allowlist):
        return True  # NAT without a written-down egress
    has_nat = network in ("your-vpc-nat", "new-nat")
    return image == "stock" and not (has_nat or proxy)  # a stock AMI downloads at first boot


def sgarch_plan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: dict[str, str]
) -> tuple[int, str, str]:
    """``sgarch plan stacks/poc --stack example --json`` with ``config``: exit status, stdout, stderr."""
    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    argv = ["plan", str(STACK), "--stack", "example", "--json"]
    for key, value in config.items():
        argv += ["--config", f"{key}={value}"]
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _config(network: str, proxy: bool, allowlist: bool, image: str) -> dict[str, str]:
    config = dict(NETWORKS[network]) | {"image": image}
    config |= {"http_proxy": PROXY, "proxy_cidrs": json.dumps([PROXY_CIDR])} if proxy else NO_PROXY
    if allowlist:
        rule = {"cidr": CODE_HOST, "from_port": 443, "description": "github.com"}
        config["egress_allowlist"] = json.dumps([rule])
    return config


def _user_data_files(user_data: str) -> dict[str, str]:
    files = {}
    for entry in yaml.safe_load(user_data).get("write_files") or []:
        content = entry.get("content", "")
        if entry.get("encoding") == "gz+b64":
            content = gzip.decompress(base64.b64decode(content)).decode()
        files[entry["path"]] = content
    return files


def _admits(rule: dict[str, Any], port: int, cidr: str | None = None) -> bool:
    if rule.get("referencedSecurityGroupId"):
        return False
    target = rule.get("cidrIpv4") or rule.get("prefixListId")
    if target is None or (cidr is not None and target not in (cidr, "0.0.0.0/0")):
        return False
    if rule.get("ipProtocol") == "-1":
        return True
    return rule.get("ipProtocol") == "tcp" and int(rule["fromPort"]) <= port <= int(rule["toPort"])


class Planned:
    """The resources of one plan, by type, with the questions the assertions ask."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.resources: list[dict[str, Any]] = plan["resources"]
        self.exports: dict[str, Any] = plan["exports"]

    def of(self, type_token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_token]

    def endpoints(self) -> set[str]:
        return {
            str(r["inputs"]["serviceName"]).removeprefix("com.amazonaws.us-east-1.")
            for r in self.of("aws:ec2/vpcEndpoint:VpcEndpoint")
            if r["inputs"].get("vpcEndpointType") == "Interface"
        }

    def instance_egress(self) -> list[dict[str, Any]]:
        # The instance's own rules: those of the SingleNode component that name a destination network.
        node = next(r["urn"] for r in self.resources if r["type"] == "sgarch:single-node:SingleNode")
        return [
            r["inputs"]
            for r in self.of("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
            if r["parent"] == node and not r["inputs"].get("referencedSecurityGroupId")
        ]

    def to_vpc(self, rule: dict[str, Any]) -> bool:
        """Whether ``rule`` names the VPC's own ranges: a private CIDR, everywhere, or a prefix list of the
        stack's that holds only private ranges (AWS's own lists, such as S3's, are named pl-...)."""
        if rule.get("cidrIpv4"):
            return rule["cidrIpv4"] == "0.0.0.0/0" or ipaddress.ip_network(rule["cidrIpv4"]).is_private
        lists = self.of("aws:ec2/managedPrefixList:ManagedPrefixList")
        return (
            not str(rule.get("prefixListId", "pl-")).startswith("pl-")
            and bool(lists)
            and all(
                ipaddress.ip_network(e["cidr"]).is_private for pl in lists for e in pl["inputs"]["entries"]
            )
        )

    def host_env(self) -> str:
        inputs = self.of("aws:ec2/instance:Instance")[0]["inputs"]
        user_data = inputs.get("userData")
        if user_data is None:  # a large document goes gzipped, as userDataBase64
            user_data = gzip.decompress(base64.b64decode(inputs["userDataBase64"])).decode()
        files = _user_data_files(user_data)
        return "\n".join(text for path, text in files.items() if path.startswith("/etc/"))


def _aws_path(planned: Planned, services: set[str], network: str, proxy: bool) -> str | None:
    """How the agents that need ``services`` reach AWS in this plan, or None when they cannot."""
    egress = planned.instance_egress()
    # The endpoints' addresses are in the VPC: a private range, or everywhere.
    to_vpc = any(_admits(r, 443) and planned.to_vpc(r) for r in egress)
    if services <= planned.endpoints() and to_vpc:
        return "endpoints"
    if (
        proxy
        and f"HTTPS_PROXY={PROXY}" in planned.host_env()
        and any(_admits(r, 3128, PROXY_CIDR) for r in egress)
    ):
        return "proxy"
    nat = network == "your-vpc-nat" or bool(planned.of("aws:ec2/natGateway:NatGateway"))
    if nat and any(_admits(r, 443, "0.0.0.0/0") and r.get("cidrIpv4") == "0.0.0.0/0" for r in egress):
        return "nat"
    return None


@pytest.mark.parametrize(("network", "proxy", "allowlist", "image"), COMBINATIONS)
def test_every_combination_is_administrable_or_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    network: str,
    proxy: bool,
    allowlist: bool,
    image: str,
) -> None:
    code, out, err = sgarch_plan(capsys, monkeypatch, _config(network, proxy, allowlist, image))
    if _refused(network, proxy, allowlist, image):
        assert code == 2 and out == "", err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
        return
    assert code == 0, err
    planned = Planned(json.loads(out))
    # Administrable: Session Manager is the only admin access, and the disk alarm needs the CloudWatch agent.
    assert _aws_path(planned, {"ssm", "ssmmessages", "ec2messages"}, network, proxy), "no path for SSM"
    assert _aws_path(planned, {"logs", "monitoring"}, network, proxy), "no path for CloudWatch"
    # Resolvable: a zone for the record itself, never its parent domain.
    zones = planned.of("aws:route53/zone:Zone")
    assert [z["inputs"]["name"] for z in zones] == [RECORD]
    assert [r["inputs"]["name"] for r in planned.of("aws:route53/record:Record")] == [RECORD]
    # Reachable: the way into a new VPC, with routes in each private route table.
    if network in ("new-tgw", "new-peering"):
        target = "transitGatewayId" if network == "new-tgw" else "vpcPeeringConnectionId"
        routes = [r["inputs"] for r in planned.of("aws:ec2/route:Route") if r["inputs"].get(target)]
        expected = {USERS} | ({CODE_HOST} if allowlist else set()) | ({PROXY_CIDR} if proxy else set())
        assert {r["destinationCidrBlock"] for r in routes} == expected
        assert len({r["routeTableId"] for r in routes}) == 2 and len(routes) == 2 * len(expected)
        link = planned.of(
            "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
            if network == "new-tgw"
            else "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"
        )
        assert len(link) == 1
    if network == "new-nat":
        assert len(planned.of("aws:ec2/natGateway:NatGateway")) == 1
        assert [r for r in planned.of("aws:ec2/route:Route") if r["inputs"].get("natGatewayId")]
        assert "AWS-StartPortForwardingSessionToRemoteHost" in planned.exports["port_forwarding"]
        assert f"host={RECORD},portNumber=443" in planned.exports["port_forwarding"]
    if proxy:
        assert f"HTTPS_PROXY={PROXY}" in planned.host_env()


def test_the_matrix_plans_most_combinations() -> None:
    # A matrix that refused everything would pass the test above vacuously.
    planned = [c for c in COMBINATIONS if not _refused(*c)]
    assert len(planned) >= 24 and {c[0] for c in planned} == set(NETWORKS) - {"new-nothing"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            NEW_VPC,
            "error: transit_gateway_id must be set, or peer_vpc_id, or nat, when the stack creates the VPC "
            "(got None): a new VPC is otherwise reachable by nobody and reaches nothing",
        ),
        (
            NEW_VPC | NO_PROXY | {"nat": "true"},
            "error: egress_allowlist must be set (or http_proxy) with nat (got [])",
        ),
        (
            NEW_VPC | {"subnets_have_nat": "true"},
            "error: subnets_have_nat must be unset without vpc_id (got True): it describes subnets you bring",
        ),
        (
            {"transit_gateway_id": "tgw-0123456789abcdef0"},
            "error: transit_gateway_id must be unset with vpc_id",
        ),
        (
            NEW_VPC | {"transit_gateway_id": "tgw-0123456789abcdef0"},
            "error: allowed_cidrs must be set with transit_gateway_id or peer_vpc_id (got [])",
        ),
        (
            NEW_VPC
            | {"transit_gateway_id": "tgw-0123456789abcdef0", "allowed_cidrs": '["10.0.0.0/8"]'}
            | {"routed_cidrs": '["fd00::/8"]'},
            "error: routed_cidrs must be IPv4 CIDRs like 10.0.0.0/8 (got 'fd00::/8')",
        ),
        (
            NEW_VPC
            | NO_PROXY
            | {"nat": "true", "interface_endpoints": "false"}
            | {"egress_allowlist": json.dumps([{"cidr": CODE_HOST}])},
            "error: interface_endpoints must be true or unset when the new VPC has no other way to AWS",
        ),
        (
            {"http_proxy": PROXY, "proxy_cidrs": "[]"},
            "error: proxy_cidrs must be set when http_proxy names a host rather than an IP address",
        ),
    ],
)
def test_unworkable_networks_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: dict[str, str], message: str
) -> None:
    code, out, err = sgarch_plan(capsys, monkeypatch, config)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(message), err
