"""Cloud-init user-data of the single-node instance. Pure: no Pulumi, no AWS calls, no clock.

The document writes the on-host scripts, settings and a systemd unit, then starts the unit. Everything
that needs the data volume happens in ``boot.sh`` on every boot, because the volume is attached by a
separate ``VolumeAttachment`` after the instance starts, and because a replaced instance must come up with
the old volume's data. ``install.sh`` (the same script the AMI build runs) goes first on a stock AMI.

What is written where::

    /etc/sgarch/sgarch.env                  settings for boot.sh and install.sh (version, volume id, ...)
    /etc/sgarch/compose-override.yaml       the tier's compose override (boot.sh copies it to the volume)
    /etc/sgarch/sourcegraph.env             extra environment for every Sourcegraph container
    /etc/sgarch/upgrade-paths               the upgrade planner's verdict per data version (boot.sh reads it)
    /etc/systemd/system/sgarch-boot.service runs boot.sh on every boot
    /opt/sgarch/bin/install.sh, boot.sh     package data from sgarch/single_node/scripts/

Size: EC2 accepts at most 16 KB of raw user data, and the two scripts alone are larger. They are shipped
without comment lines and indentation (the commented source is in the package) and compressed (cloud-init's
``encoding: gz+b64``), as are the unit (without comments) and the generated upgrade table; that keeps the
whole document near 14 KB while the settings (``sgarch.env``, the overrides) stay readable.
The compression is a small DEFLATE encoder of our own: zlib's output differs between builds (zlib,
zlib-ng, Apple's), and a byte of difference in user-data would make Pulumi replace the instance when a
colleague on another OS runs ``pulumi up``. Ours gives the same bytes everywhere; any gzip reader decodes it.

Multi-version upgrades: boot.sh compares the data volume's version marker with the pinned version. It never
decides an upgrade itself: :func:`render_upgrade_paths` runs sgarch's planner (:mod:`sgarch.upgrade`) for every
release the data could be at and writes the verdicts, so the gates live in one place, in Python.

Nothing secret belongs here: the instance metadata service hands user-data to anything on the host.
:class:`UserDataConfig` rejects environment variables that look like credentials.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from sgarch.errors import ConfigError
from sgarch.single_node.args import deploy_commits
from sgarch.single_node.proxy import check_no_proxy, container_no_proxy, host_no_proxy, parse_proxy_url
from sgarch.upgrade.gates import REQUIRED_STOPS
from sgarch.upgrade.plan import Arch, UpgradeKind, plan_upgrade
from sgarch.upgrade.versions import Version, known_minors, parse_version

__all__ = [
    "BOOT_LOG",
    "BOOT_UNIT",
    "DATA_DEVICE_NAME",
    "DATA_LABEL",
    "DATA_MOUNT_POINT",
    "IMAGES",
    "MAX_USER_DATA_BYTES",
    "PROXY_ENV",
    "UPGRADE_PATHS",
    "UPGRADE_STATUS",
    "UserDataConfig",
    "render_upgrade_paths",
    "render_user_data",
    "render_user_data_base64",
    "script_text",
    "user_data_fingerprint",
]

MAX_USER_DATA_BYTES = 16 * 1024
"""EC2's limit on raw (before base64) user data."""

DATA_DEVICE_NAME = "/dev/sdf"
"""Device name for the data volume's ``VolumeAttachment``. boot.sh finds the volume by its NVMe serial
(the volume id) and falls back to this name (and ``/dev/xvdf``) on instances without NVMe."""

DATA_MOUNT_POINT = "/mnt/data"
"""Where boot.sh mounts the data volume; Docker's data-root is ``/mnt/data/docker``."""

DATA_LABEL = "sgdata"
"""XFS label of the data volume (XFS labels hold at most 12 characters). Standalone boots find the volume by
it; boot.sh mounts the device found by the volume id, and fstab names its filesystem UUID, never the label."""

