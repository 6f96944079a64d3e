"""source-ami: the image the build starts from."""

from __future__ import annotations

from botocore.exceptions import ClientError

from sgarch.ami.aws import error_code
from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.state import BuildState, NoCleanup
from sgarch.errors import AmiBuildError, ConfigError

__all__ = ["SourceAmi"]


class SourceAmi(NoCleanup):
    """Resolve the image the build starts from."""

    name = "source-ami"

    def run(self, state: BuildState) -> None:
        """Use ``--source-ami`` (checked) or the newest image matching the spec's filter."""
        spec = state.loaded.spec
        ec2 = state.clients.ec2(spec.build_region)
        wanted = spec.source_ami
        if state.options.source_ami:
            try:
                images = ec2.describe_images(ImageIds=[state.options.source_ami])["Images"]
            except ClientError as exc:
                if not error_code(exc).startswith("InvalidAMIID"):
                    raise
                images = []
            if not images:
                raise ConfigError(
                    "--source-ami",
                    f"an image in {spec.build_region}",
                    state.options.source_ami,
                    "check the id",
                )
            image = images[0]
            if image.get("Architecture") != wanted.architecture:
                raise ConfigError(
                    "--source-ami",
                    f"an {wanted.architecture} image",
                    state.options.source_ami,
                    f"it is {image.get('Architecture')}",
                )
        else:
            images = ec2.describe_images(
                Owners=list(wanted.owners),
                Filters=[
                    {"Name": "name", "Values": [wanted.name]},
                    {"Name": "architecture", "Values": [wanted.architecture]},
                    {"Name": "state", "Values": ["available"]},
                ],
            )["Images"]
            if not images:
                raise AmiBuildError(
                    f"no image in {spec.build_region} matches owners={list(wanted.owners)} name={wanted.name!r} "
                    f"architecture={wanted.architecture}; fix source_ami in the spec or pass --source-ami"
                )
            image = max(images, key=lambda i: (i.get("CreationDate", ""), i["ImageId"]))
        state.source_image = image
        state.emit(BuildEvent("info", self.name, f"{image['ImageId']} {image.get('Name', '')}"))
