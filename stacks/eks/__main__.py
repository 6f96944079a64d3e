"""Sourcegraph on EKS with the official Helm chart. Config keys: see Pulumi.yaml and README.md."""

import pulumi

from sgarch.refarch.config import read_settings
from sgarch.refarch.eks import EksSettings, deploy

settings = read_settings(EksSettings)
outputs = deploy(pulumi.get_stack(), settings)
for key, value in outputs.items():
    pulumi.export(key, value)