BOOT_UNIT = "sgarch-boot.service"
"""The systemd unit that runs boot.sh on every boot."""

BOOT_LOG = "/var/log/sgarch-boot.log"
"""boot.sh's log on the instance (also in the journal of :data:`BOOT_UNIT`)."""

UPGRADE_STATUS = "/mnt/data/.sgarch-upgrade-status"
"""boot.sh's verdict on the last boot, one line: ``ok: …``, ``upgrading: …``, ``refused: <gate>: …`` or
``failed: …``. On the data volume, next to the version marker, so the health check reads both together."""

UPGRADE_PATHS = "/etc/sgarch/upgrade-paths"
"""The rendered :func:`render_upgrade_paths` table boot.sh consults when the data is at another version."""

PROXY_ENV = "/etc/sgarch/proxy.env"
"""With a proxy: its variables for the host's clients (an EnvironmentFile of their units; proxy.sh reads it)."""

IMAGES = ("sgarch", "stock")
"""Accepted values of :attr:`UserDataConfig.image`."""

_BIN_DIR = "/opt/sgarch/bin"
_CONFIG_DIR = "/etc/sgarch"
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_VOLUME_ID_RE = re.compile(r"^vol-[0-9a-f]{8,17}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Unquoted in an env file read by both Docker Compose and bash: no whitespace, quotes, `$`, `\` or `#`.
_ENV_VALUE_RE = re.compile(r"^[^\s'\"$\\`#]*$")
_SECRET_NAME_RE = re.compile(r"PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY($|_)|LICENSE", re.IGNORECASE)
_URL_USERINFO_RE = re.compile(r"://[^/@]+@")


@dataclass(frozen=True)
class UserDataConfig:
    """Everything the instance needs to know at boot. Holds resolved values (call it inside ``.apply``).

    Validated at construction; errors are :class:`~sgarch.errors.ConfigError` naming the field.
    """

    sourcegraph_version: str
    """A deploy-sourcegraph-docker release tag without the ``v``, e.g. ``"7.5.4453"``."""
    compose_override: dict[str, Any]
    """The tier's compose override (``sgarch.sizing.compose.render_compose_override``)."""
    data_volume_id: str
    """The data volume's id (``vol-…``); boot.sh finds the disk by it."""
    image: str = "sgarch"
    """``sgarch``: the sgarch AMI, install done at bake time. ``stock``: Amazon Linux 2023; install.sh runs
    at first boot (a few minutes longer, and it needs internet access)."""
    behind_load_balancer: bool = False
    """True: TLS ends at the ALB; caddy is removed and the frontend serves HTTP on port 80.
    Default: caddy serves ports 80 and 443 itself."""
    region: str = "us-east-1"
    """The AWS region, recorded for on-host tools."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Extra environment for every Sourcegraph container. Not for secrets: user-data is readable from the
    instance. Default: none."""
    http_proxy: str | None = None
    """``http://host:port``: every client on the host and the containers use it (:mod:`.proxy`). Default: none,
    and the document is byte for byte what it was before sgarch knew about proxies."""
    no_proxy: tuple[str, ...] = ()
    """Extra NO_PROXY entries with ``http_proxy``. Default: none."""
    aws_endpoints_in_vpc: bool = False
    """With ``http_proxy``: the region's AWS names bypass it (the VPC has their endpoints). Default: false."""

    def __post_init__(self) -> None:
        version = str(self.sourcegraph_version)
        if not _VERSION_RE.match(version):
            fix = (
                "drop the leading v" if _VERSION_RE.match(version.removeprefix("v")) else "use a release tag"
            )
            raise ConfigError("sourcegraph_version", "a release like 7.5.4453", version, fix)
        if not isinstance(self.compose_override, Mapping):
            raise ConfigError(
                "compose_override",
                "a mapping",
                type(self.compose_override).__name__,
                "pass the rendered dict",
            )
        services = self.compose_override.get("services", {})
        if not isinstance(services, Mapping):
            raise ConfigError(
                "compose_override.services",
                "a mapping",
                type(services).__name__,
                "map service names to settings",
            )
        try:
            _dump_yaml(self.compose_override)
        except yaml.YAMLError as exc:
            raise ConfigError(
                "compose_override",
                "plain YAML data",
                type(exc).__name__,
                "use dicts, lists, strings and numbers",
            ) from exc
        if not _VOLUME_ID_RE.match(str(self.data_volume_id)):
            raise ConfigError(
                "data_volume_id", "an EBS volume id (vol-…)", self.data_volume_id, "pass Volume.id"
            )
        if self.image not in IMAGES:
            raise ConfigError("image", "one of sgarch, stock", self.image, "use stock without the sgarch AMI")
        if not isinstance(self.behind_load_balancer, bool):
            raise ConfigError(
                "behind_load_balancer", "true or false", self.behind_load_balancer, "pass a bool"
            )
        if not _REGION_RE.match(str(self.region)):
            raise ConfigError("region", "an AWS region like us-east-1", self.region, "check the region name")
        for name, value in self.extra_env.items():
            _check_env(name, value)
        if self.http_proxy is not None:
            parse_proxy_url("http_proxy", self.http_proxy)
            check_no_proxy("no_proxy", tuple(self.no_proxy))
            for name in self.extra_env:
                if name in _proxy_env(self):
                    raise ConfigError(
                        f"extra_env.{name}", "unset when http_proxy is set", self.extra_env[name], "drop it"
                    )


def _check_env(name: str, value: str) -> None:
    where = f"extra_env.{name}"
    if not _ENV_NAME_RE.match(str(name)):
        raise ConfigError("extra_env", "environment variable names", name, "use letters, digits and _")
    if _SECRET_NAME_RE.search(name):
        raise ConfigError(
            where,
            "free of secrets",
            "<redacted>",
            "user-data is readable from the instance; configure secrets in Sourcegraph or Secrets Manager",
        )
    if not isinstance(value, str) or not _ENV_VALUE_RE.match(value):
        raise ConfigError(where, "one word without quotes, $, \\, # or spaces", value, "simplify the value")
    if _URL_USERINFO_RE.search(value):
        raise ConfigError(
            where, "a URL without a user or password", "<redacted>", "user-data is readable from the instance"
        )


def script_text(name: str) -> str:
    """The source of an on-host file shipped in ``sgarch/single_node/scripts`` (``boot.sh``, ...)."""
    return (
        resources.files("sgarch.single_node").joinpath("scripts").joinpath(name).read_text(encoding="utf-8")
    )


def render_user_data(config: UserDataConfig) -> str:
    """Render the cloud-init document (``#cloud-config``) for one instance. Deterministic.

    The text goes into ``aws.ec2.Instance(user_data=...)`` as is; it stays below
    :data:`MAX_USER_DATA_BYTES` for every tier. Pair it with ``user_data_replace_on_change=True``:
    cloud-init writes these files once per instance, so new settings need a new instance (the data volume
    stays).
    """
    lb = "behind a load balancer" if config.behind_load_balancer else "caddy on ports 80/443"
    lines = [
        "#cloud-config",
        f"# sgarch single-node: Sourcegraph {config.sourcegraph_version}, image {config.image}, {lb}.",
        "# Rendered by sgarch.single_node.userdata; holds no secrets (the instance metadata serves it).",
        f"# {BOOT_UNIT} runs boot.sh on every boot; log: {BOOT_LOG}.",
        "write_files:",
    ]
    lines += _file(f"{_CONFIG_DIR}/sgarch.env", _settings(config), "0644")
    override = "# The tier's compose override, rendered by sgarch.\n" + _dump_yaml(config.compose_override)
    lines += _file(f"{_CONFIG_DIR}/compose-override.yaml", override, "0644")
    container_env = {**config.extra_env, **_proxy_env(config, containers=True)}
    env = "# Extra environment for every Sourcegraph container, rendered by sgarch.\n" + "".join(
        f"{name}={container_env[name]}\n" for name in sorted(container_env)
    )
    lines += _file(f"{_CONFIG_DIR}/sourcegraph.env", env, "0644")
    if config.http_proxy is not None:
        host_env = (
            "# The HTTP proxy of the host's clients, rendered by sgarch (proxy.sh applies it).\n"
            + "".join(f"{name}={value}\n" for name, value in _proxy_env(config).items())
        )
        lines += _file(PROXY_ENV, host_env, "0644")
    # Generated, not settings: compressed like the scripts (the instance holds the plain files).
    lines += _file(UPGRADE_PATHS, render_upgrade_paths(config.sourcegraph_version), "0644", compress=True)
    unit = _strip_comments(script_text(BOOT_UNIT))
    lines += _file(f"/etc/systemd/system/{BOOT_UNIT}", unit, "0644", compress=True)
    scripts = (
        ("install.sh", "boot.sh") if config.http_proxy is None else ("install.sh", "boot.sh", "proxy.sh")
    )
    for name in scripts:
        lines += _file(f"{_BIN_DIR}/{name}", _strip_comments(script_text(name)), "0755", compress=True)
    lines.append("runcmd:")
    # proxy.sh first: dnf, curl and git in install.sh need the proxy, and it runs install.sh with it.
    first = [f"{_BIN_DIR}/proxy.sh"] if config.http_proxy is not None else []
    if config.image == "stock":
        first.append(f"{_BIN_DIR}/install.sh")
    if first:
        lines.append(f"  - [{', '.join(first)}]")
    lines += [
        "  - [systemctl, daemon-reload]",
        f"  - [systemctl, enable, {BOOT_UNIT}]",
        # --no-block: runcmd itself runs inside a unit; waiting here would stall cloud-init.
        f"  - [systemctl, start, --no-block, {BOOT_UNIT}]",
    ]
    return "\n".join(lines) + "\n"


def render_user_data_base64(config: UserDataConfig) -> str:
    """The document of :func:`render_user_data` gzipped whole, in base64: ``Instance(user_data_base64=...)``.

    For a config with ``http_proxy``: its files (proxy.sh, the proxy's settings, the containers' NO_PROXY
    with every service name) do not fit EC2's 16 KB next to the scripts as plain text. cloud-init unpacks
    gzip user-data itself, and documents it as the way past that limit; EC2 counts the gzip bytes. Without a
    proxy the document stays plain, byte for byte what it was (a change would replace every instance).
    """
    return base64.b64encode(_gzip(render_user_data(config).encode("utf-8"))).decode("ascii")


def user_data_fingerprint(config: UserDataConfig) -> str:
    """A short, stable digest of the rendered user-data (for a tag or an output: what the instance runs)."""
    return hashlib.sha256(render_user_data(config).encode("utf-8")).hexdigest()[:16]


def _proxy_env(config: UserDataConfig, *, containers: bool = False) -> dict[str, str]:
    """The proxy variables for the host's clients or the containers; empty without ``http_proxy``.

    Upper case, which every client here reads, plus ``http_proxy``: curl (and git through it) ignores
    ``HTTP_PROXY`` in upper case, so that a CGI request's ``Proxy:`` header cannot set it.
    """
    if config.http_proxy is None:
        return {}
    no_proxy = host_no_proxy(config.region, config.aws_endpoints_in_vpc, tuple(config.no_proxy))
    if containers:
        no_proxy = container_no_proxy(no_proxy)
    url = config.http_proxy
    return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "NO_PROXY": no_proxy, "http_proxy": url}


