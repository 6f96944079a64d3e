from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.plan import StackProgramError, load_project, resolve_config, run_plan

STACKS = Path(__file__).parent.parent / "fixtures" / "stacks"
TINY = STACKS / "tiny"
VOLUME = "aws:ebs/volume:Volume"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_project_config_is_declared_typed_and_namespaced() -> None:
    project = load_project(TINY)
    assert project.name == "tiny"
    assert project.program == (TINY / "__main__.py").resolve()
    assert project.declared["tiny:volumeGib"].type == "integer"
    assert project.declared["tiny:volumeGib"].default == 20
    assert project.declared["tiny:owner"].description == "Who owns the resources (required, no default)."
    assert project.values == {"aws:region": "us-west-2"}
    assert project.stack_names() == ["dev", "prod"]


def test_config_layers_and_strings() -> None:
    project = load_project(TINY)
    dev = resolve_config(project, "dev")
    assert dev.values == {
        "aws:region": "eu-west-1",
        "tiny:allowedCidrs": '["10.0.0.0/8"]',
        "tiny:dbPassword": "secret-placeholder",
        "tiny:owner": "alice",
        "tiny:publicHttps": "false",
        "tiny:volumeGib": "20",
    }
    assert dev.secret_keys == ("tiny:dbPassword",)
    prod = resolve_config(project, "prod", {"tiny:volumeGib": "750", "aws:region": "ap-south-1"})
    assert prod.values["tiny:volumeGib"] == "750"
    assert prod.values["tiny:publicHttps"] == "true"
    assert prod.region == "ap-south-1"


def test_plan_records_resources_inputs_parents_and_exports() -> None:
    plan = run_plan(TINY)
    assert (plan.project, plan.stack) == ("tiny", "dev")
    volume = plan.one(VOLUME, "tiny-data")
    assert volume.inputs["size"] == 20
    assert volume.inputs["availabilityZone"] == "eu-west-1a"
    assert volume.inputs["encrypted"] is True
    assert volume.protect
    assert volume.parent == plan.stack_urn
    assert [r.inputs["cidrIpv4"] for r in plan.by_type(INGRESS)] == ["10.0.0.0/8"]
    role_name = plan.one("aws:iam/role:Role").outputs["name"]
    assert plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs["role"] == role_name
    assert plan.exports["data_volume_id"] == volume.id
    assert plan.exports["zone"] == "eu-west-1a"
    assert plan.exports["db_password"] == "secret-placeholder"
    assert plan.secret_exports == frozenset({"db_password"})
    assert plan.type_counts()[VOLUME] == 1
    assert len(plan.resources) == 6


def test_stack_and_overrides_change_the_plan() -> None:
    prod = run_plan(TINY, stack="prod")
    assert prod.one(VOLUME).inputs["size"] == 500
    assert prod.one(VOLUME).inputs["availabilityZone"] == "us-west-2a"  # Pulumi.yaml's region
    assert [r.inputs["cidrIpv4"] for r in prod.by_type(INGRESS)] == ["0.0.0.0/0"]
    assert "db_password" not in prod.exports
    overridden = run_plan(TINY, stack="prod", config=["volumeGib=900", "publicHttps=false"])
    assert overridden.one(VOLUME).inputs["size"] == 900
    assert [r.inputs["cidrIpv4"] for r in overridden.by_type(INGRESS)] == ["10.0.0.0/8"]


def test_runs_are_isolated_and_repeatable() -> None:
    cwd, path = os.getcwd(), list(sys.path)
    first = run_plan(TINY).to_dict()
    second = run_plan(TINY).to_dict()
    assert first == second
    assert (os.getcwd(), sys.path) == (cwd, path)


