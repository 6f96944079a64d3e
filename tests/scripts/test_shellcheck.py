"""Static checks of the on-host scripts: shellcheck on the source, `bash -n` on what user-data ships, and
proof that bash reads the shipped (comment- and indentation-stripped) copies exactly like the source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from host_sandbox import embedded_scripts

from sgarch.host import script_text

SCRIPTS = Path(__file__).resolve().parents[2] / "sgarch" / "host" / "scripts"


@pytest.mark.parametrize("name", ["install.sh", "boot.sh", "standalone.sh", "proxy.sh"])
def test_shellcheck_is_clean(name: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck); .ci/run installs it")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPTS / name)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", ["install.sh", "boot.sh", "proxy.sh"])
def test_scripts_are_strict_and_executable(name: str) -> None:
    text = script_text(name)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert (SCRIPTS / name).stat().st_mode & 0o111, f"{name} must be executable in the repository"


@pytest.mark.parametrize("name", ["install.sh", "boot.sh", "proxy.sh"])
def test_embedded_scripts_parse(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(embedded_scripts()[name])
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def parsed_functions(text: str, tmp_path: Path) -> str:
    """Every function as bash parsed it (`declare -f` prints a normalised copy), with the script's last line
    (install.sh's `main "$@"`) left out, so sourcing runs nothing."""
    path = tmp_path / "script.sh"
    lines = text.splitlines()
    path.write_text("\n".join(lines[:-1] if lines[-1] == 'main "$@"' else lines) + "\n")
    result = subprocess.run(
        ["bash", "-c", f'source "{path}"; declare -f'],
        env={"PATH": "/usr/bin:/bin", "SGARCH_ROOT": str(tmp_path / "root")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["install.sh", "boot.sh"])
def test_shipped_scripts_parse_exactly_like_the_source(name: str, tmp_path: Path) -> None:
    """user-data drops comments and indentation; here-documents and continued lines must survive intact."""
    source = parsed_functions(script_text(name), tmp_path)
    assert "write_if_changed ()" in source
    assert parsed_functions(embedded_scripts()[name], tmp_path) == source


def test_boot_script_keeps_the_upgrade_hook() -> None:
    """A later change adds the multi-version upgrade here; the hook must stay easy to find."""
    text = script_text("boot.sh")
    assert "# UPGRADE HOOK (multi-version upgrades go here)." in text
    assert 'upgrade_hook "$DATA_VERSION" "$VERSION"' in text


def test_the_boot_unit_retries_failures_but_not_refusals() -> None:
    """A failed boot (registry unreachable, volume late) is retried a few times; exit 2 is a refusal by an
    upgrade gate and would only refuse again. Restart=on-failure needs systemd 244 for oneshot units (AL2023:
    252)."""
    unit = script_text("sgarch-boot.service").splitlines()
    for setting in (
        "Type=oneshot",
        "Restart=on-failure",
        "RestartSec=2min",
        "RestartPreventExitStatus=2",
        "StartLimitIntervalSec=1h",
        "StartLimitBurst=5",
    ):
        assert setting in unit
    # Start limits belong to [Unit]; in [Service] systemd ignores them with a warning.
    assert unit.index("StartLimitBurst=5") < unit.index("[Service]")