def _settings(config: UserDataConfig) -> str:
    values = {
        "SGARCH_SOURCEGRAPH_VERSION": config.sourcegraph_version,
        "SGARCH_DATA_VOLUME_ID": config.data_volume_id,
        "SGARCH_IMAGE": config.image,
        "SGARCH_BEHIND_LOAD_BALANCER": "true" if config.behind_load_balancer else "false",
        "SGARCH_REGION": config.region,
    }
    # install.sh checks out the release only at this commit. A release the table lacks gets none, and
    # install.sh then refuses to fetch it (the sgarch image's baked release needs no fetch).
    commit = deploy_commits().get(config.sourcegraph_version)
    if commit is not None:
        values["SGARCH_DEPLOY_COMMIT"] = commit
    header = "# Settings for boot.sh and install.sh, rendered by sgarch: change the stack, not this file.\n"
    return header + "".join(f"{key}={value}\n" for key, value in values.items())


def render_upgrade_paths(sourcegraph_version: str) -> str:
    """The planner's verdict, for every release the data volume could be at, on going to ``sourcegraph_version``.

    boot.sh reads it when the version marker differs from the pinned version. Rows are runs of minor
    releases within one major (``first last action gate``); a release in no row is unknown to sgarch and
    refused. Actions:

    - ``patch``: the pinned minor itself; ``standard``: one minor up; ``rollback``: one minor down. boot.sh
      starts the pinned release, whose ``migrator up`` runs first.
    - ``multi-version``: boot.sh stops Sourcegraph and runs the pinned release's ``migrator upgrade``.
    - ``refuse``: ``gate`` forbids the jump (a required stop, a downgrade that needs a restore, a release too
      old for multi-version upgrades); its ``gate <id> <reason>`` line says why and what to do.
    - ``unchecked`` (in a ``* *`` row): sgarch does not know the pinned release, so it cannot plan; boot.sh
      takes the standard path, where ``migrator up`` refuses jumps of more than one minor itself.

    For allowed rows, ``gate`` names the checks only the host can make (``pg16-required``: boot.sh reads the
    built-in databases' ``PG_VERSION``), or ``-``. Deterministic; under 1 KB.
    """
    header = f"# sgarch upgrade planner's verdicts for data at other releases than {sourcegraph_version}.\n"
    try:
        target = parse_version(sourcegraph_version)
    except ConfigError:
        return header + "* * unchecked -\n"
    rows: list[list[str]] = []
    reasons: dict[str, str] = {}
    for major, minor in known_minors():
        action, gate = _boot_verdict(Version(major, minor, 0), target, reasons)
        last = rows[-1] if rows else None
        # known_minors lists every minor of a major in order, so a row is always a contiguous run.
        if last is not None and last[0].split(".")[0] == str(major) and last[2:] == [action, gate]:
            last[1] = f"{major}.{minor}"
        else:
            rows.append([f"{major}.{minor}", f"{major}.{minor}", action, gate])
    body = "".join(" ".join(row) + "\n" for row in rows)
    return header + body + "".join(f"gate {gid} {reasons[gid]}\n" for gid in sorted(reasons))


