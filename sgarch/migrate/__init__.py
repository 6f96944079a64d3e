"""Move a running Sourcegraph between deployment options (single-node and EKS), with its data."""
