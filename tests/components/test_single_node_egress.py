"""SingleNode's egress and proxy under Pulumi mocks: the rules the security group gets, the proxy in the
user-data, and the DLM tag that keeps stacks apart (issue #19, items 4, 6, 9 and part of 3)."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.single_node.args import SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.testing import SgarchMocks, mocked_runtime
from sgarch.validation import build

VPC = "vpc-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INSTANCE = "aws:ec2/instance:Instance"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
GET_PREFIX_LIST = "aws:ec2/getManagedPrefixList:getManagedPrefixList"
GET_VPC = "aws:ec2/getVpc:getVpc"


def plan(mocks: SgarchMocks, **kwargs: Any) -> SingleNode:
    args = build(SingleNodeArgs, None, vpc_id=VPC, subnet_id=SUBNET, **kwargs)
    return mocks.run(lambda: SingleNode("sg", args))


def destinations(mocks: SgarchMocks) -> list[tuple[str, str, Any, Any]]:
    """Each egress rule of the instance as (protocol, destination, first port, last port)."""
    out = []
    for rule in mocks.by_type(EGRESS):
        if not rule.name.startswith("sg-instance-"):
            continue
        inputs = rule.inputs
        where = next(inputs[k] for k in ("cidrIpv4", "cidrIpv6", "prefixListId") if k in inputs)
        out.append((inputs["ipProtocol"], where, inputs.get("fromPort"), inputs.get("toPort")))
    return sorted(out, key=str)


def s3_prefix_list_id(mocks: SgarchMocks) -> str:
    (lookup,) = mocks.invoked(GET_PREFIX_LIST)
    assert lookup.args["name"] == "com.amazonaws.us-east-1.s3"
    return str(lookup.result["id"])


def test_a_proxy_is_the_only_way_out(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, http_proxy="http://10.20.30.40:3128")
    vpc_list = pulumi_mocks.one(PREFIX_LIST)
    assert destinations(pulumi_mocks) == sorted(
        [
            ("tcp", "10.20.30.40/32", 3128, 3128),
            ("tcp", vpc_list.id, 443, 443),
            ("tcp", s3_prefix_list_id(pulumi_mocks), 443, 443),
        ],
        key=str,
    )


def test_the_vpc_rule_covers_every_cidr_the_vpc_has(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, http_proxy="http://10.20.30.40:3128")
    (lookup,) = pulumi_mocks.invoked(GET_VPC)
    found = sorted(a["cidrBlock"] for a in lookup.result["cidrBlockAssociations"])
    vpc_list = pulumi_mocks.one(PREFIX_LIST).inputs
    assert vpc_list["addressFamily"] == "IPv4"
    assert sorted(e["cidr"] for e in vpc_list["entries"]) == found
    assert vpc_list["maxEntries"] >= len(found)


def test_a_proxy_named_by_host_opens_its_port_to_the_given_cidrs(pulumi_mocks: SgarchMocks) -> None:
    plan(
        pulumi_mocks,
        http_proxy="http://proxy.corp.example.com:8080",
        proxy_cidrs=("10.9.0.0/24", "fd00:9::/64"),
    )
    proxy = [d for d in destinations(pulumi_mocks) if d[2] == 8080]
    assert sorted(d[1] for d in proxy) == ["10.9.0.0/24", "fd00:9::/64"]
    ipv6 = next(r.inputs for r in pulumi_mocks.by_type(EGRESS) if r.inputs.get("cidrIpv6") == "fd00:9::/64")
    assert "cidrIpv4" not in ipv6
    assert all(d[1] not in ("0.0.0.0/0", "::/0") and d[0] != "-1" for d in destinations(pulumi_mocks))


def test_an_allowlist_keeps_s3_and_the_vpc_and_sends_ipv6_as_ipv6(pulumi_mocks: SgarchMocks) -> None:
    rules = ({"cidr": "140.82.112.0/20"}, {"cidr": "2606:50c0::/32", "description": "github.com IPv6"})
    plan(pulumi_mocks, egress_allowlist=rules, aws_endpoints_in_vpc=True)
    got = destinations(pulumi_mocks)
    assert ("tcp", "2606:50c0::/32", 443, 443) in got and ("tcp", "140.82.112.0/20", 443, 443) in got
    assert ("tcp", s3_prefix_list_id(pulumi_mocks), 443, 443) in got
    ipv6 = next(r.inputs for r in pulumi_mocks.by_type(EGRESS) if "2606:50c0::/32" in r.inputs.values())
    assert ipv6.get("cidrIpv6") == "2606:50c0::/32" and "cidrIpv4" not in ipv6


def test_rule_descriptions_name_the_proxy(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, http_proxy="http://10.20.30.40:3128")
    descriptions = {r.name: r.inputs["description"] for r in pulumi_mocks.by_type(EGRESS)}
    assert descriptions["sg-instance-egress-proxy-0"] == "To the HTTP proxy 10.20.30.40:3128"


def test_the_proxy_reaches_the_host_through_gzipped_user_data(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, image="stock", http_proxy="http://10.20.30.40:3128", aws_endpoints_in_vpc=True)
    instance = pulumi_mocks.one(INSTANCE).inputs
    assert "userData" not in instance
    document = gzip.decompress(base64.b64decode(instance["userDataBase64"])).decode()
    parsed = yaml.safe_load(document)
    files = {entry["path"]: entry for entry in parsed["write_files"]}
    proxy_env = files["/etc/sgarch/proxy.env"]["content"]
    assert "HTTPS_PROXY=http://10.20.30.40:3128\n" in proxy_env
    assert "NO_PROXY=localhost,127.0.0.1,169.254.169.254,.us-east-1.amazonaws.com\n" in proxy_env
    assert "/opt/sgarch/bin/proxy.sh" in files
    # proxy.sh configures the host, then runs the first install.sh with the proxy's environment.
    assert parsed["runcmd"][0] == ["/opt/sgarch/bin/proxy.sh", "/opt/sgarch/bin/install.sh"]


def test_without_a_proxy_user_data_stays_plain_text(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks)
    instance = pulumi_mocks.one(INSTANCE).inputs
    assert instance["userData"].startswith("#cloud-config\n") and "userDataBase64" not in instance
    assert "proxy" not in instance["userData"].lower()


@pytest.mark.parametrize(("project", "other"), [("poc", "single-node")])
def test_backup_tags_differ_between_projects_with_the_same_stack(project: str, other: str) -> None:
    tags = {}
    for name in (project, other):
        with mocked_runtime(SgarchMocks(), project=name, stack="dev") as mocks:
            plan(mocks)
            volume = mocks.one("aws:ebs/volume:Volume").tags()["sgarch:backup"]
            policy = mocks.one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs["policyDetails"]
            assert policy["targetTags"] == {"sgarch:backup": volume}
            tags[name] = volume
    assert tags[project] != tags[other]
    assert all(value.startswith(f"{name}/") for name, value in tags.items())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"http_proxy": "http://user:hunter2@10.0.0.5:3128"},
            "http_proxy must be a URL without a user or password (got 'http://<redacted>@10.0.0.5:3128'): "
            "user-data is readable from the instance; let the proxy admit the instance by its address instead.",
        ),
        (
            {"http_proxy": "http://10.0.0.5"},
            "http_proxy must be a URL with a port, like http://proxy.example.com:3128 (got 'http://10.0.0.5'): "
            "add the proxy's port.",
        ),
        (
            {"http_proxy": "socks5://10.0.0.5:1080"},
            "http_proxy must be a URL like http://proxy.example.com:3128 (got 'socks5://10.0.0.5:1080'): "
            "give the scheme http://, the host and the port.",
        ),
        (
            {"http_proxy": "http://proxy.corp:3128"},
            "proxy_cidrs must be set when http_proxy names a host rather than an IP address (got None): "
            "list the addresses of proxy.corp as CIDRs; a security group filters by IP, not by name.",
        ),
        (
            {"http_proxy": "http://10.0.0.5:3128", "extra_env": {"NO_PROXY": "x"}},
            "extra_env.NO_PROXY must be unset when http_proxy is set (got 'x'): "
            "sgarch sets it for the host and the containers from http_proxy and no_proxy.",
        ),
        (
            {"no_proxy": (".corp",)},
            "no_proxy must be unset without http_proxy (got ['.corp']): set http_proxy, or drop it.",
        ),
        (
            {"http_proxy": "http://10.0.0.5:3128", "no_proxy": ("a,b",)},
            "no_proxy must be host names, domains (.example.com), IP addresses or CIDRs, one per entry "
            "(got 'a,b'): list each entry on its own, without commas, spaces or quotes.",
        ),
        (
            {"http_proxy": "http://10.0.0.5:3128", "proxy_cidrs": ("10.0.0.5/16",)},
            "proxy_cidrs must be a CIDR like 10.0.0.0/16 (got '10.0.0.5/16'): "
            "use the network address and prefix length.",
        ),
        (
            {"egress_allowlist": ({"cidr": "140.82.112.0/20"},)},
            "egress_allowlist must be paired with http_proxy or aws_endpoints_in_vpc, or allowing 443 to "
            "0.0.0.0/0 (got '140.82.112.0/20'): the SSM and CloudWatch agents must reach AWS: create the VPC's "
            "interface endpoints (ssm, ssmmessages, ec2messages, monitoring) and set aws_endpoints_in_vpc, or "
            "set http_proxy.",
        ),
    ],
)
def test_bad_proxy_settings_fail_before_any_resource(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(SingleNodeArgs, None, vpc_id=VPC, subnet_id=SUBNET, **kwargs)
    assert str(info.value) == message
    assert "hunter2" not in str(info.value)


def test_an_allowlist_that_opens_443_everywhere_needs_no_endpoints() -> None:
    rules = ({"cidr": "0.0.0.0/0", "from_port": 443},)
    assert build(SingleNodeArgs, None, vpc_id=VPC, subnet_id=SUBNET, egress_allowlist=rules).egress_allowlist