def test_json_lists_every_input_with_secrets_redacted() -> None:
    data = json.loads(run_plan(TINY).to_json())
    assert set(data) == {"project", "stack", "config", "resources", "exports"}
    assert data["exports"]["db_password"] == "[secret]"
    assert data["config"]["tiny:dbPassword"] == "[secret]"
    volume = next(r for r in data["resources"] if r["type"] == VOLUME)
    assert volume == {
        "type": VOLUME,
        "name": "tiny-data",
        "urn": "urn:pulumi:dev::tiny::pulumi:pulumi:Stack$aws:ebs/volume:Volume::tiny-data",
        "parent": "urn:pulumi:dev::tiny::pulumi:pulumi:Stack::tiny-dev",
        "custom": True,
        "inputs": {
            "availabilityZone": "eu-west-1a",
            "encrypted": True,
            "size": 20,
            "tags": {"Owner": "alice"},
            "type": "gp3",
        },
        "protect": True,
    }
    # Stable order: depth first, siblings by type then name.
    order = [(r["type"], r["name"]) for r in data["resources"]]
    assert order == sorted(order)


def test_extra_sections_are_serialised() -> None:
    plan = run_plan(TINY)
    plan.sections["cost"] = {"monthly_usd": 12.5, "items": [1.0]}
    assert json.loads(plan.to_json())["cost"] == {"monthly_usd": 12.5, "items": [1]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"stack": "prod", "config": ["volumeGib=big"]},
            "tiny:volumeGib must be an integer (got 'big'): fix the --config value.",
        ),
        (
            {"stack": "prod", "config": ["publicHttps=maybe"]},
            "tiny:publicHttps must be true or false (got 'maybe'): fix the --config value.",
        ),
        (
            {"stack": "prod", "config": ["allowedCidrs=10.0.0.0/8"]},
            "tiny:allowedCidrs must be a JSON list (got '10.0.0.0/8'): fix the --config value.",
        ),
        (
            {"stack": "qa"},
            "--stack must be a stack with a Pulumi.qa.yaml file (got 'qa'): stacks here: dev, prod.",
        ),
        ({"config": ["novalue"]}, "--config must be key=value (got 'novalue'): write it as --config tier=M."),
    ],
)
def test_invalid_config_names_the_key(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        run_plan(TINY, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_missing_declared_key(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((TINY / "Pulumi.yaml").read_text())
    (tmp_path / "__main__.py").write_text((TINY / "__main__.py").read_text())
    with pytest.raises(ConfigError) as info:
        run_plan(tmp_path)
    assert str(info.value) == (
        "tiny:owner must be set (got None): add it to Pulumi.dev.yaml or pass --config owner=<value>."
    )


def test_program_require_of_a_missing_key_becomes_config_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: needs\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\n\npulumi.Config().require('domain')\n")
    with pytest.raises(ConfigError) as info:
        run_plan(tmp_path)
    assert str(info.value) == (
        "needs:domain must be set (got None): set it in Pulumi.dev.yaml or with --config."
    )
    (tmp_path / "__main__.py").write_text("import pulumi\n\npulumi.Config().require_int('count')\n")
    with pytest.raises(ConfigError, match=r"^needs:count must be a valid int \(got 'many'\)"):
        run_plan(tmp_path, config={"count": "many"})


def test_config_error_raised_by_the_program_propagates_as_itself() -> None:
    with pytest.raises(ConfigError) as info:
        run_plan(STACKS / "raises_config_error", config={"tier": "2XL"})
    assert (
        str(info.value) == "raises:tier must be one of XS, S, M, L, XL (got '2XL'): pick a single-node tier."
    )
    assert info.value.__cause__ is None


def test_program_bug_is_one_error_naming_file_and_line() -> None:
    with pytest.raises(StackProgramError) as info:
        run_plan(STACKS / "broken")
    assert str(info.value) == "broken program failed at __main__.py:6: ZeroDivisionError: division by zero"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "STACK_DIR must be a folder with a Pulumi.yaml"),
        ({"Pulumi.yaml": "name: x\nruntime: nodejs\n"}, "Pulumi.yaml: runtime must be python (got 'nodejs')"),
        ({"Pulumi.yaml": "name: x\nruntime: python\n"}, "Pulumi.yaml: main must be a Python program"),
        (
            {"Pulumi.yaml": "name: x\nruntime: python\nconfig:\n  a:\n    type: float\n", "__main__.py": ""},
            "Pulumi.yaml: config.a.type must be one of string, integer, boolean, array, object (got 'float')",
        ),
        ({"Pulumi.yaml": "name: [x\n"}, "Pulumi.yaml must be valid YAML"),
    ],
)
def test_bad_project_folders(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        run_plan(tmp_path)
    assert message in str(info.value)
