"""Compose the Sourcegraph chart's values for EKS: the estimate's resources plus storage, ingress and the
managed-service options. Pure: endpoints arrive as plain strings (the component resolves them first).

Every key is one of the chart's own: declared in its values.yaml (``tests/data/chart-keys.txt``) or read
by its templates (``tests/data/chart-template-keys.yaml``); annotation and env keys are free-form maps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sgarch.helm.rds_iam import DATABASE, IAM_USER, MASTER_USER
from sgarch.sizing.estimator import Estimate
from sgarch.sizing.helm_values import SCALABLE, render_helm_values

__all__ = [
    "DATABASES",
    "DATABASE_CLIENT_SERVICES",
    "IDENTITY_SERVICE_ACCOUNTS",
    "LOAD_BALANCER_ATTRIBUTES",
    "REDIS_SECRETS",
    "IngressOptions",
    "PostgresOptions",
    "RedisOptions",
    "S3Options",
    "compose_values",
    "database_secret",
    "identity_service_accounts",
    "load_balancer_attributes",
    "redis_endpoint",
    "secret_name",
]

DATABASES: dict[str, str] = {
    "pgsql": "pgsql",
    "codeIntelDB": "codeintel-db",
    "codeInsightsDB": "codeinsights-db",
}
"""Chart key -> short name of each Postgres database."""

IDENTITY_SERVICE_ACCOUNTS: dict[str, str] = {
    "frontend": "sourcegraph-frontend",
    "gitserver": "sourcegraph-gitserver",
    "searcher": "sourcegraph-searcher",
    "worker": "sourcegraph-worker",
    "preciseCodeIntel": "sourcegraph-precise-code-intel",
    "syntacticCodeIntel": "sourcegraph-syntactic-code-intel",
}
"""Service accounts of the pods that reach S3 or RDS with AWS credentials (frontend's is the chart's own).
Sourcegraph's object-storage docs name frontend, worker, precise and syntactic code intel, gitserver and
searcher; the same pods open database connections (:data:`DATABASE_CLIENT_SERVICES`)."""

DATABASE_CLIENT_SERVICES = (
    "frontend",
    "migrator",
    "gitserver",
    "searcher",
    "worker",
    "preciseCodeIntel",
    "syntacticCodeIntel",
)
"""Chart keys of the containers that open Postgres connections, so each needs the IAM-auth environment.

Sourcegraph reads ``PG_CONNECTION_UPDATER`` in every process from its own environment: a package-level
``env.Get`` in ``internal/database/dbconn/connection_updater.go``, applied to each new connection by
``extendedDriver.Open`` in ``internal/database/dbconn/open.go`` (github.com/sourcegraph/sourcegraph-public-snapshot).
Only frontend and migrator get the ``PG*`` variables from the chart; gitserver, searcher (which now runs
symbols), worker and the precise and syntactic code-intel workers connect with the DSN frontend hands them
(``connections.EnsureNewFrontendDB``, e.g. ``cmd/gitserver/shared/shared.go``,
``cmd/worker/shared/init/db/db.go``), and must mint their own tokens. Migrator runs in frontend's pod, under
its service account. Sourcegraph's docker-compose RDS example sets the variable on the same services."""

REDIS_SECRETS: dict[str, str] = {
    "redisCache": "redis-cache-connection",
    "redisStore": "redis-store-connection",
}
"""Chart key -> Kubernetes Secret holding that Redis's endpoint (key ``endpoint``), AUTH token included.

The chart reads ``<key>.connection.existingSecret`` in its ``sourcegraph.redisConnection`` helper
(``templates/_helpers.tpl``; ``tests/data/chart-template-keys.yaml``), and its external-Redis example
recommends a Secret whenever the endpoint needs authentication (deploy-sourcegraph-helm,
``charts/sourcegraph/examples/external-redis/README.md``)."""

# Chart keys whose `env` map exists in the chart's values.yaml; the S3 settings go there.
_S3_ENV_SERVICES = ("frontend", "worker", "preciseCodeIntel")
_RDS_IAM_ENV = {
    "PG_CONNECTION_UPDATER": {"value": "EC2_ROLE_CREDENTIALS"},
    "AWS_STS_REGIONAL_ENDPOINTS": {"value": "regional"},
}
_T = TypeVar("_T")


@dataclass(frozen=True)
class IngressOptions:
    """The ALB in front of the frontend. ``certificate_arn`` None means HTTP only (tests, internal demos).

    ``access_logs`` and ``deletion_protection`` None leave those ALB attributes alone (off on a new ALB);
    True or False set them. With ``access_logs``, the logs go to ``access_logs_bucket``, whose policy must let
    ELB log delivery write ``AWSLogs/<account>/``.
    """

    internet_facing: bool = False
    certificate_arn: str | None = None
    host: str | None = None
    inbound_cidrs: tuple[str, ...] = ()
    access_logs: bool | None = None
    access_logs_bucket: str | None = None
    deletion_protection: bool | None = None


