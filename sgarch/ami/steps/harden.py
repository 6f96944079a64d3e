"""harden: the hardening scripts, after every provisioner (no keys, no passwords, no logs, no SSM history)."""

from __future__ import annotations

from sgarch.ami.spec import FileRef, ScriptRef
from sgarch.ami.steps.provision import Provision
from sgarch.ami.steps.state import BuildState

__all__ = ["Harden"]


class Harden(Provision):
    """Run the hardening scripts after every provisioner: no keys, no passwords, no logs, clean cloud-init."""

    name = "harden"

    def files(self, state: BuildState) -> tuple[FileRef, ...]:
        """None: the provision step has placed them all."""
        return ()

    def scripts(self, state: BuildState) -> tuple[ScriptRef, ...]:
        """The spec's hardening scripts."""
        return state.loaded.hardening