def _boot_verdict(start: Version, target: Version, reasons: dict[str, str]) -> tuple[str, str]:
    """What boot.sh does for data at ``start`` (any patch: gates and distances depend on the minor only)."""
    if start.series == target.series:
        return "patch", "-"
    plan = plan_upgrade(start, target, Arch.SINGLE_NODE)
    if plan.kind is UpgradeKind.ROLLBACK:
        return "rollback", "-"
    for finding in plan.gates:
        if finding.effect == "restore":
            reasons[finding.id] = (
                f"{finding.title}: restore the data volume from a snapshot taken at {target} "
                "(config data_volume_snapshot_id)"
            )
            return "refuse", finding.id
        if finding.effect == "blocks":
            reasons[finding.id] = f"{finding.title}: upgrade one minor version at a time first"
            return "refuse", finding.id
    if len(plan.path) > 2:
        # boot.sh makes one hop; the admin pins the first required stop, lets it finish, then the target.
        gate = next(g for g in REQUIRED_STOPS if g.stop == plan.path[1])
        reasons[gate.id] = f"{gate.title}: pin {gate.stop} first, then {target}"
        return "refuse", gate.id
    checks = ",".join(g.id for g in plan.gates if g.effect == "check")
    return plan.kind.value, checks or "-"


def _dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=True, default_flow_style=False, width=1000)