LOAD_BALANCER_ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"
"""The ingress annotation through which the AWS Load Balancer Controller sets ELBv2 load balancer attributes:
``key=value`` pairs joined by commas, named as in the ELBv2 API's ``LoadBalancerAttribute``."""


def _flag(value: bool) -> str:
    return "true" if value else "false"


def load_balancer_attributes(options: IngressOptions) -> dict[str, str]:
    """The ELBv2 attributes ``options`` set, in annotation order (empty when both are left alone).

    Off is written out as ``false``, never left out: the controller changes only the attributes the
    annotation names, so dropping one would leave the ALB as it was (kubernetes-sigs/aws-load-balancer-
    controller#1868).
    """
    attributes: dict[str, str] = {}
    if options.access_logs is not None:
        attributes["access_logs.s3.enabled"] = _flag(options.access_logs)
        if options.access_logs and options.access_logs_bucket:
            # No prefix: the bucket policy lets ELB write under AWSLogs/<account>/ at the bucket's root.
            attributes["access_logs.s3.bucket"] = options.access_logs_bucket
    if options.deletion_protection is not None:
        attributes["deletion_protection.enabled"] = _flag(options.deletion_protection)
    return attributes


@dataclass(frozen=True)
class PostgresOptions:
    """RDS endpoints by chart key, and how Sourcegraph authenticates: IAM tokens, or a Kubernetes Secret
    per database (``<short name>-credentials``, see :func:`database_secret`).

    ``user`` defaults to the role the grant Job creates (``sourcegraph``) with ``iam``, and to the master
    user ``sg`` with ``secret``.
    """

    hosts: dict[str, str]
    auth: Literal["iam", "secret"] = "iam"
    port: int = 5432
    database: str = DATABASE
    user: str | None = None

    @property
    def login(self) -> str:
        """The database user Sourcegraph logs in as."""
        if self.user is not None:
            return self.user
        return IAM_USER if self.auth == "iam" else MASTER_USER


@dataclass(frozen=True)
class RedisOptions:
    """ElastiCache primary endpoints (host names) for the cache and the store.

    ``auth`` (the default): the groups require an AUTH token, so the chart reads each endpoint, token
    included, from the Secrets in :data:`REDIS_SECRETS` (see :func:`redis_endpoint`), never from the values.
    """

    cache_host: str
    store_host: str
    port: int = 6379
    auth: bool = True


def redis_endpoint(host: str, port: int, token: str | None) -> str:
    """The endpoint Sourcegraph dials: ``rediss://`` (TLS) with the AUTH token as the URL's password.

    Sourcegraph's external-Redis docs take ``host:port`` or a Redis URL in the IANA scheme, password in the
    user-info part, "e.g., redis://:mypassword@host:6379/2" (deploy-sourcegraph-helm
    ``charts/sourcegraph/examples/external-redis/README.md``; sourcegraph/docs
    ``self-hosted/external-services/redis.mdx``); ``rediss`` is that scheme's TLS form. Tokens are letters
    and digits, so nothing needs escaping.
    """
    auth = f":{token}@" if token else ""
    return f"rediss://{auth}{host}:{port}"


@dataclass(frozen=True)
class S3Options:
    """Sourcegraph's single bucket."""

    bucket: str
    region: str


def secret_name(chart_key: str) -> str:
    """Name of the Kubernetes Secret holding one database's credentials."""
    return f"{DATABASES[chart_key]}-credentials"


def database_secret(host: _T, password: _T, options: PostgresOptions) -> dict[str, _T | str]:
    """The data of one database's ``<db>.auth.existingSecret``: exactly the keys the chart's
    ``sourcegraph.databaseAuth`` helper reads (``templates/_helpers.tpl``; ``tests/data/chart-template-keys.yaml``).
    A key it reads and the Secret lacks stops the pods with CreateContainerConfigError."""
    return {
        "database": options.database,
        "host": host,
        "password": password,
        "port": str(options.port),
        "user": options.login,
        "sslmode": "require",
    }


