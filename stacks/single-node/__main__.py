"""Sourcegraph on one EC2 instance with Docker Compose. Config keys: see Pulumi.yaml and README.md."""

import pulumi

from sgarch.refarch.config import read_settings
from sgarch.refarch.single_node import SingleNodeSettings, deploy

settings = read_settings(SingleNodeSettings)
outputs = deploy(pulumi.get_stack(), settings)
for key, value in outputs.items():
    pulumi.export(key, value)