def _file(path: str, content: str, permissions: str, *, compress: bool = False) -> list[str]:
    lines = [f"  - path: {path}", "    owner: root:root", f'    permissions: "{permissions}"']
    if compress:
        encoded = base64.b64encode(_gzip(content.encode("utf-8"))).decode("ascii")
        # One line: wrapping would spend about 10% of the blob's size on indentation.
        lines.append("    encoding: gz+b64")
        lines.append(f"    content: {encoded}")
        return lines
    if not content.endswith("\n") or content.endswith("\n\n") or content.startswith((" ", "\n")):
        raise ValueError(f"{path}: content must end with a newline and start with text")
    body = content.splitlines()
    lines.append("    content: |")
    lines += [f"      {line}" if line else "" for line in body]
    return lines


# `<<WORD`, `<<-WORD`, `<<'WORD'` or `<<"WORD"`, but not the here-string `<<<`.
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _strip_comments(script: str) -> str:
    """Drop comment-only and blank lines and leading indentation (the shebang stays); here-document bodies
    and lines continued from a line ending in ``\\`` stay as they are. bash reads the result exactly like
    the source: a test compares what bash parsed from both (``declare -f``)."""
    lines = script.splitlines()
    kept = [lines[0]]
    delimiter: str | None = None
    tabs_stripped = False
    continued = False
    for line in lines[1:]:
        if delimiter is not None:
            kept.append(line)
            if (line.lstrip("\t") if tabs_stripped else line) == delimiter:
                delimiter = None
            continue
        if not continued and (not line.strip() or re.match(r"^\s*#(\s|$)", line)):
            continue
        kept.append(line if continued else line.lstrip(" \t"))
        continued = line.endswith("\\")
        opener = _HEREDOC_RE.search(line)
        if opener is not None:
            tabs_stripped, delimiter = opener.group(1) == "-", opener.group(3)
    return "\n".join(kept) + "\n"


