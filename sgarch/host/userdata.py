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
    /opt/sgarch/bin/install.sh, boot.sh     package data from sgarch/host/scripts/

Size: EC2 accepts at most 16 KB of raw user data, and the two scripts alone are larger. They are shipped
without comment lines and indentation (the commented source is in the package) and compressed (cloud-init's
``encoding: gz+b64``), as are the unit (without comments) and the generated upgrade table; that keeps the
whole document near 14 KB while the settings (``sgarch.env``, the overrides) stay readable.
The compression is a small DEFLATE encoder of our own (:mod:`sgarch.host._gzip`): zlib's output differs
between builds, and a byte of difference in user-data would make Pulumi replace the instance when a colleague
on another OS runs ``pulumi up``.

Multi-version upgrades: boot.sh never decides an upgrade itself; it reads the planner's verdicts that
:func:`~sgarch.host.upgrade_paths.render_upgrade_paths` writes into the document.

Nothing secret belongs here: the instance metadata service hands user-data to anything on the host.
:class:`UserDataConfig` rejects environment variables that look like credentials.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from sgarch.errors import ConfigError
from sgarch.host._gzip import deterministic_gzip
from sgarch.host.proxy import check_no_proxy, container_no_proxy, host_no_proxy, parse_proxy_url
from sgarch.host.shipped import deploy_commits, script_text, strip_comments
from sgarch.host.upgrade_paths import render_upgrade_paths

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
    "render_user_data",
    "render_user_data_base64",
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
"""The planner's table (:func:`~sgarch.host.upgrade_paths.render_upgrade_paths`) boot.sh consults when the
data is at another version."""

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
        # The module's old name, kept on purpose: this line is part of every instance's user-data, and a
        # changed byte would replace every single-node instance on the next `pulumi up`.
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
    unit = strip_comments(script_text(BOOT_UNIT))
    lines += _file(f"/etc/systemd/system/{BOOT_UNIT}", unit, "0644", compress=True)
    scripts = (
        ("install.sh", "boot.sh") if config.http_proxy is None else ("install.sh", "boot.sh", "proxy.sh")
    )
    for name in scripts:
        lines += _file(f"{_BIN_DIR}/{name}", strip_comments(script_text(name)), "0755", compress=True)
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
    return base64.b64encode(deterministic_gzip(render_user_data(config).encode("utf-8"))).decode("ascii")


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


def _dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=True, default_flow_style=False, width=1000)


def _file(path: str, content: str, permissions: str, *, compress: bool = False) -> list[str]:
    lines = [f"  - path: {path}", "    owner: root:root", f'    permissions: "{permissions}"']
    if compress:
        encoded = base64.b64encode(deterministic_gzip(content.encode("utf-8"))).decode("ascii")
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
