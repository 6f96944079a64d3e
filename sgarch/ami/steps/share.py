"""share: launch permissions for the spec's accounts, organizations and OUs in every region."""

from __future__ import annotations

from sgarch.ami import aws
from sgarch.ami.runner import BuildEvent
from sgarch.ami.steps.state import BuildState, NoCleanup

__all__ = ["Share"]


class Share(NoCleanup):
    """Grant launch permissions to the spec's accounts, organizations and OUs in every region."""

    name = "share"
    changes = ("ec2.ModifyImageAttribute",)

    def run(self, state: BuildState) -> None:
        """ModifyImageAttribute(LaunchPermission) per region, in parallel."""
        sharing = state.loaded.spec.sharing
        if sharing.is_empty:
            return
        grants = [
            *({"UserId": a} for a in sharing.account_ids),
            *({"OrganizationArn": a} for a in sharing.organization_arns),
            *({"OrganizationalUnitArn": a} for a in sharing.organizational_unit_arns),
        ]

        def share(region: str) -> None:
            state.clients.ec2(region).modify_image_attribute(
                ImageId=state.images[region], LaunchPermission={"Add": grants}
            )
            state.emit(BuildEvent("region", self.name, f"shared with {len(grants)} principal(s)", region))

        aws.for_each_region(state.loaded.spec.regions, share, cancelled=state.cancelled)
