"""Image specs: the YAML in ``amis/<image>/ami.yaml`` as a validated, frozen model.

A spec is pure data. Loading one resolves its provisioning scripts (paths relative to the spec folder, or
``package:<dotted.package>/<path>`` for scripts shipped inside sgarch) and computes the spec hash that
identifies a build: the same spec, the same scripts and the same Sourcegraph version give the same hash, and
``sgarch ami build`` skips a hash that is already built unless ``--force`` is given.

Every default is a security decision, written next to the field:

- images are built in ``us-east-1``, the region AWS Marketplace ingests from;
- the image is unencrypted by default, because Marketplace needs it that way and an image encrypted with the
  AWS-managed key ``aws/ebs`` cannot be shared at all; volumes are encrypted when an instance is launched;
- a customer-managed KMS key per region is the only other choice, and it excludes Marketplace publishing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sgarch.errors import ConfigError, config_error_from_pydantic

__all__ = [
    "MARKETPLACE_REGION",
    "AmiSpec",
    "EncryptionSpec",
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
    "resolve_script",
]

#: AWS Marketplace ingests AMIs from this region only.
MARKETPLACE_REGION = "us-east-1"
#: The file name ``sgarch ami build DIR`` looks for inside a spec folder.
SPEC_FILE_NAME = "ami.yaml"
#: Every image runs this last, after its own scripts, so no provisioner can re-add a key or a password.
DEFAULT_HARDENING_SCRIPT = "package:sgarch.ami/scripts/harden.sh"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
_OU_ARN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$"
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
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
    iops: int | None = Field(default=None, ge=3000, le=80_000)
    """Provisioned IOPS (gp3, io2). Default: the gp3 baseline of 3,000."""
    throughput_mibps: int | None = Field(default=None, ge=125, le=2000)
    """Throughput in MiB/s (gp3 only). Default: the gp3 baseline of 125."""
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
        for index, volume in enumerate(self.extra_volumes):
            if volume.device_name is None:
                raise ConfigError(
                    f"extra_volumes[{index}].device_name", "set", None, "name the device, e.g. /dev/sdb"
                )
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
        return self

    @property
    def regions(self) -> tuple[str, ...]:
        """The build region followed by the copy regions: every region the image ends up in."""
        return (self.build_region, *self.copy_regions)


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
class LoadedSpec:
    """A validated spec with its folder, resolved scripts and hash."""

    spec: AmiSpec
    folder: Path
    provisioners: tuple[ScriptRef, ...]
    hardening: tuple[ScriptRef, ...]

    @property
    def spec_hash(self) -> str:
        """sha256 over the effective spec and every script's content: what the image is made of."""
        digest = hashlib.sha256()
        digest.update(json.dumps(self.spec.model_dump(mode="json"), sort_keys=True).encode())
        for script in (*self.provisioners, *self.hardening):
            digest.update(b"\0" + script.ref.encode() + b"\0" + hashlib.sha256(script.content).digest())
            digest.update(json.dumps(script.args).encode())
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
            raise config_error_from_pydantic(exc, names) from None
        return LoadedSpec(spec.check(names), self.folder, self.provisioners, self.hardening)


def resolve_script(ref: str, folder: Path, field: str, args: tuple[str, ...] = ()) -> ScriptRef:
    """Resolve one script reference of a spec; ``field`` names it in errors (``provisioners[0]``).

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
                field, "a script in an installed package", ref, f"package {package} is not installed"
            )
        path = Path(next(iter(found.submodule_search_locations))) / relative
    else:
        relative_path = Path(ref)
        if relative_path.is_absolute() or ".." in relative_path.parts:
            raise ConfigError(field, "a path inside the spec folder", ref, "move the script next to ami.yaml")
        path = folder / relative_path
    if not path.is_file():
        raise ConfigError(field, "an existing script", ref, f"{path} does not exist")
    return ScriptRef(ref=ref, path=path, content=path.read_bytes(), args=args)


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
        raise config_error_from_pydantic(exc) from None
    spec.check()
    folder = path.parent
    provisioners = tuple(
        resolve_script(p.script, folder, f"provisioners[{i}]", p.args)
        for i, p in enumerate(spec.provisioners)
    )
    hardening = tuple(
        resolve_script(p.script, folder, f"hardening[{i}]", p.args) for i, p in enumerate(spec.hardening)
    )
    return LoadedSpec(spec, folder, provisioners, hardening)
