"""Stand-ins for a single node in the migrate tests: a fake ``docker`` and an SSM host that runs locally.

moto records ``ssm:SendCommand`` but runs nothing. :class:`LocalHost` sends every step through the real
:class:`~sgarch.migrate.ssm.SsmHost` code to a moto server, reads the command body back from moto (so the
test runs what was sent, not what the code meant to send), and runs it with ``sh`` as AWS-RunShellScript
does, with a fake ``docker`` first on PATH. The fake keeps its containers in a JSON file; ``docker exec``
into a database container runs the PostgreSQL client here, against the real test server's database that
stands for that container.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgarch.errors import BuildError
from sgarch.migrate.ssm import SsmHost

FAKE_DOCKER = r'''#!PYTHON
"""Fake docker CLI for the migrate tests (see migrate_fakes.py)."""
import json, os, subprocess, sys

state_path = os.environ["FAKE_DOCKER_STATE"]
with open(state_path) as f:
    state = json.load(f)
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")

def save():
    with open(state_path, "w") as f:
        json.dump(state, f)

def missing(name):
    sys.stderr.write(f"Error: No such object: {name}\n")
    sys.exit(1)

args = sys.argv[1:]
command = args.pop(0)
containers = state["containers"]
if command == "exec":
    forwarded = []
    while args[0].startswith("-"):
        flag = args.pop(0)
        if flag == "-e":
            forwarded.append(args.pop(0))
    name = args.pop(0)
    if name not in containers or not containers[name]["running"]:
        sys.stderr.write(f"Error response from daemon: container {name} is not running\n")
        sys.exit(1)
    env = dict(os.environ)
    for key in ("PGUSER", "PGDATABASE", "PGPASSWORD"):
        env.pop(key, None)
    # The container's own database on the test server (the step's PGUSER/PGDATABASE name the real ones).
    env["PGDATABASE"] = containers[name]["database"]
    env["PGUSER"] = os.environ["FAKE_PGUSER"]
    os.execvpe(args[0], args, env)
elif command == "inspect":
    fmt = args[args.index("--format") + 1]
    name = args[-1]
    if name not in containers:
        missing(name)
    c = containers[name]
    if "State.Running" in fmt:
        print("true" if c["running"] else "false")
    elif ".Mounts" in fmt:
        print(c.get("mounts", {}).get("/data", ""))
    elif "Networks" in fmt:
        print(c.get("network", "") + " ")
    elif "PortBindings" in fmt:
        print(" ".join(c.get("ports", [])))
    elif "Config.Image" in fmt:
        print(c.get("image", ""))
    else:
        print(name)
elif command in ("stop", "start"):
    name = args[-1]
    if name not in containers:
        missing(name)
    containers[name]["running"] = command == "start"
    save()
elif command == "rm":
    name = args[-1]
    if name not in containers:
        missing(name)
    del containers[name]
    save()
elif command == "run":
    name = args[args.index("--name") + 1]
    containers[name] = {"running": True, "run": args}
    save()
else:
    sys.stderr.write(f"fake docker: unsupported command {command}\n")
    sys.exit(2)
'''

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
        for sub in ("bin", "blobstore", "migrate", "state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        docker = self.root / "bin" / "docker"
        docker.write_text(FAKE_DOCKER.replace("#!PYTHON", f"#!{sys.executable} -S"))
        docker.chmod(0o755)
        containers: dict[str, Any] = {name: {"running": True} for name in WRITERS}
        frontend = containers["sourcegraph-frontend-0"]
        frontend["network"] = "sourcegraph_sourcegraph"
        frontend["ports"] = ["0.0.0.0:80:3080/tcp"] if self.behind_load_balancer else []
        if not self.behind_load_balancer:
            containers["caddy"] = {"running": True, "image": CADDY_IMAGE}
        for container, database in self.databases.items():
            containers[container] = {"running": True, "database": database}
        containers["blobstore"] = {"running": True, "mounts": {"/data": str(self.root / "blobstore")}}
        self.state_file.write_text(json.dumps({"containers": containers}))
        self.log_file.write_text("")
        (self.root / "compose.yaml").write_text(f"services:\n  caddy:\n    image: '{CADDY_IMAGE}'\n")

    @property
    def state_file(self) -> Path:
        return self.root / "docker.json"

    @property
    def log_file(self) -> Path:
        return self.root / "docker.log"

    def containers(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text())["containers"])

    def docker_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def env(self) -> dict[str, str]:
        env = dict(self.pg_env)
        env.update(
            PATH=f"{self.root / 'bin'}:{self.pg_env['PATH']}",
            FAKE_DOCKER_STATE=str(self.state_file),
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
