"""Image specs: the YAML in ``amis/<image>/ami.yaml`` as a validated, frozen model.

A spec is pure data. Loading one resolves its provisioning scripts and ``files`` (paths relative to the spec
folder, or ``package:<dotted.package>/<path>`` for files shipped inside sgarch) and computes the spec hash
that identifies a build: the same spec, the same scripts and files and the same Sourcegraph version give the
same hash, and ``sgarch ami build`` skips a hash that is already built unless ``--force`` is given.

``files`` are copied onto the build instance, owned by root, before the first provisioner runs; they travel
inside SSM commands like the scripts, so each must fit one command (checked when the spec loads)::

    files:
      - source: config/sourcegraph.env          # or package:<dotted.package>/<path>
        destination: /etc/sourcegraph/env       # absolute; parent directories are created 0755
        mode: "0640"                            # quoted; default "0644"

Every default is a security decision, written next to the field:

- images are built in ``us-east-1``, the region AWS Marketplace ingests from;
- the image is unencrypted by default, because Marketplace needs it that way and an image encrypted with the
  AWS-managed key ``aws/ebs`` cannot be shared at all; volumes are encrypted when an instance is launched;
- a customer-managed KMS key per region is the only other choice, and it excludes Marketplace publishing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sgarch.errors import ConfigError, config_error_from_pydantic

__all__ = [
    "INLINE_BUDGET_BYTES",
    "MARKETPLACE_REGION",
    "MAX_FILE_BYTES",
    "AmiSpec",
    "EncryptionSpec",
    "FileRef",
    "FileSpec",
    "LoadedSpec",
    "MarketplaceSecurityGroup",
    "MarketplaceSpec",
    "PollSpec",
    "Provisioner",
    "ScriptRef",
    "SharingSpec",
    "SourceAmiFilter",
    "TimeoutsSpec",
    "VolumeSpec",
    "load_spec",
    "resolve_file",
    "resolve_script",
]

#: AWS Marketplace ingests AMIs from this region only.
MARKETPLACE_REGION = "us-east-1"
#: The file name ``sgarch ami build DIR`` looks for inside a spec folder.
SPEC_FILE_NAME = "ami.yaml"
#: Every image runs this last, after its own scripts, so no provisioner can re-add a key or a password.
DEFAULT_HARDENING_SCRIPT = "package:sgarch.ami/scripts/harden.sh"

#: What one SSM command may carry inline: the base64 of one script, or of a batch of ``files``. A
#: conservative ceiling for one SendCommand request, with room for the shell around the payload.
INLINE_BUDGET_BYTES = 48 * 1024
#: The largest ``files`` entry: its base64 (4 characters per 3 bytes) must fit one command on its own.
MAX_FILE_BYTES = INLINE_BUDGET_BYTES // 4 * 3
#: The builder's scratch directory on the instance, emptied by every script; no file may be placed there.
BUILD_WORKDIR = "/var/lib/sgarch-build"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
_OU_ARN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$"
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# Destinations go into shell commands: letters, digits and / . _ - @ + only, so nothing needs quoting.
_DESTINATION = re.compile(r"^[A-Za-z0-9/._@+-]+$")
_MODE = re.compile(r"^0?[0-7]{3}$")
# The AWS-managed EBS key, by alias or by the alias ARN; its snapshots cannot be shared with anyone.
_AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/ebs$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceAmiFilter(_Model):
    """Which AMI the build starts from when ``--source-ami`` is not given: the newest match wins."""

    owners: tuple[str, ...] = ("amazon",)
    """Image owners (account ids or ``amazon``). Default: Amazon's own images only."""
    name: str = "al2023-ami-2023.*-kernel-*-x86_64"
    """Image name pattern (``*`` wildcards). Default: Amazon Linux 2023, any kernel, x86_64."""
    architecture: Literal["x86_64"] = "x86_64"
    """CPU architecture. Only x86_64: the tier instance types are m6a (AMD) and Marketplace lists one arch."""


class VolumeSpec(_Model):
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


class SharingSpec(_Model):
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


class EncryptionSpec(_Model):
    """How the image's snapshots are encrypted.

    ``none`` (the default) is what Marketplace needs; instances still get encrypted volumes at launch.
    ``kms`` encrypts with a customer-managed key per region; the key policy must grant every account the image
    is shared with.
    """

    mode: Literal["none", "kms"] = "none"
    kms_key_ids: dict[str, str] = Field(default_factory=dict)
    """Region -> customer-managed KMS key id or ARN. Required for the build region and every copy region."""


class TimeoutsSpec(_Model):
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


