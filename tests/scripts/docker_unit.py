"""Amazon Linux 2023's docker.service as data: which flags its dockerd gets, after sgarch's drop-in.

The distribution's files are in tests/data/al2023-docker (with their sources). systemd's rules, as
systemd.exec(5) states them: EnvironmentFile= lines are read in order (the unit's own, then those of its
drop-ins) and a later file overrides an earlier one; `$VAR` in ExecStart= expands to the variable's value
split at whitespace.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from host_sandbox import AL2023_DOCKER

# dockerd's flag -> its daemon.json key, where the two names differ (moby's config: list flags take a plural).
_KEYS = {
    "H": "hosts",
    "host": "hosts",
    "g": "data-root",
    "graph": "data-root",
    "default-ulimit": "default-ulimits",
    "log-opt": "log-opts",
    "label": "labels",
    "storage-opt": "storage-opts",
    "exec-opt": "exec-opts",
    "insecure-registry": "insecure-registries",
    "registry-mirror": "registry-mirrors",
    "add-runtime": "runtimes",
    "authorization-plugin": "authorization-plugins",
    "default-address-pool": "default-address-pools",
    "dns-opt": "dns-opts",
    "dns-search": "dns-search",
}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile; comments and blank lines skipped, one level of quotes removed."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _directives(text: str, name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{name}=")]


def unit_environment(sysconfig: Path, dropin_dir: Path | None, root: Path | None = None) -> dict[str, str]:
    """The environment AL2023's docker.service gives dockerd: its EnvironmentFile= lines, then the drop-ins'.

    ``sysconfig`` stands for the unit's /etc/sysconfig/docker; the drop-ins in ``dropin_dir`` (the files
    boot.sh and proxy.sh wrote, in name order) add their EnvironmentFile= lines after it, as systemd reads
    them. A drop-in naming a host path (proxy.sh's /etc/sgarch/proxy.env) is looked up under ``root``.
    """
    unit = (AL2023_DOCKER / "docker.service").read_text()
    files = [
        sysconfig if path.lstrip("-") == "/etc/sysconfig/docker" else Path(path.lstrip("-"))
        for path in _directives(unit, "EnvironmentFile")
    ]
    for dropin in sorted(dropin_dir.glob("*.conf")) if dropin_dir is not None else []:
        files += [Path(path.lstrip("-")) for path in _directives(dropin.read_text(), "EnvironmentFile")]
    environment: dict[str, str] = {}
    for path in files:
        if root is not None and not path.is_relative_to(root):
            path = root / path.relative_to("/")
        if path.exists():
            environment.update(read_env_file(path))
    return environment


def unit_flags(sysconfig: Path, dropin_dir: Path | None) -> list[str]:
    """dockerd's arguments as AL2023's unit runs it: the unit's ExecStart with its environment expanded."""
    unit = (AL2023_DOCKER / "docker.service").read_text()
    environment = unit_environment(sysconfig, dropin_dir)
    (exec_start,) = _directives(unit, "ExecStart")
    flags: list[str] = []
    for word in shlex.split(exec_start)[1:]:
        flags += environment.get(word[1:], "").split() if word.startswith("$") else [word]
    return flags


def daemon_json_key(flag: str) -> str | None:
    """The daemon.json key a dockerd flag sets (``--default-ulimit=x`` -> ``default-ulimits``), or None."""
    if not flag.startswith("-"):
        return None
    name = flag.lstrip("-").split("=", 1)[0]
    return _KEYS.get(name, name)