def identity_service_accounts(postgres: PostgresOptions | None, s3: S3Options | None) -> dict[str, str]:
    """The service accounts that need the Sourcegraph AWS role (empty when no option needs AWS credentials)."""
    needs = s3 is not None or (postgres is not None and postgres.auth == "iam")
    return dict(IDENTITY_SERVICE_ACCOUNTS) if needs else {}


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _ingress(options: IngressOptions) -> dict[str, Any]:
    https = options.certificate_arn is not None
    annotations: dict[str, Any] = {
        # The chart's nginx class annotation would make the ALB controller ignore the ingress.
        "kubernetes.io/ingress.class": None,
        "alb.ingress.kubernetes.io/scheme": "internet-facing" if options.internet_facing else "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": "/healthz",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]'
        if https
        else '[{"HTTP": 80}]',
    }
    if https:
        annotations["alb.ingress.kubernetes.io/certificate-arn"] = options.certificate_arn
        annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
        annotations["alb.ingress.kubernetes.io/ssl-policy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    if options.inbound_cidrs:
        annotations["alb.ingress.kubernetes.io/inbound-cidrs"] = ",".join(options.inbound_cidrs)
    attributes = load_balancer_attributes(options)
    if attributes:
        annotations[LOAD_BALANCER_ATTRIBUTES] = ",".join(f"{k}={v}" for k, v in attributes.items())
    ingress: dict[str, Any] = {"enabled": True, "ingressClassName": "alb", "annotations": annotations}
    if options.host:
        ingress["host"] = options.host
    return ingress


def compose_values(
    est: Estimate,
    *,
    storage_class_name: str,
    ingress: IngressOptions | None = None,
    postgres: PostgresOptions | None = None,
    redis: RedisOptions | None = None,
    s3: S3Options | None = None,
    image_repository: str | None = None,
    maintenance: bool = False,
) -> dict[str, Any]:
    """The chart values for ``est`` on EKS with the given options (a new dict each call).

    ``image_repository`` replaces the chart's registry prefix for every Sourcegraph image (a mirror).
    ``maintenance`` scales every Sourcegraph service to zero and leaves the databases, Redis and blob storage
    running: the state a migration imports into or exports from (the frontend would otherwise run schema
    migrations on an empty database, and the services would write during the copy).
    """
    values = render_helm_values(est)
    if maintenance:
        for key in SCALABLE:
            _merge(values, {key: {"replicaCount": 0}})
    if image_repository is not None:
        _merge(values, {"sourcegraph": {"image": {"repository": image_repository}}})
    # The cluster's StorageClass already exists; the chart's own would default to GCP's provisioner.
    _merge(values, {"storageClass": {"create": False, "name": storage_class_name}})
    _merge(values, {"frontend": {"ingress": _ingress(ingress or IngressOptions())}})

    if postgres is not None:
        for key in DATABASES:
            if key == "codeInsightsDB" and not est.workload.code_insights:
                continue
            if postgres.auth == "secret":
                auth: dict[str, Any] = {"existingSecret": secret_name(key)}
            else:
                auth = {
                    "host": postgres.hosts[key],
                    "port": str(postgres.port),
                    "database": postgres.database,
                    "user": postgres.login,
                    # IAM tokens replace the password; an empty one keeps the chart from using its default.
                    "password": "",
                    "sslmode": "require",
                }
            values[key] = {"enabled": False, "auth": auth}
        if postgres.auth == "iam":
            # Every process that connects mints its own tokens (DATABASE_CLIENT_SERVICES says why).
            for key in DATABASE_CLIENT_SERVICES:
                _merge(values, {key: {"env": _RDS_IAM_ENV}})

    if redis is not None:
        for key, host in (("redisCache", redis.cache_host), ("redisStore", redis.store_host)):
            connection = (
                {"existingSecret": REDIS_SECRETS[key]}
                if redis.auth
                else {"endpoint": redis_endpoint(host, redis.port, None)}
            )
            values[key] = {"enabled": False, "connection": connection}

    if s3 is not None:
        values["blobstore"] = {"enabled": False}
        env = {
            "SOURCEGRAPH_UPLOAD_BACKEND": {"value": "S3"},
            "SOURCEGRAPH_UPLOAD_BUCKET": {"value": s3.bucket},
            "SOURCEGRAPH_UPLOAD_AWS_REGION": {"value": s3.region},
            "SOURCEGRAPH_UPLOAD_AWS_ENDPOINT": {"value": f"https://s3.{s3.region}.amazonaws.com"},
            "SOURCEGRAPH_UPLOAD_MANAGE_BUCKET": {"value": "false"},
            "SOURCEGRAPH_UPLOAD_AWS_USE_EC2_ROLE_CREDENTIALS": {"value": "true"},
        }
        for key in _S3_ENV_SERVICES:
            _merge(values, {key: {"env": env}})

    for key, account in identity_service_accounts(postgres, s3).items():
        if key != "frontend":  # the chart creates frontend's account already
            _merge(values, {key: {"serviceAccount": {"create": True, "name": account}}})
    return values
