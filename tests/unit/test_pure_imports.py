"""Pure stays pure: the packages of pure logic load without Pulumi.

The CLI's ``size`` and ``cost``, the AMI builder and the docs read sizing, user-data and prices; importing
Pulumi there costs seconds and drags its gRPC runtime into tools that never plan a stack. Each package is
imported in a fresh interpreter, because this test process has long since imported Pulumi.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE_PACKAGES = (
    "sgarch.sizing",
    "sgarch.host",
    "sgarch.cost",
    "sgarch.policy",
    "sgarch.upgrade",
    "sgarch.tiers",
    # Not named by the layering rule's list, but STYLE.md: "sgarch/ami/ needs only tiers, errors and boto3".
    "sgarch.ami",
)


def _pulumi_modules_after_importing(module: str) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pulumi'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("module", PURE_PACKAGES)
def test_package_loads_without_pulumi(module: str) -> None:
    assert _pulumi_modules_after_importing(module) == []


def test_the_check_sees_pulumi_when_it_is_loaded() -> None:
    # The component packages do import Pulumi: without this, a broken probe would pass every case above.
    loaded = _pulumi_modules_after_importing("sgarch.single_node")
    assert "pulumi" in loaded
    assert any(m.startswith("pulumi_aws") for m in loaded)
