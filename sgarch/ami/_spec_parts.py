"""The parts of an image spec (``amis/<image>/ami.yaml``) and the checks that name a part's field path.

:mod:`sgarch.ami.spec` composes them into :class:`~sgarch.ami.spec.AmiSpec` and re-exports every public name;
import them from there. The checks run from ``AmiSpec.check`` rather than as pydantic validators, so that an
error names the key as the YAML writes it (``extra_volumes[1].iops``, ``files[0].mode``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sgarch.errors import ConfigError

__all__ = [
    "BUILD_WORKDIR",
    "EncryptionSpec",
    "FileSpec",
    "MarketplaceSecurityGroup",
    "MarketplaceSpec",
    "PollSpec",
    "Provisioner",
    "SharingSpec",
    "SourceAmiFilter",
    "SpecModel",
    "TimeoutsSpec",
    "VolumeSpec",
    "as_provisioners",
    "check_files",
    "check_marketplace",
    "check_volume",
]

#: The builder's scratch directory on the instance, emptied by every script; no file may be placed there.
BUILD_WORKDIR = "/var/lib/sgarch-build"

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
_OU_ARN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$"
)
# Destinations go into shell commands: letters, digits and / . _ - @ + only, so nothing needs quoting.
_DESTINATION = re.compile(r"^[A-Za-z0-9/._@+-]+$")
_MODE = re.compile(r"^0?[0-7]{3}$")


class SpecModel(BaseModel):
    """Every spec model: frozen, and a misspelt key is an error rather than a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceAmiFilter(SpecModel):
    """Which AMI the build starts from when ``--source-ami`` is not given: the newest match wins."""

    owners: tuple[str, ...] = ("amazon",)
    """Image owners (account ids or ``amazon``). Default: Amazon's own images only."""
    name: str = "al2023-ami-2023.*-kernel-*-x86_64"
    """Image name pattern (``*`` wildcards). Default: Amazon Linux 2023, any kernel, x86_64."""
    architecture: Literal["x86_64"] = "x86_64"
    """CPU architecture. Only x86_64: the tier instance types are m6a (AMD) and Marketplace lists one arch."""


class VolumeSpec(SpecModel):
    """One EBS volume of the build instance, and so of the image."""

    device_name: str | None = None
    """Device name. Default (root volume only): the source AMI's root device, ``/dev/xvda`` on AL2023."""
    volume_size_gib: int = Field(ge=8, le=16_384)
    """Size in GiB."""
    volume_type: Literal["gp3", "gp2", "io2"] = "gp3"
    """EBS volume type. Default: gp3, which reaches io2-class IOPS for a fraction of the price."""
    iops: int | None = None
    """Provisioned IOPS: gp3 3,000-80,000 (default: the gp3 baseline of 3,000), io2 100-256,000 (required);
    not for gp2, whose IOPS follow its size. Checked when the spec loads."""
    throughput_mibps: int | None = None
    """Throughput in MiB/s, gp3 only: 125-2,000. Default: the gp3 baseline of 125."""
    delete_on_termination: bool = True
    """Whether the volume goes with the instance. Default: yes; data lives on a separate launch-time volume."""


