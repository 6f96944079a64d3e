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
PURE_MODULES = (
    # STYLE.md's "*/layout" and the zone rule and data the settings check pinned zones with: pure, though their
    # package's __init__ loads the Network component and with it Pulumi.
    "sgarch.network.layout",
    "sgarch.network.zones",
)


def _pulumi_modules_after_importing(module: str, *, without_package_init: bool = False) -> list[str]:
    """The Pulumi modules loaded by importing ``module`` in a fresh interpreter. ``without_package_init``
    stands an empty package in for the module's own package, so only the module's imports count."""
    stub = ""
    if without_package_init:
        package = module.rpartition(".")[0]
        stub = (
            "import types, pathlib, importlib.util\n"
            f"spec = importlib.util.find_spec({package.rpartition('.')[0]!r})\n"
            f"package = types.ModuleType({package!r})\n"
            "package.__path__ = [str(pathlib.Path(spec.origin).parent / "
            f"{package.rpartition('.')[2]!r})]\n"
            f"sys.modules[{package!r}] = package\n"
        )
    code = (
        "import importlib, json, sys\n"
        f"{stub}"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pulumi'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("module", PURE_PACKAGES)
def test_package_loads_without_pulumi(module: str) -> None:
    assert _pulumi_modules_after_importing(module) == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_loads_without_pulumi(module: str) -> None:
    assert _pulumi_modules_after_importing(module, without_package_init=True) == []


def test_the_module_check_sees_pulumi_when_it_is_loaded() -> None:
    # The component module beside them does import Pulumi, also with its package's __init__ left out.
    loaded = _pulumi_modules_after_importing("sgarch.network.component", without_package_init=True)
    assert "pulumi" in loaded


def test_the_check_sees_pulumi_when_it_is_loaded() -> None:
    # The component packages do import Pulumi: without this, a broken probe would pass every case above.
    loaded = _pulumi_modules_after_importing("sgarch.single_node")
    assert "pulumi" in loaded
    assert any(m.startswith("pulumi_aws") for m in loaded)
