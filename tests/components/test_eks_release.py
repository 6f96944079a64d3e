"""SourcegraphRelease under Pulumi mocks: the chart release and each managed-service option."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sgarch.errors import ConfigError
from sgarch.helm import SourcegraphRelease, SourcegraphReleaseArgs
from sgarch.helm.managed import aws_identifier
from sgarch.helm.values import IDENTITY_SERVICE_ACCOUNTS
from sgarch.sizing import Workload, estimate, estimate_for_tier
from sgarch.testing import SgarchMocks
from sgarch.tiers import Tier
from sgarch.validation import build

RELEASE = "kubernetes:helm.sh/v3:Release"
JOB = "kubernetes:batch/v1:Job"
SECRET = "kubernetes:core/v1:Secret"
GET_SECRET_VERSION = "aws:secretsmanager/getSecretVersion:getSecretVersion"
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
NETWORK = {
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    "node_security_group_id": "sg-0123456789abcdef0",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    "vpc_cidrs": ["10.50.0.0/16", "100.64.0.0/16"],
}
# The key names the chart's templates read, with file:line citations (deploy-sourcegraph-helm v7.6.0).
CHART_TEMPLATE_KEYS: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "chart-template-keys.yaml").read_text()
)
# Chart keys of the containers that open database connections (frontend's pod also runs migrator).
DATABASE_CLIENTS = (
    "frontend",
    "migrator",
    "gitserver",
    "searcher",
    "worker",
    "preciseCodeIntel",
    "syntacticCodeIntel",
)


def release_values(mocks: SgarchMocks) -> dict[str, Any]:
    (asset,) = mocks.one(RELEASE).inputs["valueYamlFiles"]
    values: dict[str, Any] = yaml.safe_load(asset.text)
    return values


def plan(mocks: SgarchMocks, **kwargs: Any) -> SourcegraphRelease:
    kwargs.setdefault("estimate", estimate_for_tier(Tier.S))
    args = SourcegraphReleaseArgs(cluster_name="sg", **NETWORK, **kwargs)
    return mocks.run(lambda: SourcegraphRelease("sg", args))


def test_default_release_keeps_state_in_cluster(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks)
    release = pulumi_mocks.one(RELEASE).inputs
    assert (release["chart"], release["version"]) == ("sourcegraph", "7.6.0")
    assert release["repositoryOpts"] == {"repo": "https://helm.sourcegraph.com/release"}
    assert release["namespace"] == "sourcegraph" and release["allowNullValues"] is True
    values = release_values(pulumi_mocks)
    assert "values" not in release
    assert values["storageClass"] == {"create": False, "name": "ebs-gp3"}
    annotations = values["frontend"]["ingress"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/healthz"
    assert "kubernetes.io/ingress.class" in annotations and annotations["kubernetes.io/ingress.class"] is None
    for kind in (RDS, REDIS, "aws:s3/bucket:Bucket", ASSOCIATION, "aws:iam/role:Role"):
        assert pulumi_mocks.by_type(kind) == []
    assert "enabled" not in values["pgsql"] and "enabled" not in values["blobstore"]


def test_an_internal_alb_admits_every_block_of_the_vpc_by_default(pulumi_mocks: SgarchMocks) -> None:
    # Without the annotation the AWS Load Balancer Controller opens the ALB to 0.0.0.0/0.
    plan(pulumi_mocks)
    annotations = release_values(pulumi_mocks)["frontend"]["ingress"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == ",".join(NETWORK["vpc_cidrs"])


def test_listed_inbound_cidrs_replace_the_vpcs(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, inbound_cidrs=("10.0.0.0/8", "192.168.0.0/16"))
    annotations = release_values(pulumi_mocks)["frontend"]["ingress"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == "10.0.0.0/8,192.168.0.0/16"


def test_an_internal_alb_with_no_sources_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        build(SourcegraphReleaseArgs, None, estimate=estimate_for_tier(Tier.XS), cluster_name="sg")
    assert str(info.value) == (
        "inbound_cidrs must be set, or vpc_cidrs, for an internal load balancer (got None): pass the VPC's "
        "blocks (Network.vpc_cidrs) or your networks; the AWS Load Balancer Controller would otherwise admit "
        "0.0.0.0/0."
    )


def test_https_ingress(pulumi_mocks: SgarchMocks) -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    plan(pulumi_mocks, certificate_arn=cert, host="sourcegraph.example.com")
    ingress = release_values(pulumi_mocks)["frontend"]["ingress"]
    assert ingress["host"] == "sourcegraph.example.com" and ingress["ingressClassName"] == "alb"
    annotations = ingress["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == cert
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTP": 80}, {"HTTPS": 443}]'


def test_rds_is_protected_encrypted_and_snapshotted(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, postgres=True)
    instances = {r.name: r for r in pulumi_mocks.by_type(RDS)}
    assert set(instances) == {"sg-pgsql", "sg-codeintel-db", "sg-codeinsights-db"}
    for name, record in instances.items():
        inputs = record.inputs
        assert inputs["engine"] == "postgres" and inputs["engineVersion"] == "16"
        assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"] == NETWORK["kms_key_arn"]
        assert inputs["deletionProtection"] is True
        assert inputs["skipFinalSnapshot"] is False and inputs["finalSnapshotIdentifier"] == f"{name}-final"
        assert inputs["backupRetentionPeriod"] >= 7
        assert inputs["iamDatabaseAuthenticationEnabled"] is True
        assert inputs["publiclyAccessible"] is False
        assert inputs["manageMasterUserPassword"] is True and "password" not in inputs
        assert record.options.protect and record.options.retain_on_delete
    params = {
        p["name"]: p["value"]
        for p in pulumi_mocks.one("aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]
    }
    assert params["rds.force_ssl"] == "1"
    assert set(params["rds.allowed_extensions"].split(",")) >= {"citext", "pg_trgm", "pgcrypto", "vector"}
    values = release_values(pulumi_mocks)
    for key in ("pgsql", "codeIntelDB", "codeInsightsDB"):
        assert values[key]["enabled"] is False
        assert values[key]["auth"]["sslmode"] == "require" and values[key]["auth"]["password"] == ""
        # IAM tokens log in a user other than the master user `sg`: rds_iam would lock the master out.
        assert values[key]["auth"]["user"] == "sourcegraph"
    connect = json.loads(pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert connect["Statement"][0]["Action"] == ["rds-db:connect"]
    resource_ids = sorted(r.outputs["resourceId"] for r in instances.values())
    assert sorted(connect["Statement"][0]["Resource"]) == sorted(
        f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{rid}/sourcegraph" for rid in resource_ids
    )
    accounts = {r.inputs["serviceAccount"] for r in pulumi_mocks.by_type(ASSOCIATION)}
    assert accounts == set(IDENTITY_SERVICE_ACCOUNTS.values())


def test_iam_auth_env_reaches_every_process_that_opens_a_database_connection(
    pulumi_mocks: SgarchMocks,
) -> None:
    # Sourcegraph reads PG_CONNECTION_UPDATER in each process (internal/database/dbconn), not from
    # frontend. Frontend and migrator get PG* from the chart; gitserver, searcher (symbols) and the workers
    # connect with the DSN frontend hands out. Each needs the variable and a role allowed to mint tokens.
    plan(pulumi_mocks, postgres=True)
    values = release_values(pulumi_mocks)
    for key in DATABASE_CLIENTS:
        assert values[key]["env"]["PG_CONNECTION_UPDATER"] == {"value": "EC2_ROLE_CREDENTIALS"}, key
        assert values[key]["env"]["AWS_STS_REGIONAL_ENDPOINTS"] == {"value": "regional"}, key
        if key != "migrator":  # an init container of the frontend pod, under frontend's account
            assert key in IDENTITY_SERVICE_ACCOUNTS, key
    connect = pulumi_mocks.one("aws:iam/rolePolicy:RolePolicy", "sg-rds-connect").inputs
    role = pulumi_mocks.one("aws:iam/role:Role", "sg-aws-role")
    assert connect["role"] == role.outputs["name"]
    assert {r.inputs["roleArn"] for r in pulumi_mocks.by_type(ASSOCIATION)} == {role.outputs["arn"]}


def test_iam_auth_grants_rds_iam_in_jobs_the_release_waits_for(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, postgres=True)
    instances = {r.name: r for r in pulumi_mocks.by_type(RDS)}
    jobs = {r.name: r for r in pulumi_mocks.by_type(JOB)}
    assert set(jobs) == {f"{name}-iam-grant" for name in instances}
    release = pulumi_mocks.one(RELEASE)
    # The release starts only once every grant has completed (Pulumi awaits a Job until it completes).
    assert {job.urn for job in jobs.values()} <= set(release.options.depends_on)
    secrets = {s.inputs["metadata"]["name"]: s for s in pulumi_mocks.by_type(SECRET)}
    master_arns = set()
    for name, instance in instances.items():
        job = jobs[f"{name}-iam-grant"]
        assert job.inputs["metadata"]["namespace"] == "sourcegraph"
        # A failed grant is replaced (run again) by the next `pulumi up` instead of being awaited forever.
        assert job.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}
        spec = job.inputs["spec"]
        assert 0 < spec["backoffLimit"] <= 5 and 0 < spec["activeDeadlineSeconds"] <= 900
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["image"] == "index.docker.io/library/postgres:16-alpine"
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e for e in container["env"]}
        assert env["PGHOST"]["value"] == instance.outputs["address"]
        assert (env["PGUSER"]["value"], env["PGDATABASE"]["value"]) == ("sg", "sg")
        assert env["PGSSLMODE"]["value"] == "require"
        ref = env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
        secret = secrets[ref["name"]]
        assert secret.inputs["metadata"]["namespace"] == "sourcegraph"
        assert set(secret.inputs["stringData"]) == {ref["key"]}
        assert "stringData" in secret.secret_inputs
        assert secret.urn in job.options.depends_on
        master_arns.add(instance.outputs["masterUserSecrets"][0]["secretArn"])
        script = "\n".join([*container["command"], *container.get("args", [])])
        for statement in (
            "CREATE ROLE sourcegraph LOGIN",
            "GRANT rds_iam TO sourcegraph",
            "GRANT rds_superuser TO sourcegraph",
        ):
            assert statement in script
        # Kubernetes expands $(VAR) and turns $$ into $ in command and args: neither may appear.
        assert "$$" not in script and "$(" not in script
    # The master password comes from the RDS-managed secret of each instance, and only into those Secrets.
    assert {i.args["secretId"] for i in pulumi_mocks.invoked(GET_SECRET_VERSION)} == master_arns
    values_text = pulumi_mocks.one(RELEASE).inputs["valueYamlFiles"][0].text
    assert all(
        s.inputs["stringData"][k] not in values_text for s in secrets.values() for k in s.inputs["stringData"]
    )


def test_iam_grant_image_follows_a_registry_mirror(pulumi_mocks: SgarchMocks) -> None:
    mirror = "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"
    plan(
        pulumi_mocks,
        postgres=True,
        image_repository=f"{mirror}/sourcegraph",
        postgres_client_image=f"{mirror}/library/postgres:16-alpine",
    )
    for job in pulumi_mocks.by_type(JOB):
        (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"{mirror}/library/postgres:16-alpine"


def test_rds_with_password_uses_kubernetes_secrets(pulumi_mocks: SgarchMocks) -> None:
    est = estimate(Workload(code_insights=False))
    pulumi_mocks.register_resource(RDS, lambda args, state: {"address": f"{args.name}.rds.example"})
    plan(pulumi_mocks, estimate=est, postgres=True, postgres_auth="secret", postgres_password="s3cret-pass")
    assert {r.name for r in pulumi_mocks.by_type(RDS)} == {"sg-pgsql", "sg-codeintel-db"}
    secrets = pulumi_mocks.by_type("kubernetes:core/v1:Secret")
    assert sorted(s.inputs["metadata"]["name"] for s in secrets) == [
        "codeintel-db-credentials",
        "pgsql-credentials",
    ]
    for secret in secrets:
        assert "stringData" in secret.secret_inputs
        # Exactly the keys the chart's `sourcegraph.databaseAuth` helper reads (a missing one fails the pod
        # with CreateContainerConfigError).
        assert set(secret.inputs["stringData"]) == set(CHART_TEMPLATE_KEYS["secrets"]["database_auth"])
        assert secret.inputs["stringData"]["sslmode"] == "require"
        assert secret.inputs["stringData"]["user"] == "sg"
    assert pulumi_mocks.by_type(JOB) == []
    values = release_values(pulumi_mocks)
    assert values["pgsql"] == {"enabled": False, "auth": {"existingSecret": "pgsql-credentials"}}
    assert values["codeInsightsDB"] == {"enabled": False}
    assert "PG_CONNECTION_UPDATER" not in values["frontend"].get("env", {})
    assert pulumi_mocks.by_type(ASSOCIATION) == []


def test_elasticache_uses_tls_and_encryption(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, redis=True)
    groups = {r.name: r for r in pulumi_mocks.by_type(REDIS)}
    assert set(groups) == {"sg-redis-cache", "sg-redis-store"}
    for record in groups.values():
        inputs = record.inputs
        assert inputs["transitEncryptionEnabled"] is True and inputs["atRestEncryptionEnabled"] is True
        assert inputs["engine"] == "redis" and float(inputs["engineVersion"]) >= 6.2
        # One replica in another zone with automatic failover, and an AUTH token (issue #16).
        assert inputs["clusterMode"] == "disabled" and inputs["numCacheClusters"] == 2
        assert inputs["automaticFailoverEnabled"] is True and inputs["multiAzEnabled"] is True
        assert inputs["authToken"] and inputs["authTokenUpdateStrategy"] == "ROTATE"
    assert groups["sg-redis-store"].options.protect
    values = release_values(pulumi_mocks)
    assert values["redisCache"]["enabled"] is False
    assert values["redisStore"]["connection"] == {"existingSecret": "redis-store-connection"}
    secret = pulumi_mocks.one("kubernetes:core/v1:Secret", "sg-redis-store-connection").inputs
    token = groups["sg-redis-store"].inputs["authToken"]
    assert secret["stringData"]["endpoint"].startswith(f"rediss://:{token}@master.sg-redis-store.")
    rule = pulumi_mocks.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "sg-redis-from-nodes"
    ).inputs
    assert rule["referencedSecurityGroupId"] == NETWORK["node_security_group_id"] and rule["fromPort"] == 6379


def test_s3_bucket_is_private_versioned_and_reached_through_pod_identity(pulumi_mocks: SgarchMocks) -> None:
    release = plan(pulumi_mocks, s3=True)
    bucket = pulumi_mocks.one("aws:s3/bucket:Bucket")
    assert bucket.options.protect and bucket.options.retain_on_delete
    block = pulumi_mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    versioning = pulumi_mocks.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(pulumi_mocks.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    values = release_values(pulumi_mocks)
    assert values["blobstore"] == {"enabled": False}
    bucket_name = pulumi_mocks.resolve(release.bucket_name)
    assert values["worker"]["env"]["SOURCEGRAPH_UPLOAD_BUCKET"] == {"value": bucket_name}
    assert values["gitserver"]["serviceAccount"] == {"create": True, "name": "sourcegraph-gitserver"}
    assert "SOURCEGRAPH_UPLOAD_AWS_ACCESS_KEY_ID" not in values["frontend"]["env"]
    assert len(pulumi_mocks.by_type(ASSOCIATION)) == len(IDENTITY_SERVICE_ACCOUNTS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"internet_facing": True}, r"^inbound_cidrs must be set when the load balancer is internet-facing"),
        (
            {"inbound_cidrs": ("0.0.0.0/0",)},
            r"^inbound_cidrs must be private ranges for an internal load balancer",
        ),
        (
            {"postgres": True, "postgres_auth": "secret"},
            r"^postgres_password must be set when postgres_auth is secret",
        ),
        (
            {"postgres_backup_retention_days": 3},
            r"^postgres_backup_retention_days must be greater than or equal to 7",
        ),
        (
            {
                "postgres": True,
                "image_repository": "registry.example.com/sourcegraph",
                **NETWORK,
            },
            r"^postgres_client_image must be set when image_repository is set and postgres_auth is iam "
            r"\(got None\): ",
        ),
    ],
)
def test_invalid_args(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(SourcegraphReleaseArgs, None, estimate=estimate_for_tier(Tier.XS), cluster_name="sg", **kwargs)


def test_managed_databases_need_the_network() -> None:
    with pytest.raises(ConfigError, match=r"^vpc_id must be set with redis"):
        build(
            SourcegraphReleaseArgs, None, estimate=estimate_for_tier(Tier.XS), cluster_name="sg", redis=True
        )


# RDS and ElastiCache identifiers: lowercase letters, digits, single hyphens, a letter first, no trailing hyphen.
IDENTIFIER = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")


@pytest.mark.parametrize(
    ("name", "max_length", "expected"),
    [
        ("sg-pgsql", 36, "sg-pgsql"),
        ("prod-sourcegraph-codeinsights-db", 36, "prod-sourcegraph-codeinsights-db"),
        ("Prod_EU.1-sourcegraph-pgsql", 36, "prod-eu-1-sourcegraph-pgsql"),
        ("1st--stack-sourcegraph-pgsql", 36, "sg-1st-stack-sourcegraph-pgsql"),
        ("production-sourcegraph-codeinsights-db", 36, "production-sourcegraph-codeinsights"),
    ],
)
def test_aws_identifier(name: str, max_length: int, expected: str) -> None:
    assert aws_identifier(name, max_length) == expected


@given(st.text(min_size=1, max_size=80), st.integers(min_value=3, max_value=63))
def test_aws_identifier_is_always_valid(name: str, max_length: int) -> None:
    ident = aws_identifier(name, max_length)
    assert IDENTIFIER.match(ident) and len(ident) <= max_length
    # Already valid names are kept, so existing instances and groups are not replaced.
    assert aws_identifier(ident, max_length) == ident


def test_short_names_keep_their_identifiers(pulumi_mocks: SgarchMocks) -> None:
    plan(pulumi_mocks, postgres=True, redis=True)
    prefixes = {r.name: r.inputs["identifierPrefix"] for r in pulumi_mocks.by_type(RDS)}
    assert prefixes == {
        "sg-pgsql": "sg-pgsql-",
        "sg-codeintel-db": "sg-codeintel-db-",
        "sg-codeinsights-db": "sg-codeinsights-db-",
    }
    groups = {r.name: r.inputs for r in pulumi_mocks.by_type(REDIS)}
    assert groups["sg-redis-cache"]["replicationGroupId"] == "sg-redis-cache"
    assert groups["sg-redis-store"]["finalSnapshotIdentifier"] == "sg-redis-store-final"


def test_long_and_capitalised_stack_names_give_valid_identifiers(pulumi_mocks: SgarchMocks) -> None:
    name = "Sourcegraph_Production-EU-1-sourcegraph"
    args = SourcegraphReleaseArgs(
        cluster_name="sg", estimate=estimate_for_tier(Tier.S), postgres=True, redis=True, **NETWORK
    )
    pulumi_mocks.run(lambda: SourcegraphRelease(name, args))
    for record in pulumi_mocks.by_type(RDS):
        prefix = record.inputs["identifierPrefix"]
        # The provider appends 26 characters; RDS allows 63.
        assert len(prefix) + 26 <= 63 and IDENTIFIER.match(prefix.rstrip("-"))
        assert IDENTIFIER.match(record.inputs["finalSnapshotIdentifier"])
    ids = [r.inputs["replicationGroupId"] for r in pulumi_mocks.by_type(REDIS)]
    # Plain truncation to 40 characters made both "...-sourcegraph-redis-" and clash.
    assert sorted(ids) == [
        "sourcegraph-production-eu-1-redis-cache",
        "sourcegraph-production-eu-1-redis-store",
    ]
    assert all(len(i) <= 40 and IDENTIFIER.match(i) for i in ids)
    store = pulumi_mocks.one(REDIS, f"{name}-redis-store").inputs
    assert IDENTIFIER.match(store["finalSnapshotIdentifier"])