class SharingSpec(SpecModel):
    """Who may launch the image, in every region it is copied to. Default: nobody but the owner."""

    account_ids: tuple[str, ...] = ()
    """12-digit AWS account ids."""
    organization_arns: tuple[str, ...] = ()
    """AWS Organizations organization ARNs (``arn:aws:organizations::<acct>:organization/o-...``)."""
    organizational_unit_arns: tuple[str, ...] = ()
    """Organizational unit ARNs (``arn:aws:organizations::<acct>:ou/o-.../ou-...``)."""

    @field_validator("account_ids")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            if not _ACCOUNT.match(account):
                raise ValueError(f"a 12-digit AWS account id, not {account!r}")
        return value

    @field_validator("organization_arns")
    @classmethod
    def _orgs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _ORG_ARN.match(arn):
                raise ValueError(
                    f"an organization ARN like arn:aws:organizations::<acct>:organization/o-…, not {arn!r}"
                )
        return value

    @field_validator("organizational_unit_arns")
    @classmethod
    def _ous(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _OU_ARN.match(arn):
                raise ValueError(f"an OU ARN like arn:aws:organizations::<acct>:ou/o-…/ou-…, not {arn!r}")
        return value

    @property
    def is_empty(self) -> bool:
        """True when the image stays private to the building account."""
        return not (self.account_ids or self.organization_arns or self.organizational_unit_arns)


class EncryptionSpec(SpecModel):
    """How the image's snapshots are encrypted.

    ``none`` (the default) is what Marketplace needs; instances still get encrypted volumes at launch.
    ``kms`` encrypts with a customer-managed key per region; the key policy must grant every account the image
    is shared with.
    """

    mode: Literal["none", "kms"] = "none"
    kms_key_ids: dict[str, str] = Field(default_factory=dict)
    """Region -> customer-managed KMS key id or ARN. Required for the build region and every copy region."""


class TimeoutsSpec(SpecModel):
    """How long each waiting step may take before the build fails and cleans up."""

    instance_running_seconds: int = Field(default=600, ge=1)
    ssm_ready_seconds: int = Field(default=900, ge=1)
    """Until the SSM agent answers; AL2023 ships the agent, so this is boot time plus registration."""
    provision_seconds: int = Field(default=3600, ge=1)
    """Per provisioning script; pre-pulling Sourcegraph's images is the long one."""
    instance_stopped_seconds: int = Field(default=900, ge=1)
    image_available_seconds: int = Field(default=3600, ge=1)
    """Unlike boto3's 10-minute waiter, an image with a large volume can take longer than that."""
    copy_available_seconds: int = Field(default=7200, ge=1)


class PollSpec(SpecModel):
    """Polling cadence: start fast, back off to a ceiling, so short waits stay short and long ones stay cheap."""

    initial_delay_seconds: float = Field(default=5.0, gt=0)
    max_delay_seconds: float = Field(default=30.0, gt=0)
    backoff: float = Field(default=1.5, ge=1.0)


class MarketplaceSecurityGroup(SpecModel):
    """One inbound rule Marketplace recommends to buyers (shown in the listing, applied by their launch)."""

    ip_protocol: Literal["tcp", "udp"] = "tcp"
    from_port: int = Field(ge=0, le=65535)
    to_port: int = Field(ge=0, le=65535)
    ip_ranges: tuple[str, ...] = ("0.0.0.0/0",)


class MarketplaceSpec(SpecModel):
    """Settings of the AWS Marketplace AMI product version ``sgarch ami publish`` adds."""

    product_id: str | None = None
    """The ``prod-…`` id; ``--product-id`` overrides it."""
    access_role_arn: str | None = None
    """IAM role Marketplace assumes to read the AMI (trusts ``assets.marketplace.amazonaws.com``)."""
    user_name: str = "ec2-user"
    operating_system_name: str = "AMAZONLINUX"
    operating_system_version: str = "2023"
    recommended_instance_type: str = "m6a.2xlarge"
    """Default: the XS tier's instance, the smallest Sourcegraph supports."""
    usage_instructions: str = ""
    scanning_port: int = Field(default=22, ge=1, le=65535)
    security_groups: tuple[MarketplaceSecurityGroup, ...] = ()
    release_notes: str = "Sourcegraph {version}."
    """``{version}`` is replaced by the Sourcegraph version of the build."""


class Provisioner(SpecModel):
    """One script to run as root on the build instance. In YAML a bare string means ``{script: <string>}``."""

    script: str
    """``path/relative/to/the/spec/folder`` or ``package:<dotted.package>/<path>``."""
    args: tuple[str, ...] = ()
    """Command-line arguments. Default: none."""


class FileSpec(SpecModel):
    """One file copied onto the build instance before any provisioner runs, owned by root:root.

    The destination and mode are checked in :meth:`AmiSpec.check`, where errors can name ``files[i]``.
    """

    source: str
    """``path/relative/to/the/spec/folder`` or ``package:<dotted.package>/<path>``, as for scripts."""
    destination: str
    """Absolute path on the instance (letters, digits and ``/ . _ - @ +``). Missing parent directories are
    created with mode 0755; an existing file is replaced atomically."""
    mode: str = "0644"
    """Octal permissions as a quoted string (``"0640"`` or ``"640"``). Default: ``"0644"``."""

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_is_a_string(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 0644 as the number 420: accepting numbers would silently set 0420.
        if isinstance(value, int):
            raise ValueError(
                'a quoted octal string like "0644" (YAML reads an unquoted 0644 as the number 420)'
            )
        return value

    @field_validator("mode")
    @classmethod
    def _four_digits(cls, value: str) -> str:
        # Normalise only; a bad mode is reported by AmiSpec.check with the entry's index.
        return value.zfill(4) if _MODE.match(value) else value


def as_provisioners(value: object) -> object:
    """A YAML list of provisioners with bare strings read as ``{script: <string>}``."""
    if isinstance(value, (list, tuple)):
        return tuple({"script": item} if isinstance(item, str) else item for item in value)
    return value


# IOPS and throughput per volume type, from the EC2 API reference (EbsBlockDevice Iops and Throughput:
# "gp3: 3,000 - 80,000 IOPS", "io2: 100 - 256,000 IOPS", "required for io1, io2"; throughput "valid only for
# gp3 ... Minimum value of 125. Maximum value of 2,000") and the EBS user guide's volume-type pages.
_IOPS_RANGE = {"gp3": (3000, 80_000), "io2": (100, 256_000)}
_THROUGHPUT_RANGE = (125, 2000)


def check_volume(field: str, volume: VolumeSpec) -> None:
    """Refuse IOPS and throughput the volume type does not take, before RunInstances would."""
    kind = volume.volume_type
    if kind == "io2" and volume.iops is None:
        raise ConfigError(f"{field}.iops", "set for an io2 volume", None, "add iops: between 100 and 256000")
    if volume.iops is not None:
        if kind not in _IOPS_RANGE:
            raise ConfigError(
                f"{field}.iops",
                f"unset for a {kind} volume",
                volume.iops,
                f"{kind} IOPS follow the volume size; remove iops or use volume_type: gp3",
            )
        low, high = _IOPS_RANGE[kind]
        if not low <= volume.iops <= high:
            raise ConfigError(
                f"{field}.iops", f"between {low:,} and {high:,} for {kind}", volume.iops, "change iops"
            )
    if volume.throughput_mibps is not None:
        if kind != "gp3":
            raise ConfigError(
                f"{field}.throughput_mibps",
                f"unset for a {kind} volume",
                volume.throughput_mibps,
                "throughput can be set on gp3 only; remove it or use volume_type: gp3",
            )
        low, high = _THROUGHPUT_RANGE
        if not low <= volume.throughput_mibps <= high:
            raise ConfigError(
                f"{field}.throughput_mibps",
                f"between {low} and {high:,} MiB/s for gp3",
                volume.throughput_mibps,
                "change throughput_mibps",
            )


def check_marketplace(marketplace: MarketplaceSpec) -> None:
    """What the AddDeliveryOptions change needs, checked at load time instead of hours into a scan."""
    if not marketplace.usage_instructions.strip():
        raise ConfigError(
            "marketplace.usage_instructions",
            "set",
            marketplace.usage_instructions,
            "tell buyers how to reach Sourcegraph after launch (shown on the listing)",
        )
    if not marketplace.security_groups:
        raise ConfigError(
            "marketplace.security_groups",
            "at least one inbound rule",
            [],
            "add the port buyers reach Sourcegraph on, e.g. {ip_protocol: tcp, from_port: 443, to_port: 443}",
        )
    for index, rule in enumerate(marketplace.security_groups):
        if rule.from_port > rule.to_port:
            raise ConfigError(
                f"marketplace.security_groups[{index}].to_port",
                f"at least from_port ({rule.from_port})",
                rule.to_port,
                "swap the two ports",
            )
        for cidr in rule.ip_ranges:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ConfigError(
                    f"marketplace.security_groups[{index}].ip_ranges",
                    "CIDR blocks like 0.0.0.0/0",
                    cidr,
                    "write the range as address/prefix",
                ) from None


def check_files(files: tuple[FileSpec, ...]) -> None:
    """Refuse destinations and modes that are unsafe in a shell command or ambiguous on the instance."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(files):
        _check_destination(f"files[{index}].destination", entry.destination)
        if not _MODE.match(entry.mode):
            raise ConfigError(
                f"files[{index}].mode",
                "an octal mode of three digits, optionally after a 0",
                entry.mode,
                'write it like "0644" or "0755"; setuid, setgid and sticky bits are not offered',
            )
        if entry.destination in seen:
            raise ConfigError(
                f"files[{index}].destination",
                "a destination no other entry writes",
                entry.destination,
                f"files[{seen[entry.destination]}] already writes it; keep one of the two",
            )
        seen[entry.destination] = index


def _check_destination(field: str, destination: str) -> None:
    """One absolute, normalised path of plain characters, outside the builder's scratch directory.

    Empty and ``.`` parts are refused along with ``..``: ``/var/lib//sgarch-build/x`` must not slip past the
    scratch-directory check, and one spelling per path keeps the duplicate check honest.
    """
    if not destination.startswith("/"):
        raise ConfigError(field, "an absolute path", destination, "start it with /")
    if not _DESTINATION.match(destination):
        raise ConfigError(
            field,
            "a path of letters, digits and / . _ - @ +",
            destination,
            "rename the file; spaces and shell characters are refused because the path goes into a command",
        )
    if destination.endswith("/"):
        raise ConfigError(field, "a file path, not a directory", destination, "add the file name")
    parts = destination.split("/")[1:]
    if any(part in ("", ".", "..") for part in parts):
        raise ConfigError(field, "a path without empty, . or .. parts", destination, "write the plain path")
    if parts[:3] == BUILD_WORKDIR.split("/")[1:]:
        raise ConfigError(
            field,
            f"a path outside {BUILD_WORKDIR}",
            destination,
            "that directory is the builder's scratch space and is emptied by every script; choose another",
        )
