"""The ``DataMigration`` component: the Kubernetes Jobs that import a bundle into an EKS release, or export it.

What it creates, for ``DataMigration("mig", args)`` on a cluster's Kubernetes provider, in the release's
namespace:

- ``mig-role`` and ``mig-policy``: an IAM role for EKS Pod Identity, limited to the bundle's prefix and KMS
  key (``iam.py``), and ``mig-pod-identity``, which hands it to the ``sgarch-migrate`` service account
  (``mig-service-account``);
- ``mig-scripts``: a ConfigMap with the scripts the Jobs run, byte for byte those of the package;
- an import (``manifest_uri``): ``mig-import-<db>``, one Job per database (fetch and check the dump,
  ``pg_restore``, compare row counts), and ``mig-import-blobs`` when the bundle has blobs;
- an export (``export_uri``): ``mig-export``, one Job that dumps every database, tars the blobs, writes the
  manifest and uploads the bundle.

Ordering is the caller's: pass the Sourcegraph release in ``opts.depends_on``. The chart's frontend runs
Sourcegraph's schema migrations as it starts, and an import into a database the frontend has already
migrated, or an export while it writes, would be wrong; so the stack installs the release in maintenance
mode (every Sourcegraph service at zero replicas, the databases and blob storage running) and these Jobs
run after it. Pulumi waits for each Job to complete, so ``pulumi up`` succeeds only when every restore has
matched the source's row counts.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import Field, model_validator

from sgarch.component import Component
from sgarch.eks import iam as eks_iam
from sgarch.errors import ConfigError
from sgarch.helm.rds_iam import IAM_USER, MASTER_USER
from sgarch.helm.values import DATABASES
from sgarch.migrate.k8s import jobs
from sgarch.migrate.k8s.bundle import EksBundle, read_bundle
from sgarch.migrate.k8s.iam import migration_policy, partition_of
from sgarch.migrate.k8s.locations import parse_export_uri, parse_import_uri, parse_kms_key_arn
from sgarch.validation import ComponentArgs, StrInput

__all__ = ["DataMigration", "DataMigrationArgs"]

_TYPE = "sgarch:migrate:DataMigration"
_CHART_KEYS = {v: k for k, v in DATABASES.items()}


class DataMigrationArgs(ComponentArgs):
    """Arguments of :class:`DataMigration`. Exactly one of ``manifest_uri`` and ``export_uri`` is set."""

    cluster_name: StrInput
    """The EKS cluster, for the Pod Identity association. Required."""
    kms_key_arn: str
    """The KMS key that encrypts the bundle (the migration bucket's key). Required."""
    sourcegraph_version: str
    """The release running in the namespace; an import refuses a bundle of another release. Required."""
    manifest_uri: str | None = None
    """Import the bundle whose manifest is ``s3://bucket/prefix/manifest.json``. Default: none (set this or
    ``export_uri``)."""
    export_uri: str | None = None
    """Export the release to ``s3://bucket/prefix``. Default: none (set this or ``manifest_uri``)."""
    namespace: str = "sourcegraph"
    """The release's namespace. Default: ``sourcegraph``."""
    databases: tuple[str, ...] = jobs.DATABASE_NAMES
    """The databases the release runs (short names). Default: all three."""
    postgres: Literal["in-cluster", "iam", "secret"] = "in-cluster"
    """Where the databases are: the chart's own pods, or RDS with IAM or password authentication (the
    release's ``postgres_auth``). The Jobs log in as the user Sourcegraph logs in as, so restored objects
    belong to it. Default: in-cluster."""
    database_hosts: Any = None
    """RDS addresses by short name (an Output of a dict). Required for RDS. Default: none (in-cluster
    databases need none)."""
    database_resource_ids: Any = None
    """RDS resource ids by short name, for ``rds-db:connect``. Required with ``postgres=iam``. Default:
    none."""
    blob_bucket: StrInput | None = None
    """The release's S3 bucket, when Sourcegraph keeps blobs in S3. Default: the chart's blobstore."""
    storage_class_name: str = "ebs-gp3"
    """StorageClass of the Jobs' scratch volumes. Default: the one ``EksCluster`` creates."""
    export_scratch_gib: int = Field(default=200, ge=4, le=65536)
    """Scratch volume of an export: room for every dump and the blob tar at once. An import sizes its
    volumes from the manifest. Default: 200 GiB."""
    postgres_client_image: str = jobs.DEFAULT_POSTGRES_CLIENT_IMAGE
    """PostgreSQL client image, of the servers' major version (16). Default: Docker Hub's postgres:16-bookworm."""
    aws_cli_image: str = jobs.DEFAULT_AWS_CLI_IMAGE
    """AWS CLI v2 image. Default: AWS's on ECR Public."""
    timeout_seconds: int = Field(default=jobs.ACTIVE_DEADLINE_SECONDS, ge=600)
    """How long a Job may run before Kubernetes fails it (and ``pulumi up`` with it). Default: 6 hours."""

    @model_validator(mode="after")
    def _check(self) -> DataMigrationArgs:
        if (self.manifest_uri is None) == (self.export_uri is None):
            raise ConfigError(
                "manifest_uri",
                "set, or export_uri, but not both",
                self.manifest_uri,
                "an import and an export are separate runs",
            )
        if self.manifest_uri is not None:
            parse_import_uri(self.manifest_uri, "manifest_uri")
        if self.export_uri is not None:
            parse_export_uri(self.export_uri, "export_uri")
        parse_kms_key_arn(self.kms_key_arn, "kms_key_arn")
        unknown = [d for d in self.databases if d not in jobs.DATABASE_NAMES]
        if unknown or not self.databases:
            raise ConfigError(
                "databases", f"some of {', '.join(jobs.DATABASE_NAMES)}", list(self.databases), "name them"
            )
        if self.postgres != "in-cluster" and self.database_hosts is None:
            raise ConfigError(
                "database_hosts", "set with RDS", None, "pass SourcegraphRelease.database_endpoints"
            )
        if self.postgres == "iam" and self.database_resource_ids is None:
            raise ConfigError(
                "database_resource_ids",
                "set with IAM authentication",
                None,
                "pass the instances' resource ids",
            )
        return self


class DataMigration(Component):
    """Import a bundle into an EKS release, or export the release, with Kubernetes Jobs.

    Outputs: ``job_names`` (for ``kubectl logs job/<name>``), ``role_arn``.
    """

    job_names: list[str]
    role_arn: pulumi.Output[str]

    ARCHITECTURE = "eks"

    def __init__(
        self, name: str, args: DataMigrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_TYPE, name, args, opts)
        # Children do not inherit the component's depends_on, and the Jobs are what must wait for the release.
        after = opts.depends_on if opts is not None and opts.depends_on is not None else []
        self._after: list[Any] = list(after) if isinstance(after, (list, tuple)) else [after]
        self._args = args
        child = self._opts()
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        importing = args.manifest_uri is not None
        location = (
            parse_import_uri(args.manifest_uri) if args.manifest_uri else parse_export_uri(args.export_uri)
        )

        role = aws.iam.Role(
            self._n("role"),
            assume_role_policy=eks_iam.pod_identity_trust_policy(),
            description="sgarch migration Jobs: the bundle's prefix and key, and the release's data",
            tags=self._tagged(self._n("role")),
            opts=child,
        )
        users: pulumi.Output[list[str]] = pulumi.Output.from_input([])
        if args.postgres == "iam":
            account = aws.get_caller_identity_output(opts=invoke).account_id
            partition = partition_of(args.kms_key_arn)
            users = pulumi.Output.all(region, account, args.database_resource_ids).apply(
                lambda v: [
                    f"arn:{partition}:rds-db:{v[0]}:{v[1]}:dbuser:{v[2][_CHART_KEYS[db]]}/{IAM_USER}"
                    for db in args.databases
                ]
            )
        policy = aws.iam.RolePolicy(
            self._n("policy"),
            role=role.name,
            policy=pulumi.Output.all(users, args.blob_bucket).apply(
                lambda v: migration_policy(
                    bucket=location.bucket,
                    prefix=location.prefix,
                    kms_key_arn=args.kms_key_arn,
                    write=not importing,
                    release_bucket=v[1] or None,
                    db_user_arns=v[0],
                )
            ),
            opts=child,
        )
        association = aws.eks.PodIdentityAssociation(
            self._n("pod-identity"),
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=jobs.SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=self._tagged(self._n("pod-identity")),
            opts=child,
        )
        # The namespace is the release's: the objects in it wait for the release, as the Jobs do.
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=self._after)
        account_sa = k8s.core.v1.ServiceAccount(
            self._n("service-account"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=jobs.SERVICE_ACCOUNT, namespace=args.namespace, labels=jobs.LABELS
            ),
            opts=in_namespace,
        )
        scripts = k8s.core.v1.ConfigMap(
            self._n("scripts"),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=jobs.SCRIPTS_CONFIG_MAP, namespace=args.namespace, labels=jobs.LABELS
            ),
            data=jobs.script_files(),
            opts=in_namespace,
        )
        self._needs: list[pulumi.Resource] = [policy, association, account_sa, scripts]
        self._region = region

        hosts: pulumi.Output[dict[str, str]] = pulumi.Output.from_input(args.database_hosts or {})
        bucket: pulumi.Output[str] = pulumi.Output.from_input(args.blob_bucket or "")
        self.job_names = []
        if args.manifest_uri is not None:
            loc = parse_import_uri(args.manifest_uri)
            body = aws.s3.get_object_output(bucket=loc.bucket, key=loc.manifest_key, opts=invoke).body
            bundle = body.apply(
                lambda text: read_bundle(
                    text, loc, databases=args.databases, sourcegraph_version=args.sourcegraph_version
                )
            )
            for db in args.databases:
                self._job(
                    f"import-{db}", jobs.import_job_name(db), self._import_spec(db, bundle, hosts, loc.bucket)
                )
            # The blob Job exists whatever the bundle holds (which resources exist cannot depend on a value
            # read at deploy time); with no blobs in the bundle it only says so and completes.
            blob_spec = pulumi.Output.all(bundle, bucket).apply(
                lambda v: self._blobs_spec(v[0], v[1], loc.bucket)
            )
            self._job("import-blobs", jobs.BLOBS_JOB, blob_spec)
        else:
            out = parse_export_uri(args.export_uri)
            spec = pulumi.Output.all(hosts, region, bucket, args.cluster_name).apply(
                lambda v: jobs.export_job_spec(
                    [self._connection(db, v[0]) for db in args.databases],
                    bucket=out.bucket,
                    prefix=out.prefix,
                    kms_key_arn=args.kms_key_arn,
                    blobs=jobs.BlobStorage(bucket=v[2] or None),
                    sourcegraph_version=args.sourcegraph_version,
                    cluster=v[3],
                    namespace=args.namespace,
                    postgres_image=args.postgres_client_image,
                    aws_image=args.aws_cli_image,
                    region=v[1],
                    storage_class=args.storage_class_name,
                    scratch=args.export_scratch_gib,
                    deadline=args.timeout_seconds,
                )
            )
            self._job("export", jobs.EXPORT_JOB, spec)
        self.role_arn = role.arn
        self.register_outputs({"job_names": self.job_names, "role_arn": self.role_arn})

    def _connection(self, db: str, hosts: dict[str, str]) -> jobs.DatabaseConnection:
        args = self._args
        if args.postgres == "in-cluster":
            return jobs.in_cluster_database(db)
        if args.postgres == "iam":
            return jobs.rds_database(db, hosts[_CHART_KEYS[db]], iam=True, user=IAM_USER, secret=None)
        return jobs.rds_database(
            db, hosts[_CHART_KEYS[db]], iam=False, user=MASTER_USER, secret=f"{db}-credentials"
        )

    def _import_spec(
        self, db: str, bundle: pulumi.Output[EksBundle], hosts: pulumi.Output[dict[str, str]], bucket: str
    ) -> pulumi.Output[Any]:
        args = self._args

        def spec(values: list[Any]) -> dict[str, Any]:
            resolved, addresses, region = values
            files = resolved.databases[db]
            return jobs.import_database_job_spec(
                self._connection(db, addresses),
                bucket=bucket,
                dump=files.dump,
                counts=files.counts,
                postgres_image=args.postgres_client_image,
                aws_image=args.aws_cli_image,
                region=region,
                storage_class=args.storage_class_name,
                deadline=args.timeout_seconds,
            )

        return pulumi.Output.all(bundle, hosts, self._region).apply(spec)

    def _blobs_spec(self, bundle: EksBundle, release_bucket: str, bucket: str) -> Any:
        args = self._args
        return jobs.import_blobs_job_spec(
            bundle.blobs,
            bucket=bucket,
            target=jobs.BlobStorage(bucket=release_bucket or None),
            postgres_image=args.postgres_client_image,
            aws_image=args.aws_cli_image,
            storage_class=args.storage_class_name,
            deadline=args.timeout_seconds,
        )

    def _job(self, part: str, job_name: str, spec: pulumi.Output[Any]) -> None:
        self.job_names.append(job_name)
        wait = f"{self._args.timeout_seconds // 60 + 15}m"
        k8s.batch.v1.Job(
            self._n(part),
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=job_name,
                namespace=self._args.namespace,
                labels=jobs.LABELS,
                # A failed Job is run again by the next `pulumi up` instead of being awaited forever.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec=cast("k8s.batch.v1.JobSpecArgsDict", spec),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*self._needs, *self._after],
                # A Job's pod template cannot change, so a new spec (a new bundle) replaces it; its name is fixed.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait),
            ),
        )
