"""Provisioning scripts: shellcheck on every one that exists, and harden.sh run against a scratch root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sgarch.ami import load_spec

REPO = Path(__file__).resolve().parents[2]


def _scripts() -> list[Path]:
    found = set((REPO / "sgarch" / "ami" / "scripts").glob("*.sh")) | set((REPO / "amis").glob("*/*.sh"))
    for spec in sorted((REPO / "amis").glob("*/ami.yaml")):
        try:
            loaded = load_spec(spec)
        except Exception:  # a spec whose package script is missing is covered by the spec tests
            continue
        found |= {s.path.resolve() for s in (*loaded.provisioners, *loaded.hardening)}
    return sorted(p.resolve() for p in found)


SCRIPTS = _scripts()


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(REPO)) for p in SCRIPTS])
def test_shellcheck_is_clean(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck); .ci/run installs it")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(REPO)) for p in SCRIPTS])
def test_scripts_are_strict_bash(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text


def test_every_shipped_spec_script_is_checked() -> None:
    assert REPO / "amis" / "single-node" / "finalize.sh" in SCRIPTS
    assert REPO / "amis" / "executor" / "install-executor.sh" in SCRIPTS
    assert REPO / "sgarch" / "ami" / "scripts" / "harden.sh" in SCRIPTS


def test_harden_removes_keys_logs_and_history(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for path, content in {
        "root/.ssh/authorized_keys": "ssh-ed25519 AAAA root",
        "home/ec2-user/.ssh/authorized_keys": "ssh-ed25519 AAAA user",
        "home/ec2-user/.bash_history": "aws configure",
        "etc/ssh/ssh_host_ed25519_key": "PRIVATE",
        "etc/ssh/ssh_host_ed25519_key.pub": "PUBLIC",
        "etc/machine-id": "0123456789abcdef",
        "var/log/messages": "boot log",
        "var/log/cloud-init.log.1": "old",
        "var/lib/cloud/instance/user-data.txt": "#cloud-config",
        "tmp/scratch": "x",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    env = {**os.environ, "SGARCH_ROOT": str(root)}
    result = subprocess.run(
        ["bash", str(REPO / "sgarch" / "ami" / "scripts" / "harden.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hardening verified" in result.stdout
    assert not (root / "root/.ssh/authorized_keys").exists()
    assert not (root / "home/ec2-user/.ssh/authorized_keys").exists()
    assert not (root / "home/ec2-user/.bash_history").exists()
    assert list((root / "etc/ssh").glob("ssh_host_*")) == []
    assert (root / "etc/machine-id").read_text() == ""
    assert (root / "var/log/messages").read_text() == "" and not (root / "var/log/cloud-init.log.1").exists()
    assert not (root / "var/lib/cloud").exists() and list((root / "tmp").iterdir()) == []
    dropin = (root / "etc/ssh/sshd_config.d/00-sgarch-hardening.conf").read_text().splitlines()
    assert {"PasswordAuthentication no", "PermitRootLogin no", "PermitEmptyPasswords no"} <= set(dropin)


def test_harden_removes_the_ssm_agents_stored_commands_last(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ssm = root / "var/lib/amazon/ssm/i-0123456789abcdef0/document"
    stored = [
        "orchestration/11111111-aaaa/awsrunShellScript/0.awsrunShellScript/_script.sh",
        "state/completed/11111111-aaaa",
        "state/current/22222222-bbbb",
    ]
    for path in stored:
        (ssm / path).parent.mkdir(parents=True, exist_ok=True)
        (ssm / path).write_text("env SECRET=hunter2 bash /var/lib/sgarch-build/00-install.sh")
    (root / "var/lib/amazon/ssm/ipc").mkdir(parents=True)
    result = subprocess.run(
        ["bash", str(REPO / "sgarch" / "ami" / "scripts" / "harden.sh")],
        env={**os.environ, "SGARCH_ROOT": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith("sgarch-harden: removing the SSM agent's stored commands")  # the very end
    assert [p for p in ssm.rglob("*") if p.is_file()] == []
    assert (root / "var/lib/amazon/ssm/ipc").is_dir()  # the agent's own state stays
    # What this very command leaves is removed when the instance stops, by a unit that then removes itself.
    unit = (root / "etc/systemd/system/sgarch-ssm-wipe.service").read_text()
    assert "Before=amazon-ssm-agent.service" in unit
    assert "ExecStop=/bin/sh -c 'rm -rf /var/lib/amazon/ssm/*/document/orchestration" in unit
    assert "/etc/systemd/system/sgarch-ssm-wipe.service'" in unit