class PollSpec(_Model):
    """Polling cadence: start fast, back off to a ceiling, so short waits stay short and long ones stay cheap."""

    initial_delay_seconds: float = Field(default=5.0, gt=0)
    max_delay_seconds: float = Field(default=30.0, gt=0)
    backoff: float = Field(default=1.5, ge=1.0)


class MarketplaceSecurityGroup(_Model):
    """One inbound rule Marketplace recommends to buyers (shown in the listing, applied by their launch)."""

    ip_protocol: Literal["tcp", "udp"] = "tcp"
    from_port: int = Field(ge=0, le=65535)
    to_port: int = Field(ge=0, le=65535)
    ip_ranges: tuple[str, ...] = ("0.0.0.0/0",)


class MarketplaceSpec(_Model):
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


class Provisioner(_Model):
    """One script to run as root on the build instance. In YAML a bare string means ``{script: <string>}``."""

    script: str
    """``path/relative/to/the/spec/folder`` or ``package:<dotted.package>/<path>``."""
    args: tuple[str, ...] = ()
    """Command-line arguments. Default: none."""


class FileSpec(_Model):
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


def _provisioners(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple({"script": item} if isinstance(item, str) else item for item in value)
    return value


class AmiSpec(_Model):
    """One image: where it comes from, what runs on it, where it goes and who may use it."""

    name: str
    """Image family name, lower-case with dashes; the AMI name is ``<name>-<version>-<UTC timestamp>``."""
    description: str = ""
    sourcegraph_version: str
    """Sourcegraph release the image carries (``7.5.4453``); ``--version`` overrides it."""
    build_region: str = MARKETPLACE_REGION
    """Region of the build instance and the first image. Default: us-east-1, where Marketplace ingests."""
    copy_regions: tuple[str, ...] = ()
    """Regions the finished image is copied to, in parallel. Default: none."""
    instance_type: str = "m6a.large"
    """Build instance type; only the build uses it, the tier is chosen at launch."""
    subnet_id: str | None = None
    """Build subnet. Default: the default VPC subnet with the most free addresses in an AZ offering the
    instance type. A subnet of your own needs a route to SSM (NAT or VPC endpoints)."""
    source_ami: SourceAmiFilter = SourceAmiFilter()
    root_volume: VolumeSpec = VolumeSpec(volume_size_gib=50)
    """Default: 50 GiB gp3, enough for the OS and the pre-pulled container images."""
    extra_volumes: tuple[VolumeSpec, ...] = ()
    """Volumes baked into the image besides the root. Default: none; the data volume is made at launch."""
    provisioners: tuple[Provisioner, ...] = ()
    """Scripts run in order through SSM as root: ``path/relative/to/spec`` or ``package:pkg.name/path``."""
    files: tuple[FileSpec, ...] = ()
    """Files copied onto the instance before the first provisioner: ``{source, destination, mode}``, owned by
    root:root. Each is at most 36 KiB, sent inline through SSM; ship anything bigger inside a provisioner
    that downloads it. Default: none."""
    hardening: tuple[Provisioner, ...] = (Provisioner(script=DEFAULT_HARDENING_SCRIPT),)
    """Scripts run after every provisioner. Default: sgarch's hardening (no keys, no passwords, no logs)."""
    environment: dict[str, str] = Field(default_factory=dict)
    """Extra environment for every script. Always set: SOURCEGRAPH_VERSION and SGARCH_SOURCEGRAPH_VERSION (the
    version), SGARCH_IMAGE_BUILD=1 and SGARCH_IMAGE_NAME."""
    sharing: SharingSpec = SharingSpec()
    encryption: EncryptionSpec = EncryptionSpec()
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on the image and its snapshots in every region (besides sgarch's own ``sgarch:*`` tags)."""
    timeouts: TimeoutsSpec = TimeoutsSpec()
    poll: PollSpec = PollSpec()
    marketplace: MarketplaceSpec | None = None
    """Marketplace product settings. Default: none, the image is not meant for Marketplace."""

    _scripts = field_validator("provisioners", "hardening", mode="before")(_provisioners)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lower-case letters, digits and dashes, 2 to 63 characters")
        return value

    @field_validator("sourcegraph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.removeprefix("v")
        if not _VERSION.match(value):
            raise ValueError("a release version like 7.5.4453")
        return value

    @field_validator("build_region")
    @classmethod
    def _build_region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("an AWS region name like us-east-1")
        return value

    @field_validator("copy_regions")
    @classmethod
    def _copy_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"region names like eu-west-1, not {region!r}")
        if len(set(value)) != len(value):
            raise ValueError("regions without duplicates")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith(("sgarch:", "aws:")):
                raise ValueError(f"tag keys outside the reserved sgarch: and aws: prefixes, not {key!r}")
        return value

    def check(self, names: dict[str, str] | None = None) -> AmiSpec:
        """Cross-field rules pydantic cannot place on one field; ``names`` maps keys to CLI flags in errors.

        Raised as :class:`ConfigError` naming the key the user wrote, not pydantic's anonymous "value".
        """
        names = names or {}
        regions_key = names.get("copy_regions", "copy_regions")
        if self.build_region in self.copy_regions:
            raise ConfigError(
                regions_key,
                "regions other than the build region",
                list(self.copy_regions),
                f"drop {self.build_region}, the build region already holds the image",
            )
        _check_volume("root_volume", self.root_volume)
        for index, volume in enumerate(self.extra_volumes):
            if volume.device_name is None:
                raise ConfigError(
                    f"extra_volumes[{index}].device_name", "set", None, "name the device, e.g. /dev/sdb"
                )
            _check_volume(f"extra_volumes[{index}]", volume)
        _check_files(self.files)
        keys = self.encryption.kms_key_ids
        if self.encryption.mode == "kms":
            missing = [r for r in self.regions if r not in keys]
            if missing:
                raise ConfigError(
                    "encryption.kms_key_ids",
                    "a key for every region the image goes to",
                    sorted(keys),
                    f"add keys for {', '.join(missing)}",
                )
            if self.marketplace is not None:
                raise ConfigError(
                    "encryption.mode",
                    "none for a Marketplace image",
                    "kms",
                    "Marketplace ingests unencrypted images; buyers encrypt their volumes at launch",
                )
            managed = sorted(k for k in keys.values() if _AWS_MANAGED_KEY.search(k))
            if managed and not self.sharing.is_empty:
                raise ConfigError(
                    "encryption.kms_key_ids",
                    "customer-managed keys when the image is shared",
                    managed[0],
                    "snapshots encrypted with the AWS-managed key aws/ebs cannot be shared; create a KMS key "
                    "whose policy grants the target accounts",
                )
        elif keys:
            raise ConfigError(
                "encryption.mode", "kms when encryption.kms_key_ids is set", "none", "set mode: kms"
            )
        if self.marketplace is not None:
            _check_marketplace(self.marketplace)
        return self

    @property
    def regions(self) -> tuple[str, ...]:
        """The build region followed by the copy regions: every region the image ends up in."""
        return (self.build_region, *self.copy_regions)


# IOPS and throughput per volume type, from the EC2 API reference (EbsBlockDevice Iops and Throughput:
# "gp3: 3,000 - 80,000 IOPS", "io2: 100 - 256,000 IOPS", "required for io1, io2"; throughput "valid only for
# gp3 ... Minimum value of 125. Maximum value of 2,000") and the EBS user guide's volume-type pages.
_IOPS_RANGE = {"gp3": (3000, 80_000), "io2": (100, 256_000)}
_THROUGHPUT_RANGE = (125, 2000)


def _check_volume(field: str, volume: VolumeSpec) -> None:
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


def _check_marketplace(marketplace: MarketplaceSpec) -> None:
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


def _check_files(files: tuple[FileSpec, ...]) -> None:
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


@dataclass(frozen=True)
class ScriptRef:
    """A provisioning script resolved to its content; ``ref`` is how the spec wrote it."""

    ref: str
    path: Path
    content: bytes
    args: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        """The script's own file name, used on the build instance and in progress output."""
        return self.path.name


@dataclass(frozen=True)
class FileRef:
    """A ``files`` entry resolved to its content; ``ref`` is how the spec wrote the source."""

    ref: str
    path: Path
    content: bytes
    destination: str
    mode: str = "0644"


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with its folder, resolved scripts and files, and hash."""

    spec: AmiSpec
    folder: Path
    provisioners: tuple[ScriptRef, ...]
    hardening: tuple[ScriptRef, ...]
    files: tuple[FileRef, ...] = ()

    @property
    def spec_hash(self) -> str:
        """sha256 over the effective spec and every script's and file's content: what the image is made of."""
        # Without files the key is left out, so that adding the field did not change every existing hash.
        dumped = self.spec.model_dump(mode="json", exclude=None if self.spec.files else {"files"})
        digest = hashlib.sha256()
        digest.update(json.dumps(dumped, sort_keys=True).encode())
        for script in (*self.provisioners, *self.hardening):
            digest.update(b"\0" + script.ref.encode() + b"\0" + hashlib.sha256(script.content).digest())
            digest.update(json.dumps(script.args).encode())
        for file in self.files:
            # Destination and mode are in the dump above; the content is only here.
            digest.update(
                b"\0file\0" + file.destination.encode() + b"\0" + hashlib.sha256(file.content).digest()
            )
        return digest.hexdigest()

    def with_overrides(
        self, *, version: str | None = None, copy_regions: tuple[str, ...] | None = None
    ) -> LoadedSpec:
        """The same spec with CLI overrides applied and validated (``--version``, ``--regions``)."""
        data = self.spec.model_dump(mode="python")
        names = {"sourcegraph_version": "--version", "copy_regions": "--regions"}
        if version is not None:
            data["sourcegraph_version"] = version
        if copy_regions is not None:
            data["copy_regions"] = tuple(r for r in copy_regions if r != self.spec.build_region)
        try:
            spec = AmiSpec.model_validate(data)
        except ValidationError as exc:
            raise _spec_error(exc, names) from None
        return LoadedSpec(spec.check(names), self.folder, self.provisioners, self.hardening, self.files)


def resolve_script(ref: str, folder: Path, field: str, args: tuple[str, ...] = ()) -> ScriptRef:
    """Resolve one script reference of a spec; ``field`` names it in errors (``provisioners[0]``)."""
    path = _resolve_source(ref, folder, field, "script")
    return ScriptRef(ref=ref, path=path, content=path.read_bytes(), args=args)


def resolve_file(entry: FileSpec, folder: Path, field: str) -> FileRef:
    """Resolve one ``files`` entry; ``field`` names it in errors (``files[0]``).

    The size is checked here, at load time, so an oversized file fails before any AWS resource exists.
    """
    source_field = f"{field}.source"
    path = _resolve_source(entry.source, folder, source_field, "file")
    content = path.read_bytes()
    if len(content) > MAX_FILE_BYTES:
        raise ConfigError(
            source_field,
            f"a file of at most {MAX_FILE_BYTES:,} bytes, what one SSM command carries base64-encoded",
            entry.source,
            f"it has {len(content):,} bytes; ship it inside a provisioner that downloads it (and checks "
            "its sha256)",
        )
    return FileRef(
        ref=entry.source, path=path, content=content, destination=entry.destination, mode=entry.mode
    )


def _resolve_source(ref: str, folder: Path, field: str, kind: str) -> Path:
    """The path of a spec-folder or ``package:`` reference; ``kind`` (script, file) words the errors.

    ``package:`` references are found with ``importlib.util.find_spec``, which locates a package without
    running its ``__init__``: sgarch.ami must not pull in Pulumi by way of ``sgarch.single_node``.
    """
    if ref.startswith("package:"):
        package, _, relative = ref.removeprefix("package:").partition("/")
        if not package or not relative:
            raise ConfigError(field, "package:<dotted.package>/<path>", ref, "name the package and the file")
        try:
            found = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            found = None
        if found is None or not found.submodule_search_locations:
            raise ConfigError(
                field, f"a {kind} in an installed package", ref, f"package {package} is not installed"
            )
        path = Path(next(iter(found.submodule_search_locations))) / relative
    else:
        relative_path = Path(ref)
        if relative_path.is_absolute() or ".." in relative_path.parts:
            raise ConfigError(
                field, "a path inside the spec folder", ref, f"move the {kind} next to ami.yaml"
            )
        path = folder / relative_path
    if not path.is_file():
        raise ConfigError(field, f"an existing {kind}", ref, f"{path} does not exist")
    return path


def load_spec(location: str | Path) -> LoadedSpec:
    """Load and validate a spec from its folder (holding ``ami.yaml``) or from the YAML file itself."""
    path = Path(location)
    if path.is_dir():
        path = path / SPEC_FILE_NAME
    if not path.is_file():
        raise ConfigError("SPEC", "a spec folder or YAML file", str(location), f"{path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError("SPEC", "valid YAML", str(path), str(exc).replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError("SPEC", "a YAML mapping", str(path), "start the file with `name:`")
    try:
        spec = AmiSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc) from None
    spec.check()
    folder = path.parent
    provisioners = tuple(
        resolve_script(p.script, folder, f"provisioners[{i}]", p.args)
        for i, p in enumerate(spec.provisioners)
    )
    hardening = tuple(
        resolve_script(p.script, folder, f"hardening[{i}]", p.args) for i, p in enumerate(spec.hardening)
    )
    files = tuple(resolve_file(f, folder, f"files[{i}]") for i, f in enumerate(spec.files))
    return LoadedSpec(spec, folder, provisioners, hardening, files)


def _spec_error(exc: ValidationError, names: dict[str, str] | None = None) -> ConfigError:
    """pydantic's first error as a :class:`ConfigError` whose field reads like the YAML: ``files[1].mode``.

    pydantic locates list items as ``files.1.mode``; the spec's own checks say ``files[1].mode``.
    """
    loc = exc.errors()[0].get("loc", ())
    dotted = ".".join(str(part) for part in loc)
    indexed = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return config_error_from_pydantic(exc, {dotted: indexed, **(names or {})})
