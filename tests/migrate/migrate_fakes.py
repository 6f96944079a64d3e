"""Stand-ins for a single node in the migrate tests: a fake ``docker`` and an SSM host that runs locally.

moto records ``ssm:SendCommand`` but runs nothing. :class:`LocalHost` sends every step through the real
:class:`~sgarch.migrate.ssm.SsmHost` code to a moto server, reads the command body back from moto (so the
test runs what was sent, not what the code meant to send), and runs it with ``sh`` as AWS-RunShellScript
does, with a fake ``docker`` first on PATH. The fake keeps its containers in a directory; ``docker exec``
into a database container runs the PostgreSQL client here, against the real test server's database that
stands for that container.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgarch.errors import BuildError
from sgarch.migrate.ssm import SsmHost

# Bash, not Python: the scripts call docker a few dozen times per step, and a bash process starts in a
# fraction of the time an interpreter does. A container is a directory under $FAKE_DOCKER_STATE: a file
# `running` while it runs, and one file per attribute (database, mounts, network, ports, image, run).
# Each call is logged as its arguments, NUL-terminated, then a record separator (\036).
FAKE_DOCKER = r"""#!/usr/bin/env bash
# Fake docker CLI for the migrate tests (see migrate_fakes.py).
set -euo pipefail
state="$FAKE_DOCKER_STATE"
{ printf '%s\0' "$@"; printf '\036'; } >>"$FAKE_DOCKER_LOG"
missing() {
    echo "Error: No such object: $1" >&2
    exit 1
}
attr() { if [[ -f "$state/$1/$2" ]]; then cat "$state/$1/$2"; fi; }
command="$1"
shift
case "$command" in
exec)
    while [[ "$1" == -* ]]; do
        if [[ "$1" == -e ]]; then shift; fi
        shift
    done
    name="$1"
    shift
    if [[ ! -e "$state/$name/running" ]]; then
        echo "Error response from daemon: container $name is not running" >&2
        exit 1
    fi
    # The container's own database on the test server (the step's PGUSER/PGDATABASE name the real ones).
    unset PGPASSWORD
    PGDATABASE="$(attr "$name" database)" PGUSER="$FAKE_PGUSER" exec "$@"
    ;;
inspect)
    format="" name="${*: -1}"
    while [[ $# -gt 0 ]]; do
        if [[ "$1" == --format ]]; then format="$2"; fi
        shift
    done
    [[ -d "$state/$name" ]] || missing "$name"
    case "$format" in
    *State.Running*) if [[ -e "$state/$name/running" ]]; then echo true; else echo false; fi ;;
    *.Mounts*) printf '%s\n' "$(attr "$name" mounts)" ;;
    *Networks*) printf '%s \n' "$(attr "$name" network)" ;;
    *PortBindings*) printf '%s\n' "$(attr "$name" ports)" ;;
    *Config.Image*) printf '%s\n' "$(attr "$name" image)" ;;
    *) printf '%s\n' "$name" ;;
    esac
    ;;
stop | start | rm)
    name="${*: -1}"
    [[ -d "$state/$name" ]] || missing "$name"
    case "$command" in
    stop) rm -f "$state/$name/running" ;;
    start)
        # A file `refuse-start` makes the container fail to start, as a broken one would.
        if [[ -e "$state/$name/refuse-start" ]]; then
            echo "Error response from daemon: failed to start $name: injected" >&2
            exit 1
        fi
        : >"$state/$name/running"
        ;;
    rm) rm -rf "${state:?}/$name" ;;
    esac
    ;;
