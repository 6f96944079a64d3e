"""provision: copy the spec's files, then run its provisioners in order through SSM."""

from __future__ import annotations

from sgarch.ami.runner import BuildEvent
from sgarch.ami.spec import FileRef, ScriptRef
from sgarch.ami.steps import commands
from sgarch.ami.steps.state import BuildState, NoCleanup

__all__ = ["Provision"]


class Provision(NoCleanup):
    """Copy the spec's files, then run its provisioners in order; the first non-zero exit fails the build."""

    name = "provision"
    changes = ("ssm.SendCommand",)

    def files(self, state: BuildState) -> tuple[FileRef, ...]:
        """The files this step places before its scripts: all of them, so the first provisioner sees them."""
        return state.loaded.files

    def scripts(self, state: BuildState) -> tuple[ScriptRef, ...]:
        """The scripts this step runs."""
        return state.loaded.provisioners

    def run(self, state: BuildState) -> None:
        """Send the files, then each script, through SSM and wait for each command."""
        files = self.files(state)
        if files:
            commands.copy_files(state, self.name, files)
        environment = commands.script_environment(state)
        for index, script in enumerate(self.scripts(state)):
            state.emit(BuildEvent("info", self.name, f"running {script.ref}"))
            lines = commands.script_commands(script, index, environment)
            commands.run_command(
                state, self.name, lines, script.file_name, state.loaded.spec.timeouts.provision_seconds
            )
