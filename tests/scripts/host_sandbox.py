"""A scratch host for running install.sh and boot.sh: every path under a temp root, system commands stubbed.

The stubs record their argv (one line per call, tab-separated) and keep a little state in files, so a test
can say "the volume has an XFS filesystem" or "the device shows up on the fourth look" and then assert on
what the script ran. Devices are plain files inside the sandbox: even a missing stub could not touch a real
disk.

Every test runs twice: once with the scripts as they are in the package ("source") and once with the copies
cloud-init writes from the rendered user-data ("embedded": comments stripped, gzip'd, base64'd).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sgarch.host import UserDataConfig, render_upgrade_paths, render_user_data, script_text

VERSION = "7.5.4453"
VOLUME_ID = "vol-0123456789abcdef0"
SERIAL = VOLUME_ID.replace("-", "")
SERVICES = ("caddy", "gitserver-0", "sourcegraph-frontend-0", "worker")
# The fake host is an AL2023 host: the docker package's /etc/sysconfig/docker, with its sources.
AL2023_DOCKER = Path(__file__).resolve().parents[1] / "data" / "al2023-docker"
FAKE_COMPOSE = b"fake compose binary\n"
FS_UUID = "0b1e4a63-5b7c-4d4e-9b7a-2f1d3c4b5a69"


def deploy_commit(version: str) -> str | None:
    """The commit install.sh pins for ``version`` (the package's deploy-commits table)."""
    for line in script_text("deploy-commits").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == version:
            return fields[1]
    return None


_RECORD = (
    'printf "%s" "$(basename "$0")" >>"$STUB_LOG"; printf "\\t%s" "$@" >>"$STUB_LOG"; echo >>"$STUB_LOG"\n'
)

STUBS: dict[str, str] = {
    # lsblk: the device list (after `appear_after` empty answers; the root disk nvme0n1 first, then the data
    # volume, then any `extra_disks` lines), a disk's partitions and mounts (the root disk has both), its
    # size (500 GiB unless `size_bytes` says otherwise), or a device's FSTYPE.
    "lsblk": """
case " $* " in
*SERIAL*)
    n=$(( $(cat "$STUB_STATE/lsblk_calls" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$STUB_STATE/lsblk_calls"
    echo "$STUB_ROOT/dev/nvme0n1 vol0aaaaaaaaaaaaaaaa"
    if [ -f "$STUB_STATE/device" ] && [ "$n" -gt "$(cat "$STUB_STATE/appear_after" 2>/dev/null || echo 0)" ]; then
        echo "$(cat "$STUB_STATE/device") $(cat "$STUB_STATE/serial")"
        cat "$STUB_STATE/extra_disks" 2>/dev/null || true
    fi ;;
*MOUNTPOINT*)
    case "${*: -1}" in
    "$STUB_ROOT/dev/nvme0n1") printf ' \nnvme0n1 /boot/efi\nnvme0n1 /\n' ;;
    *) echo " " ;;
    esac ;;
*SIZE*) cat "$STUB_STATE/size_bytes" 2>/dev/null || echo 536870912000 ;;
*FSTYPE*) cat "$STUB_STATE/lsblk_fstype" 2>/dev/null || cat "$STUB_STATE/fstype" 2>/dev/null || true ;;
esac
""",
    # blkid: -L finds the data volume by its label; -s UUID reads its filesystem's UUID; -p -o export probes it.
    "blkid": """
case " $* " in *" -s UUID "*)
    [ -f "$STUB_STATE/fstype" ] || exit 2
    cat "$STUB_STATE/uuid" 2>/dev/null || echo "$STUB_FS_UUID"; exit 0 ;;
esac
if [ "$1" = -L ]; then
    if [ -f "$STUB_STATE/device" ] && [ "$(cat "$STUB_STATE/label" 2>/dev/null)" = "$2" ]; then
        cat "$STUB_STATE/device"; exit 0
    fi
    exit 2
fi
if [ -f "$STUB_STATE/blkid_rc" ]; then exit "$(cat "$STUB_STATE/blkid_rc")"; fi
if [ -f "$STUB_STATE/fstype" ]; then
    dev="${*: -1}"
    printf 'DEVNAME=%s\\nTYPE=%s\\n' "$dev" "$(cat "$STUB_STATE/fstype")"
    if [ -f "$STUB_STATE/label" ]; then printf 'LABEL=%s\\n' "$(cat "$STUB_STATE/label")"; fi
    exit 0
fi
exit 2
""",
    "mkfs.xfs": """
echo xfs >"$STUB_STATE/fstype"
while [ $# -gt 0 ]; do if [ "$1" = -L ]; then echo "$2" >"$STUB_STATE/label"; fi; shift; done
""",
    "xfs_admin": 'echo "$2" >"$STUB_STATE/label"\n',
    # mount DEVICE DIR: remember what is mounted; findmnt reports it.
    "mount": 'echo "$1" >"$STUB_STATE/mounted"\n',
    "mountpoint": '[ -f "$STUB_STATE/mounted" ]\n',
    "findmnt": 'cat "$STUB_STATE/mounted"\n',
    "udevadm": "",
    "sleep": "",
    "systemctl": "",
    # sysctl -n KEY: the running value (`sysctl_KEY` state, else AL2023's on a small machine); -w: recorded.
    "sysctl": 'if [ "$1" = -n ]; then cat "$STUB_STATE/sysctl_$2" 2>/dev/null || echo 8192; fi\n',
    "dnf": "",
    "amazon-cloudwatch-agent-ctl": "",
    "uname": "echo x86_64\n",
    "nproc": 'cat "$STUB_STATE/nproc" 2>/dev/null || echo 8\n',
    # docker: `compose ... config --services` answers the service list (caddy gone behind an ALB); `pull`
    # fails when asked to (no registry).
    "docker": """
case " $* " in
*" pull "*) [ ! -f "$STUB_STATE/pull_fails" ] || exit 1 ;;
*" config --services "*)
    for s in $STUB_SERVICES; do
        case " $* " in *sgarch-alb.override.yaml*) [ "$s" = caddy ] && continue ;; esac
        echo "$s"
    done ;;
esac
""",
    # curl -o FILE URL: the Compose binary.
    "curl": """
out=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2 ;; *) shift ;; esac; done
printf 'fake compose binary\\n' >"$out"
""",
    # boot.sh's call to install.sh when the pinned release is missing: "fetch" it.
    "install.sh": """
v=""; while [ $# -gt 0 ]; do [ "$1" = --version ] && v="$2"; shift; done
r="$SGARCH_ROOT/opt/sourcegraph/releases/v$v"
mkdir -p "$r/docker-compose" && echo "services: {}" >"$r/docker-compose/docker-compose.yaml" && touch "$r/.sgarch-complete"
""",
    # git clone --branch vX URL DEST: a checkout with the compose file, at the commit the tag points to (the
    # deploy-commits table's, or `tag_vX` state for a moved tag); git -C DEST rev-parse HEAD: that commit.
    "git": """
if [ "$1" = -C ]; then cat "$2/.git/stub-head"; exit 0; fi
dest="${*: -1}"; branch=""
while [ $# -gt 0 ]; do [ "$1" = --branch ] && branch="$2"; shift; done
mkdir -p "$dest/docker-compose" "$dest/.git"
echo "services: {}" >"$dest/docker-compose/docker-compose.yaml"
cat "$STUB_STATE/tag_$branch" 2>/dev/null >"$dest/.git/stub-head" ||
    awk -v v="${branch#v}" '$1 == v { print $2 }' "$STUB_COMMITS" >"$dest/.git/stub-head"
""",
}


PROXY_URL = "http://10.20.30.40:3128"
"""The proxy of :func:`embedded_scripts`' config: with one, user-data ships proxy.sh too."""


def proxy_config() -> UserDataConfig:
    """A config with a proxy, the AWS endpoints in the VPC and an extra NO_PROXY domain."""
    return UserDataConfig(
        VERSION,
        {"services": {}},
        VOLUME_ID,
        http_proxy=PROXY_URL,
        no_proxy=(".corp.example.com",),
        aws_endpoints_in_vpc=True,
    )


def rendered_file(config: UserDataConfig, path: str) -> str:
    """One file's content as cloud-init writes it from the rendered user-data."""
    for entry in yaml.safe_load(render_user_data(config))["write_files"]:
        if entry["path"] == path:
            content = entry["content"]
            if entry.get("encoding") == "gz+b64":
                return gzip.decompress(base64.b64decode(content)).decode()
            return str(content)
    raise KeyError(path)


def embedded_scripts() -> dict[str, str]:
    """install.sh, boot.sh and proxy.sh exactly as cloud-init writes them from the rendered user-data."""
    config = proxy_config()
    document = yaml.safe_load(render_user_data(config))
    scripts = {}
    for entry in document["write_files"]:
        name = Path(entry["path"]).name
        if name.endswith(".sh"):
            assert entry["encoding"] == "gz+b64"
            scripts[name] = gzip.decompress(base64.b64decode(entry["content"])).decode()
    return scripts


@dataclass
class Sandbox:
    """A fake host. ``root`` is SGARCH_ROOT; ``state`` holds the stubs' state files."""

    tmp: Path
    scripts: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.tmp / "root"
        self.state = self.tmp / "state"
        self.bin = self.tmp / "bin"
        self.log = self.tmp / "calls.log"
        for directory in (
            self.root,
            self.state,
            self.bin,
            self.root / "dev",
            self.root / "etc" / "sysconfig",
        ):
            directory.mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "sysconfig" / "docker").write_text(
            (AL2023_DOCKER / "sysconfig-docker").read_text()
        )
        # The table the sgarch image carries (install.sh reads it when sgarch.env names no commit).
        commits = self.root / "etc" / "sgarch" / "deploy-commits"
        commits.parent.mkdir(parents=True)
        commits.write_text(script_text("deploy-commits"))
        # Where the stub's remote tags point (the real ones, from the same table).
        (self.state / "remote-tags").write_text(script_text("deploy-commits"))
        for name, body in STUBS.items():
            self._executable(self.bin / name, "#!/bin/bash\n" + _RECORD + body)
        for name, text in self.scripts.items():
            self._executable(self.tmp / name, text)
        self.device = str(self.root / "dev" / "nvme1n1")
        self.env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "STUB_LOG": str(self.log),
            "STUB_STATE": str(self.state),
            "STUB_ROOT": str(self.root),
            "STUB_SERVICES": " ".join(SERVICES),
            "STUB_FS_UUID": FS_UUID,
            "STUB_COMMITS": str(self.state / "remote-tags"),
            "SGARCH_ROOT": str(self.root),
            # No real /dev/sdf fallback in a test.
            "SGARCH_FALLBACK_DEVICES": str(self.root / "dev" / "sdf"),
            "SGARCH_INSTALL_SH": str(self.bin / "install.sh"),
            # The fake binary's; the pinned values are for the real one (tests that check them unset this).
            "SGARCH_COMPOSE_SHA256": hashlib.sha256(FAKE_COMPOSE).hexdigest(),
        }

    @property
    def data(self) -> Path:
        return self.root / "mnt" / "data"

    def _executable(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def set_state(self, name: str, value: str = "") -> None:
        (self.state / name).write_text(value + "\n" if value else "")

    def clear_state(self, name: str) -> None:
        (self.state / name).unlink(missing_ok=True)

    def attach_volume(self, *, appear_after: int = 0) -> None:
        """Make the data volume visible to lsblk (after ``appear_after`` empty answers)."""
        self.set_state("device", self.device)
        self.set_state("serial", SERIAL)
        self.set_state("appear_after", str(appear_after))
        Path(self.device).touch()

    def write_config(
        self,
        *,
        version: str = VERSION,
        behind_load_balancer: bool = False,
        override: str = "services:\n  gitserver-0:\n    cpus: 4\n",
        extra_env: str = "",
    ) -> None:
        """What user-data writes to /etc/sgarch."""
        config = self.root / "etc" / "sgarch"
        config.mkdir(parents=True, exist_ok=True)
        lb = "true" if behind_load_balancer else "false"
        commit = deploy_commit(version)
        (config / "sgarch.env").write_text(
            f"SGARCH_SOURCEGRAPH_VERSION={version}\nSGARCH_DATA_VOLUME_ID={VOLUME_ID}\n"
            f"SGARCH_IMAGE=sgarch\nSGARCH_BEHIND_LOAD_BALANCER={lb}\nSGARCH_REGION=us-east-1\n"
            + (f"SGARCH_DEPLOY_COMMIT={commit}\n" if commit else "")
        )
        (config / "compose-override.yaml").write_text(override)
        (config / "sourcegraph.env").write_text("# extra environment\n" + extra_env)
        (config / "upgrade-paths").write_text(render_upgrade_paths(version))

    def add_release(self, version: str = VERSION) -> Path:
        """A fetched release under /opt/sourcegraph/releases, as install.sh leaves it."""
        release = self.root / "opt" / "sourcegraph" / "releases" / f"v{version}"
        (release / "docker-compose").mkdir(parents=True, exist_ok=True)
        (release / "docker-compose" / "docker-compose.yaml").write_text(
            f"# release {version}\nservices: {{}}\n"
        )
        (release / ".sgarch-complete").touch()
        return release

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.tmp / script), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def calls(self, name: str | None = None) -> list[list[str]]:
        """Recorded calls (argv with the command name first), optionally of one command only."""
        if not self.log.exists():
            return []
        rows = [line.split("\t") for line in self.log.read_text().splitlines()]
        return [row for row in rows if name is None or row[0] == name]

    def reset_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    def reboot(self) -> None:
        """Forget the mount and the call log, as a reboot does; files on 'disk' stay."""
        self.clear_state("mounted")
        self.clear_state("lsblk_calls")
        self.reset_calls()
