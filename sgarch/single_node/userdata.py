"""Cloud-init user-data of the single-node instance. Pure: no Pulumi, no AWS calls, no clock.

The document writes the on-host scripts, settings and a systemd unit, then starts the unit. Everything
that needs the data volume happens in ``boot.sh`` on every boot, because the volume is attached by a
separate ``VolumeAttachment`` after the instance starts, and because a replaced instance must come up with
the old volume's data. ``install.sh`` (the same script the AMI build runs) goes first on a stock AMI.

What is written where::

    /etc/sgarch/sgarch.env                  settings for boot.sh and install.sh (version, volume id, ...)
    /etc/sgarch/compose-override.yaml       the tier's compose override (boot.sh copies it to the volume)
    /etc/sgarch/sourcegraph.env             extra environment for every Sourcegraph container
    /etc/systemd/system/sgarch-boot.service runs boot.sh on every boot
    /opt/sgarch/bin/install.sh, boot.sh     package data from sgarch/single_node/scripts/

Size: EC2 accepts at most 16 KB of raw user data, and the two scripts alone are larger. They are shipped
without comment lines (the commented source is in the package) and compressed (cloud-init's
``encoding: gz+b64``), which keeps the whole document near 12 KB while settings stay readable.
The compression is a small DEFLATE encoder of our own: zlib's output differs between builds (zlib,
zlib-ng, Apple's), and a byte of difference in user-data would make Pulumi replace the instance when a
colleague on another OS runs ``pulumi up``. Ours gives the same bytes everywhere; any gzip reader decodes it.

Nothing secret belongs here: the instance metadata service hands user-data to anything on the host.
:class:`UserDataConfig` rejects environment variables that look like credentials.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from sgarch.errors import ConfigError

__all__ = [
    "BOOT_LOG",
    "BOOT_UNIT",
    "DATA_DEVICE_NAME",
    "DATA_LABEL",
    "DATA_MOUNT_POINT",
    "IMAGES",
    "MAX_USER_DATA_BYTES",
    "UserDataConfig",
    "render_user_data",
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
"""XFS label of the data volume (XFS labels hold at most 12 characters); fstab mounts by this label."""

BOOT_UNIT = "sgarch-boot.service"
"""The systemd unit that runs boot.sh on every boot."""

BOOT_LOG = "/var/log/sgarch-boot.log"
"""boot.sh's log on the instance (also in the journal of :data:`BOOT_UNIT`)."""

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
    """Extra environment for every Sourcegraph container, e.g. ``HTTPS_PROXY``/``NO_PROXY``. Not for
    secrets: user-data is readable from the instance. Default: none."""

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
    env = "# Extra environment for every Sourcegraph container, rendered by sgarch.\n" + "".join(
        f"{name}={config.extra_env[name]}\n" for name in sorted(config.extra_env)
    )
    lines += _file(f"{_CONFIG_DIR}/sourcegraph.env", env, "0644")
    lines += _file(f"/etc/systemd/system/{BOOT_UNIT}", script_text(BOOT_UNIT), "0644")
    for name in ("install.sh", "boot.sh"):
        lines += _file(f"{_BIN_DIR}/{name}", _strip_comments(script_text(name)), "0755", compress=True)
    lines.append("runcmd:")
    if config.image == "stock":
        lines.append(f"  - [{_BIN_DIR}/install.sh]")
    lines += [
        "  - [systemctl, daemon-reload]",
        f"  - [systemctl, enable, {BOOT_UNIT}]",
        # --no-block: runcmd itself runs inside a unit; waiting here would stall cloud-init.
        f"  - [systemctl, start, --no-block, {BOOT_UNIT}]",
    ]
    return "\n".join(lines) + "\n"


def user_data_fingerprint(config: UserDataConfig) -> str:
    """A short, stable digest of the rendered user-data (for a tag or an output: what the instance runs)."""
    return hashlib.sha256(render_user_data(config).encode("utf-8")).hexdigest()[:16]


def _settings(config: UserDataConfig) -> str:
    values = {
        "SGARCH_SOURCEGRAPH_VERSION": config.sourcegraph_version,
        "SGARCH_DATA_VOLUME_ID": config.data_volume_id,
        "SGARCH_IMAGE": config.image,
        "SGARCH_BEHIND_LOAD_BALANCER": "true" if config.behind_load_balancer else "false",
        "SGARCH_REGION": config.region,
    }
    header = "# Settings for boot.sh and install.sh, rendered by sgarch: change the stack, not this file.\n"
    return header + "".join(f"{key}={value}\n" for key, value in values.items())


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


def _strip_comments(script: str) -> str:
    """Drop comment-only and blank lines (the shebang stays). Safe for our scripts: no heredoc in them
    depends on a line that starts with ``#``; tests run the stripped scripts to prove it."""
    lines = script.splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.strip() and not re.match(r"^\s*#(\s|$)", line)]
    return "\n".join(kept) + "\n"


# --- deterministic gzip (RFC 1951 fixed-Huffman DEFLATE, RFC 1952 wrapper) -------------------------------
# Greedy LZ77 over a 32 KiB window with fixed Huffman codes: about 20% larger than zlib -9, but the same
# bytes on every machine (see the module docstring).

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


def _literal(writer: _BitWriter, symbol: int) -> None:
    if symbol <= 143:
        writer.code(0x30 + symbol, 8)
    elif symbol <= 255:
        writer.code(0x190 + symbol - 144, 9)
    elif symbol <= 279:
        writer.code(symbol - 256, 7)
    else:
        writer.code(0xC0 + symbol - 280, 8)


def _bucket(value: int, bases: tuple[int, ...]) -> int:
    index = len(bases) - 1
    while bases[index] > value:
        index -= 1
    return index


def _deflate(data: bytes) -> bytes:
    writer = _BitWriter()
    writer.bits(1, 1)  # final block
    writer.bits(1, 2)  # fixed Huffman codes
    positions: dict[bytes, list[int]] = {}
    i, size = 0, len(data)

    def remember(start: int, end: int) -> None:
        for k in range(start, min(end, size - 2)):
            positions.setdefault(data[k : k + 3], []).append(k)

    while i < size:
        best_length = best_distance = 0
        for j in reversed(positions.get(data[i : i + 3], [])[-_CHAIN:]):
            if i - j > _WINDOW:
                break
            length = 3
            while length < _MAX_MATCH and i + length < size and data[j + length] == data[i + length]:
                length += 1
            if length > best_length:
                best_length, best_distance = length, i - j
                if length == _MAX_MATCH:
                    break
        if best_length >= 3:
            index = _bucket(best_length, _LENGTH_BASE)
            _literal(writer, 257 + index)
            writer.bits(best_length - _LENGTH_BASE[index], _LENGTH_EXTRA[index])
            index = _bucket(best_distance, _DIST_BASE)
            writer.code(index, 5)
            writer.bits(best_distance - _DIST_BASE[index], _DIST_EXTRA[index])
            remember(i, i + best_length)
            i += best_length
        else:
            _literal(writer, data[i])
            remember(i, i + 1)
            i += 1
    _literal(writer, 256)  # end of block
    return writer.finish()


def _gzip(data: bytes) -> bytes:
    # Header: magic, deflate, no flags, mtime 0 (reproducible), max compression, OS "unknown".
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + _deflate(data) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