# --- deterministic gzip (RFC 1951 DEFLATE, RFC 1952 wrapper) --------------------------------------------
# Lazy LZ77 over a 32 KiB window, then one block with fixed Huffman codes or the data's own, whichever is
# smaller: a few percent larger than zlib -9, but the same bytes on every machine (see the module docstring).

# RFC 1951 §3.2.5: base value and extra bits of each length code (257-285) and distance code (0-29).
_LENGTH_BASE: tuple[int, ...] = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    13,
    15,
    17,
    19,
    23,
    27,
    31,
    35,
    43,
    51,
    59,
    67,
    83,
)
_LENGTH_BASE += (99, 115, 131, 163, 195, 227, 258)
_LENGTH_EXTRA: tuple[int, ...] = (
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
    4,
    4,
    4,
    4,
    5,
    5,
)
_LENGTH_EXTRA += (5, 5, 0)
_DIST_BASE: tuple[int, ...] = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769)
_DIST_BASE += (1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)
_DIST_EXTRA: tuple[int, ...] = (
    0,
    0,
    0,
    0,
    1,
    1,
    2,
    2,
    3,
    3,
    4,
    4,
    5,
    5,
    6,
    6,
    7,
    7,
    8,
    8,
    9,
    9,
    10,
    10,
    11,
    11,
)
_DIST_EXTRA += (12, 12, 13, 13)
_WINDOW = 32768
_MAX_MATCH = 258
_CHAIN = 64


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._bits = 0

    def bits(self, value: int, count: int) -> None:
        """Write ``count`` bits of ``value``, least significant first (DEFLATE's order for data)."""
        self._acc |= value << self._bits
        self._bits += count
        while self._bits >= 8:
            self.out.append(self._acc & 0xFF)
            self._acc >>= 8
            self._bits -= 8

    def code(self, code: int, length: int) -> None:
        """Write a Huffman code, most significant bit first."""
        self.bits(int(f"{code:0{length}b}"[::-1], 2), length)

    def finish(self) -> bytes:
        if self._bits:
            self.out.append(self._acc & 0xFF)
        return bytes(self.out)


