"""A real dockerd, started the way Amazon Linux 2023's docker.service starts it, with the files boot.sh writes.

The fake host cannot tell whether Docker starts: the old boot.sh put `default-ulimits` into daemon.json while
AL2023's unit passes `--default-ulimit` as a flag, and dockerd refuses to start with a directive given both
ways. So boot.sh runs in the fake host first, then a real dockerd gets the unit's flags (the distribution's
files in tests/data/al2023-docker, plus boot.sh's drop-in, expanded as systemd does: docker_unit.py) and the
rendered daemon.json. Test-only changes, nothing else: its own socket, pid file, exec-root and data-root
(daemon.json's data-root path is rewritten), no iptables or bridge, and instead of the unit's `-H fd://`
(systemd socket activation) and `--containerd=` (the host's containerd), dockerd's own.

The tests skip only where dockerd cannot run at all: not installed (Debian: apt-get install docker.io, which
.ci/run does) or not root.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_unit import unit_environment, unit_flags
from host_sandbox import Sandbox, proxy_config, rendered_file

from sgarch.host import PROXY_ENV, script_text

_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin:/usr/local/bin"
DOCKERD = shutil.which("dockerd", path=_PATH)
DOCKER = shutil.which("docker", path=_PATH)


def _cannot_run() -> str | None:
    if DOCKERD is None or DOCKER is None:
        return (
            "dockerd cannot run here: dockerd/docker not installed (apt-get install docker.io; .ci/run does)"
        )
    if os.geteuid() != 0:
        return "dockerd cannot run here: it needs root"
    return None


pytestmark = pytest.mark.skipif(_cannot_run() is not None, reason=_cannot_run() or "")

# What boot.sh wrote before this fix: the ulimit as a daemon.json key.
OLD_DAEMON_JSON = {
    "data-root": "/mnt/data/docker",
    "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 262144, "Hard": 262144}},
    "log-driver": "json-file",
    "log-opts": {"max-size": "50m", "max-file": "5"},
}
BOTH_WAYS = "the following directives are specified both as a flag and in the configuration file"


@dataclass
class Rendered:
    """What boot.sh left on the fake host for Docker."""

    daemon: dict[str, object]
    sysconfig: Path
    dropins: Path
    env_file: Path


@pytest.fixture
def rendered(tmp_path: Path) -> Rendered:
    box = Sandbox(tmp_path, {name: script_text(name) for name in ("install.sh", "boot.sh")})
    box.write_config()
    box.add_release()
    box.attach_volume()
    result = box.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    etc = box.root / "etc"
    return Rendered(
        daemon=json.loads((etc / "docker" / "daemon.json").read_text()),
        sysconfig=etc / "sysconfig" / "docker",
        dropins=etc / "systemd" / "system" / "docker.service.d",
        env_file=etc / "sgarch" / "docker.env",
    )


def runnable(flags: list[str]) -> list[str]:
    """The unit's flags minus the two that only work under systemd on AL2023 (see the module docstring)."""
    out: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag == "-H":
            skip = True
        elif not flag.startswith(("-H=", "--containerd=")):
            out.append(flag)
    return out


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    work: Path
    data_root: Path

    @property
    def host(self) -> str:
        return f"unix://{self.work}/d.sock"

    def log(self) -> str:
        return (self.work / "log").read_text(errors="replace")

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert DOCKER is not None
        return subprocess.run(
            [DOCKER, "-H", self.host, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def wait_until_up(self, seconds: float = 90) -> str | None:
        """DockerRootDir once the API answers; None when dockerd exited first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return None
            info = self.docker("info", "--format", "{{.DockerRootDir}}", timeout=30)
            if info.returncode == 0:
                return info.stdout.strip()
            time.sleep(0.5)
        raise AssertionError(f"dockerd did not come up in {seconds}s:\n{self.log()}")


@contextmanager
def dockerd(
    flags: list[str], daemon_json: dict[str, object], environment: dict[str, str] | None = None
) -> Iterator[Daemon]:
    """dockerd with ``flags``, ``daemon_json`` (its data-root moved into a scratch directory) and, as the
    unit's environment, ``environment``."""
    assert DOCKERD is not None
    # Short: the socket path must stay under the 108-byte limit of a unix socket.
    work = Path(tempfile.mkdtemp(prefix="sgd", dir="/tmp"))
    data_root = work / "root"
    config = {**daemon_json, "data-root": str(data_root)}
    (work / "daemon.json").write_text(json.dumps(config))
    argv = [
        DOCKERD,
        *flags,
        "--iptables=false",
        "--bridge=none",
        "--host",
        f"unix://{work}/d.sock",
        "--pidfile",
        str(work / "d.pid"),
        "--exec-root",
        str(work / "x"),
        "--config-file",
        str(work / "daemon.json"),
    ]
    # Before Docker 23, dockerd writes a trust key into /etc/docker (only daemon.json could move it, and the
    # rendered one stays as it is): remove what this test created.
    created = [path for path in (Path("/etc/docker/key.json"), Path("/etc/docker")) if not path.exists()]
    with (work / "log").open("wb") as log:
        env = {"PATH": _PATH, **(environment or {})}
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield Daemon(process, work, data_root)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        for path in created:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)


def test_docker_starts_with_the_units_flags_and_the_rendered_daemon_json(rendered: Rendered) -> None:
    flags = runnable(unit_flags(rendered.sysconfig, rendered.dropins))
    assert flags == ["--default-ulimit", "nofile=262144:262144"]
    with dockerd(flags, rendered.daemon) as daemon:
        assert daemon.wait_until_up() == str(daemon.data_root), daemon.log()
        cmdline = Path(f"/proc/{daemon.process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [b"--default-ulimit", b"nofile=262144:262144"]
        assert b"nofile=32768:65536" not in cmdline


def test_docker_also_starts_with_the_distributions_own_flags(rendered: Rendered) -> None:
    """Before boot.sh's drop-in is in place (the first start on a new host), the unit passes AL2023's own
    OPTIONS; daemon.json must not collide with those either."""
    flags = runnable(unit_flags(rendered.sysconfig, None))
    assert flags == ["--default-ulimit", "nofile=32768:65536"]
    with dockerd(flags, rendered.daemon) as daemon:
        assert daemon.wait_until_up() == str(daemon.data_root), daemon.log()


def test_negative_control_the_old_daemon_json_stops_docker(rendered: Rendered) -> None:
    """Proves the tests above can fail: the old daemon.json with AL2023's flag is Docker never starting."""
    flags = runnable(unit_flags(rendered.sysconfig, None))
    with dockerd(flags, OLD_DAEMON_JSON) as daemon:
        assert daemon.wait_until_up() is None
        assert daemon.process.wait(timeout=30) != 0
        log = daemon.log()
        assert BOTH_WAYS in log and "default-ulimits" in log, log


def _tiny_image(work: Path) -> Path:
    """An image of symlinks only; the host's /usr is bind-mounted read-only at run time for a shell."""
    tar = work / "image.tar"
    with tarfile.open(tar, "w") as archive:
        for name, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
            entry = tarfile.TarInfo(name)
            entry.type, entry.linkname = tarfile.SYMTYPE, target
            archive.addfile(entry)
    return tar


def test_containers_get_the_nofile_limit_of_the_drop_in(rendered: Rendered) -> None:
    """The limit reaches containers: it is the drop-in's, not the distribution's 32768:65536.

    A container cannot get more than dockerd's own hard limit unless the host grants CAP_SYS_RESOURCE. Where
    this host's hard limit is below boot.sh's 262144, the number in the rendered file is lowered to half the
    host's limit (only the number changes), which still tells it apart from the distribution's.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = 262144 if hard == resource.RLIM_INFINITY or hard >= 262144 else hard // 2
    text = rendered.env_file.read_text()
    assert text == 'OPTIONS="--default-ulimit nofile=262144:262144"\n'
    rendered.env_file.write_text(text.replace("262144:262144", f"{limit}:{limit}"))
    flags = runnable(unit_flags(rendered.sysconfig, rendered.dropins))
    with dockerd(flags, rendered.daemon) as daemon:
        assert daemon.wait_until_up() == str(daemon.data_root), daemon.log()
        imported = daemon.docker("import", str(_tiny_image(daemon.work)), "sgarch-test:ulimit")
        assert imported.returncode == 0, imported.stderr
        run = ["run", "--rm", "--network", "none", "-v", "/usr:/usr:ro", "sgarch-test:ulimit"]
        shell = ["/usr/bin/sh", "-c", "ulimit -Sn; ulimit -Hn"]
        control = daemon.docker(*run[:-1], "--ulimit", "nofile=1024:2048", run[-1], *shell)
        if control.returncode != 0:
            pytest.skip(f"dockerd runs here but cannot start containers: {control.stderr.strip()[-300:]}")
        assert control.stdout == "1024\n2048\n"
        got = daemon.docker(*run, *shell)
        assert got.returncode == 0, got.stderr
        assert got.stdout == f"{limit}\n{limit}\n"


def test_dockerd_pulls_through_the_proxy_of_its_drop_in(tmp_path: Path) -> None:
    """proxy.sh's drop-in gives dockerd the proxy (image pulls): dockerd reports what it read from its
    environment. Without the drop-in (the negative control) it has none."""
    box = Sandbox(tmp_path, {name: script_text(name) for name in ("install.sh", "boot.sh", "proxy.sh")})
    box.write_config()
    box.add_release()
    box.attach_volume()
    env_file = box.root / PROXY_ENV.lstrip("/")
    env_file.write_text(rendered_file(proxy_config(), PROXY_ENV))
    for script in ("proxy.sh", "boot.sh"):
        result = box.run(script)
        assert result.returncode == 0, result.stdout + result.stderr
    etc = box.root / "etc"
    daemon_json = json.loads((etc / "docker" / "daemon.json").read_text())
    dropins = etc / "systemd" / "system" / "docker.service.d"
    sysconfig = etc / "sysconfig" / "docker"
    environment = unit_environment(sysconfig, dropins, box.root)
    flags = runnable(unit_flags(sysconfig, dropins))
    fields = "{{.HTTPProxy}}|{{.HTTPSProxy}}|{{.NoProxy}}"
    with dockerd(flags, daemon_json, environment) as daemon:
        assert daemon.wait_until_up() == str(daemon.data_root), daemon.log()
        info = daemon.docker("info", "--format", fields)
        assert info.returncode == 0, info.stderr
        rendered = rendered_file(proxy_config(), PROXY_ENV)
        expected = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in rendered.splitlines()[1:]}
        assert (
            info.stdout.strip()
            == f"{expected['HTTP_PROXY']}|{expected['HTTPS_PROXY']}|{expected['NO_PROXY']}"
        )
    (dropins / "sgarch-proxy.conf").unlink()
    with dockerd(flags, daemon_json, unit_environment(sysconfig, dropins, box.root)) as daemon:
        assert daemon.wait_until_up() == str(daemon.data_root), daemon.log()
        assert daemon.docker("info", "--format", fields).stdout.strip() == "||"
