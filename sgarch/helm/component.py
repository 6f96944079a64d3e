"""The ``SourcegraphRelease`` component: Sourcegraph's official Helm chart, and the AWS services it may use.

What it creates, for ``SourcegraphRelease("sg", args)`` on a cluster's Kubernetes provider:

- ``sg-namespace`` and ``sg-sourcegraph``: the namespace and the ``sourcegraph`` chart, pinned, with the
  estimate's resources, the cluster's StorageClass and an ALB ingress (internal unless asked otherwise);
- with ``postgres``: ``sg-pgsql``, ``sg-codeintel-db`` and ``sg-codeinsights-db`` on RDS for PostgreSQL 16,
  their parameter group, subnet group and security group; with ``postgres_auth=secret``, the chart's
  ``sg-<db>-credentials`` Secrets; with ``postgres_auth=iam``, per database a ``sg-<db>-master-password``
  Secret (read from the secret RDS manages) and the ``sg-<db>-iam-grant`` Job that creates the
  ``sourcegraph`` role and grants it ``rds_iam`` (``rds_iam.py``), which the release waits for;
- with ``redis``: ``sg-redis-cache`` and ``sg-redis-store`` on ElastiCache (a replica each, automatic
  failover), their AUTH tokens in Secrets Manager (``sg-redis-<cache|store>-auth``) and the Kubernetes
  Secrets ``sg-redis-<cache|store>-connection`` that hand Sourcegraph each endpoint with its token;
- with ``s3``: ``sg-objects`` and its access block, versioning, encryption, TLS-only policy and lifecycle;
- with ``postgres`` and ``postgres_log_retention_days``: the ``sg-rds-log-retention`` Job, its service account
  (``sg-rds-logs-account``), role, policy and Pod Identity association, which give the RDS log export groups
  that retention (``rds_logs.py``);
- with ``alb_access_logs`` and no ``alb_access_logs_bucket``: ``sg-alb-logs``, the bucket of the ALB's access
  logs (``sgarch.alb_logs``), which the release waits for;
- when S3 or IAM database auth need AWS credentials: ``sg-aws-role`` and one Pod Identity association per
  Sourcegraph service account (``sg-pod-identity-<account>``).

Sourcegraph documents IRSA for its pods; sgarch uses EKS Pod Identity, which hands the same role to the
same service accounts through the AWS SDK's container-credentials provider, and needs no OIDC provider and
no service-account annotations (keys the chart's values do not declare).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from sgarch import alb_logs
from sgarch.component import Component
from sgarch.eks import iam
from sgarch.eks.versions import SOURCEGRAPH_CHART_REPOSITORY
from sgarch.helm import managed, rds_iam, rds_logs
from sgarch.helm.args import SourcegraphReleaseArgs
from sgarch.helm.values import (
    DATABASES,
    REDIS_SECRETS,
    IngressOptions,
    PostgresOptions,
    RedisOptions,
    S3Options,
    compose_values,
    database_secret,
    identity_service_accounts,
    redis_endpoint,
    secret_name,
)
from sgarch.migrate.k8s.jobs import DEFAULT_AWS_CLI_IMAGE

__all__ = ["SourcegraphRelease", "values_yaml"]


def values_yaml(values: dict[str, Any]) -> str:
    """The chart values as the YAML file Helm receives (keys sorted, nulls kept)."""
    return yaml.safe_dump(values, sort_keys=True)


_TYPE = "sgarch:helm:SourcegraphRelease"


def _network(
    args: SourcegraphReleaseArgs,
) -> tuple[pulumi.Input[str], pulumi.Input[Sequence[str]], pulumi.Input[str]]:
    # Only read when postgres or redis is on, and the args validator requires all three then.
    return (
        args.vpc_id if args.vpc_id is not None else "",
        args.private_subnet_ids if args.private_subnet_ids is not None else [],
        args.node_security_group_id if args.node_security_group_id is not None else "",
    )


def _redis_endpoint(parts: list[Any]) -> str:
    host, token = parts
    return redis_endpoint(str(host), 6379, str(token))


def _password_of(secret_string: str) -> str:
    password: str = json.loads(secret_string)["password"]
    return password


class SourcegraphRelease(Component):
    """Sourcegraph's Helm chart on EKS, with RDS, ElastiCache and S3 as options.

    Pass the cluster's Kubernetes provider in ``opts`` (``providers=[cluster.provider]``). Outputs:
    ``namespace``, ``values`` (the rendered chart values, secret when they carry a password),
    ``bucket_name``, ``database_endpoints`` and ``database_resource_ids`` (empty when the options are off);
    ``chart`` is the Helm release, for what must run after it (a data migration).
    """

    namespace: str
    values: pulumi.Output[dict[str, Any]]
    bucket_name: pulumi.Output[str]
    database_endpoints: pulumi.Output[dict[str, str]]
    database_resource_ids: pulumi.Output[dict[str, str]]
    chart: k8s.helm.v3.Release

    ARCHITECTURE = "eks"

    def __init__(
        self, name: str, args: SourcegraphReleaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_TYPE, name, args, opts)
        child = self._opts()
        est = args.estimate
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        namespace = k8s.core.v1.Namespace(self._n("namespace"), metadata={"name": args.namespace}, opts=child)
        self.namespace = args.namespace
        depends: list[pulumi.Resource] = [namespace]

        hosts: pulumi.Output[dict[str, str]] = pulumi.Output.from_input({})
        vpc_id, subnet_ids, node_sg = _network(args)
        databases: dict[str, Any] = {}
        if args.postgres:
            wanted = {
                key: est.service(key)
                for key in DATABASES
                if key != "codeInsightsDB" or est.workload.code_insights
            }
            pg = managed.postgres(
                self._n,
                self._tagged,
                self,
                services=wanted,
                vpc_id=vpc_id,
                subnet_ids=subnet_ids,
                node_security_group_id=node_sg,
                kms_key_arn=args.kms_key_arn,
                instance_class=args.postgres_instance_class,
                multi_az=args.postgres_multi_az,
                backup_retention_days=args.postgres_backup_retention_days,
                password=args.postgres_password if args.postgres_auth == "secret" else None,
            )
            databases = pg.instances
            hosts = pulumi.Output.all(**{k: i.address for k, i in databases.items()}).apply(dict)
            if args.postgres_log_retention_days is not None:
                self._log_retention(args, args.postgres_log_retention_days, databases, namespace, region)
            if args.postgres_auth == "secret":
                options = PostgresOptions(hosts={}, auth="secret")
                password: pulumi.Output[str] = pulumi.Output.secret(args.postgres_password or "")
                for key, instance in databases.items():
                    depends.append(
                        k8s.core.v1.Secret(
                            self._n(secret_name(key)),
                            metadata={"name": secret_name(key), "namespace": args.namespace},
                            string_data=database_secret(instance.address, password, options),
                            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                        )
                    )
            else:
                image = args.postgres_client_image or rds_iam.DEFAULT_CLIENT_IMAGE
                for key, instance in databases.items():
                    depends.append(self._iam_grant(DATABASES[key], instance, pg.access, namespace, image))

        redis_hosts: pulumi.Output[list[str]] = pulumi.Output.from_input([])
        if args.redis:
            rd = managed.redis(
                self._n,
                self._tagged,
                self,
                services={key: est.service(key) for key in ("redisCache", "redisStore")},
                vpc_id=vpc_id,
                subnet_ids=subnet_ids,
                node_security_group_id=node_sg,
                kms_key_arn=args.kms_key_arn,
                node_type=args.redis_node_type,
            )
            redis_hosts = pulumi.Output.all(
                rd.cache.primary_endpoint_address, rd.store.primary_endpoint_address
            )
            for key, group, token in (
                ("redisCache", rd.cache, rd.cache_auth_token),
                ("redisStore", rd.store, rd.store_auth_token),
            ):
                endpoint: pulumi.Output[str] = pulumi.Output.secret(
                    pulumi.Output.all(group.primary_endpoint_address, token).apply(_redis_endpoint)
                )
                depends.append(
                    k8s.core.v1.Secret(
                        self._n(REDIS_SECRETS[key]),
                        metadata={"name": REDIS_SECRETS[key], "namespace": args.namespace},
                        string_data={"endpoint": endpoint},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                    )
                )

        bucket_name: pulumi.Output[str] = pulumi.Output.from_input("")
        bucket_arn: pulumi.Output[str] | None = None
        if args.s3:
            bucket = managed.bucket(self._n, self._tagged, self)
            bucket_name, bucket_arn = bucket.bucket, bucket.arn

        log_bucket: pulumi.Output[str | None] = pulumi.Output.from_input(args.alb_access_logs_bucket)
        if args.alb_access_logs and not args.alb_access_logs_bucket:
            logs = alb_logs.log_bucket(self._n, self._tagged(self._n("alb-logs")), self)
            log_bucket = logs.bucket.bucket
            # The controller turns logging on when it creates the ALB, and AWS then checks it may write.
            depends.append(logs.policy)

        accounts = identity_service_accounts(
            PostgresOptions(hosts={}, auth=args.postgres_auth) if args.postgres else None,
            S3Options(bucket="", region="") if args.s3 else None,
        )
        if accounts:
            depends.extend(self._pod_identity(args, accounts, bucket_arn, databases, region, child))

        def render(parts: list[Any]) -> dict[str, Any]:
            pg_hosts, redis_pair, bucket_id, region_name, certificate, vpc_cidrs, logs_bucket = parts
            return compose_values(
                est,
                storage_class_name=args.storage_class_name,
                ingress=IngressOptions(
                    internet_facing=args.internet_facing,
                    certificate_arn=certificate,
                    host=args.host,
                    # Never left empty: the controller's own default is 0.0.0.0/0.
                    inbound_cidrs=args.inbound_cidrs or tuple(vpc_cidrs or ()),
                    access_logs=args.alb_access_logs,
                    access_logs_bucket=logs_bucket,
                    deletion_protection=args.alb_deletion_protection,
                ),
                postgres=PostgresOptions(hosts=pg_hosts, auth=args.postgres_auth) if args.postgres else None,
                redis=RedisOptions(cache_host=redis_pair[0], store_host=redis_pair[1])
                if args.redis
                else None,
                s3=S3Options(bucket=bucket_id, region=region_name) if args.s3 else None,
                image_repository=args.image_repository,
                maintenance=args.maintenance,
            )

        values = pulumi.Output.all(
            hosts, redis_hosts, bucket_name, region, args.certificate_arn, args.vpc_cidrs, log_bucket
        ).apply(render)
        self.chart = k8s.helm.v3.Release(
            self._n("sourcegraph"),
            name="sourcegraph",
            chart="sourcegraph",
            version=args.chart_version,
            repository_opts={"repo": SOURCEGRAPH_CHART_REPOSITORY},
            namespace=args.namespace,
            # As a YAML file rather than `values`: Pulumi drops nulls from maps, and a null is how a chart
            # default (the nginx ingress-class annotation, which the ALB controller would obey) is deleted.
            value_yaml_files=values.apply(lambda v: [pulumi.StringAsset(values_yaml(v))]),
            allow_null_values=True,
            timeout=args.timeout_seconds,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.values = values
        self.bucket_name = bucket_name
        self.database_endpoints = hosts
        self.database_resource_ids = pulumi.Output.all(
            **{k: i.resource_id for k, i in databases.items()}
        ).apply(dict)
        self.register_outputs(
            {
                "values": self.values,
                "bucket_name": self.bucket_name,
                "database_endpoints": self.database_endpoints,
            }
        )

    def _iam_grant(
        self,
        short: str,
        instance: aws.rds.Instance,
        access: pulumi.Resource,
        namespace: k8s.core.v1.Namespace,
        image: str,
    ) -> k8s.batch.v1.Job:
        """The Job granting ``rds_iam`` on one instance, and the Secret handing it the master password."""
        arn = instance.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        secret_string = aws.secretsmanager.get_secret_version_output(
            secret_id=arn, opts=pulumi.InvokeOutputOptions(parent=self)
        ).secret_string
        # RDS keeps {"username": ..., "password": ...} in the secret it manages (and rotates: each
        # `pulumi up` reads the current version again).
        master_password: pulumi.Output[str] = pulumi.Output.secret(secret_string.apply(_password_of))
        password_secret = f"{short}-master-password"
        secret = k8s.core.v1.Secret(
            self._n(short, "master-password"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=password_secret, namespace=namespace.metadata.name, labels=rds_iam.LABELS
            ),
            type="Opaque",
            string_data={rds_iam.PASSWORD_KEY: master_password},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace], delete_before_replace=True),
        )
        spec = rds_iam.grant_job_spec(host=instance.address, password_secret=password_secret, image=image)
        return k8s.batch.v1.Job(
            self._n(short, "iam-grant"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{short}-iam-grant",
                namespace=namespace.metadata.name,
                labels=rds_iam.LABELS,
                # A failed grant is run again by the next `pulumi up` rather than awaited forever.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            # Plain data in the SDK's key names (rds_iam stays free of Pulumi); test_sdk_arguments checks them.
            spec=cast("k8s.batch.v1.JobSpecArgsDict", spec),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[namespace, secret, access],
                # A Job's pod template cannot change, so a new spec replaces it; its name is fixed.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )

    def _log_retention(
        self,
        args: SourcegraphReleaseArgs,
        days: int,
        databases: dict[str, aws.rds.Instance],
        namespace: k8s.core.v1.Namespace,
        region: pulumi.Output[str],
    ) -> k8s.batch.v1.Job:
        """The Job giving the RDS log export groups ``days`` of retention (``rds_logs.py`` says why a Job),
        with its own Pod Identity role that may touch those groups only."""
        child = self._opts()
        identifiers = pulumi.Output.all(*[db.identifier for db in databases.values()])
        account = aws.get_caller_identity_output(opts=self._invoke()).account_id
        role = aws.iam.Role(
            self._n("rds-logs-role"),
            # A prefix cut to fit IAM's 64 characters with the provider's 26-character suffix, as for the
            # databases' monitoring role: long stack names keep working.
            name_prefix=f"{managed.aws_identifier(self._n('rds-logs-role'), 64 - 26 - 1)}-",
            assume_role_policy=iam.pod_identity_trust_policy(),
            description="Sets the retention of the Sourcegraph databases' CloudWatch log groups",
            tags=self._tagged(self._n("rds-logs-role")),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            self._n("rds-logs-policy"),
            role=role.name,
            policy=pulumi.Output.all(region, account, identifiers).apply(
                lambda v: rds_logs.log_groups_policy(str(v[0]), str(v[1]), [str(i) for i in v[2]])
            ),
            opts=child,
        )
        account_sa = k8s.core.v1.ServiceAccount(
            self._n("rds-logs-account"),
            metadata={
                "name": rds_logs.SERVICE_ACCOUNT,
                "namespace": args.namespace,
                "labels": rds_logs.LABELS,
            },
            opts=self._opts(depends_on=[namespace]),
        )
        association = aws.eks.PodIdentityAssociation(
            self._n("pod-identity", rds_logs.SERVICE_ACCOUNT),
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=rds_logs.SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=self._tagged(self._n("pod-identity", rds_logs.SERVICE_ACCOUNT)),
            opts=child,
        )
        groups = identifiers.apply(
            lambda ids: " ".join(
                name for i in ids for name in rds_logs.log_group_names(str(i), managed.POSTGRES_LOG_EXPORTS)
            )
        )
        spec = rds_logs.retention_job_spec(
            log_groups=groups,
            retention_days=days,
            kms_key_arn=args.postgres_log_kms_key_arn or "",
            region=region,
            image=args.aws_cli_image or DEFAULT_AWS_CLI_IMAGE,
        )
        return k8s.batch.v1.Job(
            self._n(rds_logs.JOB_NAME),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=rds_logs.JOB_NAME,
                namespace=namespace.metadata.name,
                labels=rds_logs.LABELS,
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec=cast("k8s.batch.v1.JobSpecArgsDict", spec),
            opts=self._opts(
                # Pod Identity hands out credentials only once the association exists.
                depends_on=[namespace, account_sa, association, policy],
                # A Job's pod template cannot change; a new retention or instance replaces it, and it runs again.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )

    def _pod_identity(
        self,
        args: SourcegraphReleaseArgs,
        accounts: dict[str, str],
        bucket_arn: pulumi.Output[str] | None,
        databases: dict[str, aws.rds.Instance],
        region: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        role = aws.iam.Role(
            self._n("aws-role"),
            assume_role_policy=iam.pod_identity_trust_policy(),
            description="Sourcegraph pods: object storage and IAM database authentication",
            tags=self._tagged(self._n("aws-role")),
            opts=child,
        )
        made: list[pulumi.Resource] = []
        if bucket_arn is not None:
            made.append(
                aws.iam.RolePolicy(
                    self._n("s3-access"),
                    role=role.name,
                    policy=bucket_arn.apply(iam.s3_access_policy),
                    opts=child,
                )
            )
        if databases and args.postgres_auth == "iam":
            account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            users = pulumi.Output.all(region, account, *[db.resource_id for db in databases.values()]).apply(
                lambda v: [f"arn:aws:rds-db:{v[0]}:{v[1]}:dbuser:{rid}/{rds_iam.IAM_USER}" for rid in v[2:]]
            )
            made.append(
                aws.iam.RolePolicy(
                    self._n("rds-connect"),
                    role=role.name,
                    policy=users.apply(iam.rds_connect_policy),
                    opts=child,
                )
            )
        for account_name in accounts.values():
            made.append(
                aws.eks.PodIdentityAssociation(
                    self._n("pod-identity", account_name),
                    cluster_name=args.cluster_name,
                    namespace=args.namespace,
                    service_account=account_name,
                    role_arn=role.arn,
                    tags=self._tagged(self._n("pod-identity", account_name)),
                    opts=child,
                )
            )
        return made