def _bucket(value: int, bases: tuple[int, ...]) -> int:
    index = len(bases) - 1
    while bases[index] > value:
        index -= 1
    return index


def _lz77(data: bytes) -> list[tuple[int, int]]:
    """Lazy matches, as zlib makes them: ``(byte, 0)`` for a literal, ``(length, distance)`` for a match.

    A match is taken only when the match one byte later is not longer; otherwise that byte goes out as a
    literal and the longer match wins (about 3% smaller than greedy matching on our scripts).
    """
    tokens: list[tuple[int, int]] = []
    positions: dict[bytes, list[int]] = {}
    i, size = 0, len(data)

    def remember(start: int, end: int) -> None:
        for k in range(start, min(end, size - 2)):
            positions.setdefault(data[k : k + 3], []).append(k)

    def longest(at: int) -> tuple[int, int]:
        best_length = best_distance = 0
        for j in reversed(positions.get(data[at : at + 3], [])[-_CHAIN:]):
            if at - j > _WINDOW:
                break
            length = 3
            while length < _MAX_MATCH and at + length < size and data[j + length] == data[at + length]:
                length += 1
            if length > best_length:
                best_length, best_distance = length, at - j
                if length == _MAX_MATCH:
                    break
        return best_length, best_distance

    while i < size:
        best_length, best_distance = longest(i)
        remember(i, i + 1)
        if 3 <= best_length < _MAX_MATCH and longest(i + 1)[0] > best_length:
            best_length = 0
        if best_length >= 3:
            tokens.append((best_length, best_distance))
            remember(i + 1, i + best_length)
            i += best_length
        else:
            tokens.append((data[i], 0))
            i += 1
    return tokens


def _symbols(tokens: list[tuple[int, int]]) -> list[tuple[int, int, int, int, int]]:
    """Each token as (literal/length symbol, its extra bits and count, distance symbol or -1, its extras)."""
    out: list[tuple[int, int, int, int, int]] = []
    for value, distance in tokens:
        if distance == 0:
            out.append((value, 0, 0, -1, 0))
            continue
        li = _bucket(value, _LENGTH_BASE)
        di = _bucket(distance, _DIST_BASE)
        out.append((257 + li, value - _LENGTH_BASE[li], _LENGTH_EXTRA[li], di, distance - _DIST_BASE[di]))
    return out


