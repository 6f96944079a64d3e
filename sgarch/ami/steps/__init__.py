"""The AMI builder's steps, one module each with its ``run`` and its ``cleanup`` side by side.

The packer ``amazon-ebs`` model: :mod:`sgarch.ami.pipeline` runs them in order and, whether the build
succeeded, failed or was interrupted, every entered step's cleanup in reverse. Every cleanup attempts all its
calls even when one fails (:class:`sgarch.ami.cleanup.Attempts`). Each step lists in ``changes`` the AWS
calls its ``run`` makes that create or change something; the fault-injection tests are generated from them.

==================  ========================================================  ==================================
step                run                                                       cleanup
==================  ========================================================  ==================================
pre-validate        account, regions, identical complete build (skip),         -
                    half-built ones (removed), name clash, vCPU quota,
                    default EBS encryption vs sharing and Marketplace
source-ami          ``--source-ami`` or the newest image matching the filter   -
subnet              spec's subnet or the freest default subnet                 -
security-group      temporary group, **no inbound rules**                      delete (retried while in use)
instance-profile    temporary role (SSM + its log group only) and profile      remove, detach, delete both
launch              IMDSv2 required, no key pair, tagged volumes               terminate, wait, delete volumes
wait-ssm            a no-op Run Command until the agent answers                -
provision           the spec's files, then each provisioner, through SSM       -
harden              the hardening scripts, last                                -
stop                stop, then turn ENA on                                     -
create-image        CreateImage, image and snapshots tagged at creation        on failure: deregister + snapshots
wait-image          available (timeout, backoff); IMDSv2-only                  -
copy                CopyImage to every copy region in parallel, tagged         on failure: delete every copy
share               launch permissions in every region                         -
manifest            JSON manifest, then ``sgarch:build-complete=true`` last    on failure: remove the file
==================  ========================================================  ==================================
"""

from __future__ import annotations

from sgarch.ami.steps.copy_regions import CopyToRegions
from sgarch.ami.steps.create_image import CreateImage
from sgarch.ami.steps.harden import Harden
from sgarch.ami.steps.instance_profile import InstanceProfile
from sgarch.ami.steps.launch import Launch
from sgarch.ami.steps.manifest import MANIFEST_FORMAT, WriteManifest
from sgarch.ami.steps.pre_validate import PreValidate
from sgarch.ami.steps.provision import Provision
from sgarch.ami.steps.security_group import SecurityGroup
from sgarch.ami.steps.share import Share
from sgarch.ami.steps.source_ami import SourceAmi
from sgarch.ami.steps.state import BuildOptions, BuildState
from sgarch.ami.steps.stop import Stop
from sgarch.ami.steps.subnet import ChooseSubnet
from sgarch.ami.steps.wait_image import WaitForImage
from sgarch.ami.steps.wait_ssm import WaitForSsm

__all__ = [
    "MANIFEST_FORMAT",
    "BuildOptions",
    "BuildState",
    "ChooseSubnet",
    "CopyToRegions",
    "CreateImage",
    "Harden",
    "InstanceProfile",
    "Launch",
    "PreValidate",
    "Provision",
    "SecurityGroup",
    "Share",
    "SourceAmi",
    "Stop",
    "WaitForImage",
    "WaitForSsm",
    "WriteManifest",
]
