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

The spec's parts (volumes, sharing, encryption, Marketplace, ``files``) and their checks are in
:mod:`sgarch.ami._spec_parts`; this module re-exports them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from sgarch.ami._spec_parts import (
    BUILD_WORKDIR,
    EncryptionSpec,
    FileSpec,
    MarketplaceSecurityGroup,
    MarketplaceSpec,
    PollSpec,
    Provisioner,
    SharingSpec,
    SourceAmiFilter,
    SpecModel,
    TimeoutsSpec,
    VolumeSpec,
    as_provisioners,
    check_files,
    check_marketplace,
    check_volume,
)
from sgarch.errors import ConfigError, config_error_from_pydantic

__all__ = [
    "BUILD_WORKDIR",
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
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# The AWS-managed EBS key, by alias or by the alias ARN; its snapshots cannot be shared with anyone.
_AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/ebs$")


class AmiSpec(SpecModel):
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

    _scripts = field_validator("provisioners", "hardening", mode="before")(as_provisioners)

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
        check_volume("root_volume", self.root_volume)
        for index, volume in enumerate(self.extra_volumes):
            if volume.device_name is None:
                raise ConfigError(
                    f"extra_volumes[{index}].device_name", "set", None, "name the device, e.g. /dev/sdb"
                )
            check_volume(f"extra_volumes[{index}]", volume)
        check_files(self.files)
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
            check_marketplace(self.marketplace)
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

    A ``package:`` reference imports its package to find it. sgarch's own (``sgarch.ami``, ``sgarch.host``)
    are pure, so loading a spec never imports Pulumi.
    """
    if ref.startswith("package:"):
        package, _, relative = ref.removeprefix("package:").partition("/")
        if not package or not relative:
            raise ConfigError(field, "package:<dotted.package>/<path>", ref, "name the package and the file")
        try:
            root = resources.files(package)
        except ModuleNotFoundError:
            raise ConfigError(
                field, f"a {kind} in an installed package", ref, f"package {package} is not installed"
            ) from None
        except TypeError:
            raise ConfigError(
                field, f"a {kind} in an installed package", ref, f"{package} is a module; name its package"
            ) from None
        except ImportError as exc:
            raise ConfigError(
                field, f"a {kind} in an installed package", ref, f"package {package} fails to import: {exc}"
            ) from None
        found = root.joinpath(relative)
        if not isinstance(found, Path):
            # A zipped package: the builder reads and hashes plain files.
            raise ConfigError(
                field, f"a {kind} in a package installed as files", ref, f"reinstall {package} unzipped"
            )
        path = found
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
