"""Migration on EKS: Kubernetes Jobs that import a migration bundle into the release's databases (RDS or the
chart's in-cluster PostgreSQL) and blob storage, or export them to S3 for a single node to import.

The pieces, outermost first:

- :func:`eks_import_steps` and :func:`eks_export_steps` (``steps.py``, pure): what ``sgarch migrate import --to
  eks`` prints, the exact ``pulumi config set`` / ``pulumi up`` / ``kubectl logs`` commands;
- the ``stacks/eks`` config keys ``migrate_import``, ``migrate_export`` and ``migrate_kms_key_arn``
  (``sgarch/refarch/eks.py``), parsed by :func:`parse_import_uri` and :func:`parse_export_uri`;
- ``sgarch.migrate.k8s.component.DataMigration``: the Pulumi component (imported on its own, so the CLI never
  loads Pulumi).
"""

from __future__ import annotations

from sgarch.migrate.k8s.locations import (
    ExportLocation,
    ImportLocation,
    check_migration_keys,
    parse_export_uri,
    parse_import_uri,
    parse_kms_key_arn,
)
from sgarch.migrate.k8s.steps import EksStep, eks_export_steps, eks_import_steps

__all__ = [
    "EksStep",
    "ExportLocation",
    "ImportLocation",
    "check_migration_keys",
    "eks_export_steps",
    "eks_import_steps",
    "parse_export_uri",
    "parse_import_uri",
    "parse_kms_key_arn",
]