def _fixed_lengths() -> list[int]:
    return [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8


def _code_lengths(freqs: list[int], limit: int) -> list[int]:
    """Huffman code lengths of at most ``limit`` bits; ties broken by symbol, so the result is deterministic.

    Too deep a tree is rebuilt from halved frequencies (all equal in the end: a balanced tree always fits).
    At least two symbols get a code, so every code is complete, as every inflater accepts.
    """
    weights = list(freqs)
    for symbol in (0, 1):
        if sum(1 for w in weights if w) < 2 and not weights[symbol]:
            weights[symbol] = 1
    while True:
        depth = [0] * len(weights)
        heap: list[tuple[int, int, tuple[int, ...]]] = [
            (w, symbol, (symbol,)) for symbol, w in enumerate(weights) if w
        ]
        heapq.heapify(heap)
        order = len(weights)
        while len(heap) > 1:
            w1, _, group1 = heapq.heappop(heap)
            w2, _, group2 = heapq.heappop(heap)
            for symbol in group1 + group2:
                depth[symbol] += 1
            heapq.heappush(heap, (w1 + w2, order, group1 + group2))
            order += 1
        if max(depth) <= limit:
            return depth
        weights = [max(1, w >> 1) if w else 0 for w in weights]


def _canonical(lengths: list[int]) -> list[int]:
    """RFC 1951 §3.2.2: the codes of a canonical Huffman code with these lengths."""
    count = [0] * 16
    for length in lengths:
        count[length] += 1
    count[0] = 0
    code, next_code = 0, [0] * 16
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    codes = [0] * len(lengths)
    for symbol, length in enumerate(lengths):
        if length:
            codes[symbol] = next_code[length]
            next_code[length] += 1
    return codes


def _run_lengths(lengths: list[int]) -> list[tuple[int, int, int]]:
    """RFC 1951 §3.2.7: code lengths as (symbol, extra bits, extra count), with repeats 16, 17 and 18."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(lengths):
        value, run = lengths[i], 1
        while i + run < len(lengths) and lengths[i + run] == value:
            run += 1
        left = run
        if value == 0:
            while left >= 11:
                step = min(left, 138)
                out.append((18, step - 11, 7))
                left -= step
            if left >= 3:
                out.append((17, left - 3, 3))
                left = 0
        else:
            out.append((value, 0, 0))
            left -= 1
            while left >= 3:
                step = min(left, 6)
                out.append((16, step - 3, 2))
                left -= step
        out += [(value, 0, 0)] * left
        i += run
    return out


_CLEN_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)


def _block(symbols: list[tuple[int, int, int, int, int]], *, dynamic: bool) -> bytes:
    """One final DEFLATE block with fixed (BTYPE 01) or this data's own (BTYPE 10) Huffman codes."""
    writer = _BitWriter()
    writer.bits(1, 1)  # final block
    if dynamic:
        lit_freq, dist_freq = [0] * 286, [0] * 30
        for lit, _, _, dist, _ in symbols:
            lit_freq[lit] += 1
            if dist >= 0:
                dist_freq[dist] += 1
        lit_freq[256] += 1
        lit_len = _code_lengths(lit_freq, 15)
        dist_len = _code_lengths(dist_freq, 15)
        hlit = max(257, max(i for i, n in enumerate(lit_len) if n) + 1)
        hdist = max(1, max(i for i, n in enumerate(dist_len) if n) + 1)
        runs = _run_lengths(lit_len[:hlit] + dist_len[:hdist])
        clen_freq = [0] * 19
        for symbol, _, _ in runs:
            clen_freq[symbol] += 1
        clen_len = _code_lengths(clen_freq, 7)
        hclen = max(4, max(i for i, sym in enumerate(_CLEN_ORDER) if clen_len[sym]) + 1)
        writer.bits(2, 2)
        writer.bits(hlit - 257, 5)
        writer.bits(hdist - 1, 5)
        writer.bits(hclen - 4, 4)
        for sym in _CLEN_ORDER[:hclen]:
            writer.bits(clen_len[sym], 3)
        clen_code = _canonical(clen_len)
        for symbol, extra, count in runs:
            writer.code(clen_code[symbol], clen_len[symbol])
            writer.bits(extra, count)
    else:
        writer.bits(1, 2)
        lit_len, dist_len = _fixed_lengths(), [5] * 30
    lit_code, dist_code = _canonical(lit_len), _canonical(dist_len)
    for lit, extra, count, dist, dist_extra in symbols:
        writer.code(lit_code[lit], lit_len[lit])
        writer.bits(extra, count)
        if dist >= 0:
            writer.code(dist_code[dist], dist_len[dist])
            writer.bits(dist_extra, _DIST_EXTRA[dist])
    writer.code(lit_code[256], lit_len[256])  # end of block
    return writer.finish()


def _deflate(data: bytes) -> bytes:
    # The smaller of the two encodings (fixed on a tie): short inputs keep the fixed codes' bytes.
    symbols = _symbols(_lz77(data))
    fixed, dynamic = _block(symbols, dynamic=False), _block(symbols, dynamic=True)
    return dynamic if len(dynamic) < len(fixed) else fixed


def _gzip(data: bytes) -> bytes:
    # Header: magic, deflate, no flags, mtime 0 (reproducible), max compression, OS "unknown".
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + _deflate(data) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
