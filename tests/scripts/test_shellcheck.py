"""Static checks of the on-host scripts: shellcheck on the source, `bash -n` on what user-data ships."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from host_sandbox import embedded_scripts

from sgarch.single_node.userdata import script_text

SCRIPTS = Path(__file__).resolve().parents[2] / "sgarch" / "single_node" / "scripts"


@pytest.mark.parametrize("name", ["install.sh", "boot.sh", "standalone.sh"])
def test_shellcheck_is_clean(name: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck); .ci/run installs it")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPTS / name)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", ["install.sh", "boot.sh"])
def test_scripts_are_strict_and_executable(name: str) -> None:
    text = script_text(name)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert (SCRIPTS / name).stat().st_mode & 0o111, f"{name} must be executable in the repository"


@pytest.mark.parametrize("name", ["install.sh", "boot.sh"])
def test_embedded_scripts_parse(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(embedded_scripts()[name])
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_boot_script_keeps_the_upgrade_hook() -> None:
    """A later change adds the multi-version upgrade here; the hook must stay easy to find."""
    text = script_text("boot.sh")
    assert "# UPGRADE HOOK (multi-version upgrades go here)." in text
    assert 'upgrade_hook "$data_version" "$VERSION"' in text
