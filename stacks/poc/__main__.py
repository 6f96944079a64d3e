"""A private, time-boxed Sourcegraph POC inside your VPC. Config keys: see Pulumi.yaml and README.md."""

import pulumi

from sgarch.refarch.config import read_settings
from sgarch.refarch.poc import PocSettings, deploy

settings = read_settings(PocSettings)
outputs = deploy(pulumi.get_stack(), settings)
for key, value in outputs.items():
    pulumi.export(key, value)