run)
    args=("$@") name=""
    while [[ $# -gt 0 ]]; do
        if [[ "$1" == --name ]]; then name="$2"; fi
        shift
    done
    mkdir -p "$state/$name"
    : >"$state/$name/running"
    printf '%s\0' "${args[@]}" >"$state/$name/run"
    ;;
*)
    echo "fake docker: unsupported command $command" >&2
    exit 2
    ;;
esac
"""

WRITERS = (
    "sourcegraph-frontend-internal",
    "sourcegraph-frontend-0",
    "worker",
    "gitserver-0",
    "precise-code-intel-worker",
    "syntactic-code-intel-worker",
    "searcher-0",
    "zoekt-indexserver-0",
)
CADDY_IMAGE = "index.docker.io/sourcegraph/caddy:7.5.4453@sha256:" + "c" * 64


@dataclass
class FakeNode:
    """One fake single node: its docker state, its data directories and the databases its containers use."""

    root: Path
    databases: dict[str, str]
    pg_env: dict[str, str]
    behind_load_balancer: bool = True

    def __post_init__(self) -> None:
        for sub in ("bin", "blobstore", "migrate", "state", "docker"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        docker = self.root / "bin" / "docker"
        docker.write_text(FAKE_DOCKER)
        docker.chmod(0o755)
        containers: dict[str, dict[str, str]] = {name: {} for name in WRITERS}
        frontend = containers["sourcegraph-frontend-0"]
        frontend["network"] = "sourcegraph_sourcegraph"
        frontend["ports"] = "0.0.0.0:80:3080/tcp" if self.behind_load_balancer else ""
        if not self.behind_load_balancer:
            containers["caddy"] = {"image": CADDY_IMAGE}
        for container, database in self.databases.items():
            containers[container] = {"database": database}
        containers["blobstore"] = {"mounts": str(self.root / "blobstore")}
        for name, attributes in containers.items():
            (self.state_dir / name).mkdir()
            (self.state_dir / name / "running").touch()
            for key, value in attributes.items():
                (self.state_dir / name / key).write_text(value)
        self.log_file.write_text("")
        (self.root / "compose.yaml").write_text(f"services:\n  caddy:\n    image: '{CADDY_IMAGE}'\n")

    @property
    def state_dir(self) -> Path:
        return self.root / "docker"

    @property
    def log_file(self) -> Path:
        return self.root / "docker.log"

    def containers(self) -> dict[str, dict[str, Any]]:
        """Each container's state: ``running``, and ``run`` (the ``docker run`` arguments) if it was run."""
        found: dict[str, dict[str, Any]] = {}
        for directory in sorted(self.state_dir.iterdir()):
            container: dict[str, Any] = {"running": (directory / "running").exists()}
            if (directory / "run").exists():
                container["run"] = (directory / "run").read_text().split("\0")[:-1]
            found[directory.name] = container
        return found

    def docker_calls(self) -> list[list[str]]:
        """Every docker call's arguments, in order."""
        records = self.log_file.read_text().split("\036")[:-1]
        return [record.split("\0")[:-1] for record in records]

    def env(self) -> dict[str, str]:
        env = dict(self.pg_env)
        env.update(
            PATH=f"{self.root / 'bin'}:{self.pg_env['PATH']}",
            FAKE_DOCKER_STATE=str(self.state_dir),
            FAKE_DOCKER_LOG=str(self.log_file),
            FAKE_PGUSER=self.pg_env["PGUSER"],
            SGARCH_MIGRATE_ROOT=str(self.root / "migrate"),
            SGARCH_MIGRATE_STATE=str(self.root / "state"),
            SGARCH_COMPOSE_FILE=str(self.root / "compose.yaml"),
        )
        for key in ("PGDATABASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        return env


@dataclass
class LocalHost(SsmHost):
    """An SsmHost whose commands go to moto and then run here, on a :class:`FakeNode`.

    ``fail`` = (label, when): raise as if the step failed, ``before`` it ran or ``after`` it ran (the host
    did the work, but the CLI never learned it: a lost connection, a timeout).
    """

    node: FakeNode | None = None
    fail: tuple[str, str] | None = None
    sent: list[tuple[str, list[str]]] = field(default_factory=list)

    def wait(self, label: str, command_id: str) -> str:
        assert super().wait(label, command_id) == ""  # moto: Success, no output
        commands = self.ssm.list_commands(CommandId=command_id)["Commands"][0]["Parameters"]["commands"]
        self.sent.append((label, commands))
        if self.fail == (label, "before"):
            raise BuildError(f"{label}: injected failure before the step ran")
        assert self.node is not None
        result = subprocess.run(
            ["sh", "-c", "\n".join(commands)],
            env=self.node.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if self.fail == (label, "after"):
            raise BuildError(f"{label}: injected failure after the step ran")
        if result.returncode != 0:
            raise BuildError(f"{label} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout


def script_env(pg_env: dict[str, str]) -> dict[str, str]:
    """The direct-mode environment for running pgdata.sh here."""
    env = dict(pg_env)
    env["SGARCH_PG_MODE"] = "direct"
    return env


def run_script(name: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    from sgarch.migrate.steps import script_text

    path = Path(env.get("TMPDIR", "/tmp")) / f"sgarch-test-{os.getpid()}-{name}"
    path.write_text(script_text(name))
    try:
        return subprocess.run(
            ["bash", str(path), *args], env=env, capture_output=True, text=True, check=False
        )
    finally:
        path.unlink()
