"""The base of sgarch's Pulumi components: child names, tags and child options, the same in every one.

A component subclasses :class:`Component`, validates its arguments, then calls ``super().__init__`` with its
type token, so nothing is registered before the arguments are known to be good::

    class Thing(Component):
        ARCHITECTURE = "thing"

        def __init__(self, name: str, args: ThingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
            args.check()
            super().__init__("sgarch:thing:Thing", name, args, opts)
            aws.s3.Bucket(self._n("data"), tags=self._tagged(self._n("data")), opts=self._opts())

Child names are ``<component name>-<part>...`` (:func:`sgarch.naming.child_name`): a public contract, since
renaming one replaces real infrastructure. Tags are sgarch's three (``sgarch:architecture``, ``sgarch:stack``,
``ManagedBy``), then the user's (already checked by :class:`~sgarch.validation.ComponentArgs`: no
``sgarch:`` key), then what the component adds per resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from sgarch.naming import child_name, default_tags, merge_tags
from sgarch.validation import ComponentArgs

__all__ = ["Component"]


class Component(pulumi.ComponentResource):
    """A Pulumi component with sgarch's naming and tagging convention.

    ``architecture`` is the ``sgarch:architecture`` tag's value: the args' ``architecture``, else the class's
    :attr:`ARCHITECTURE`.
    """

    ARCHITECTURE: ClassVar[str]
    """The ``sgarch:architecture`` value when the args do not set one."""

    architecture: str

    def __init__(
        self, type_: str, name: str, args: ComponentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(type_, name, None, opts)
        self._name = name
        self.architecture = args.architecture or self.ARCHITECTURE
        self._base_tags = default_tags(self.architecture, pulumi.get_stack(), args.tags)

    def _n(self, *parts: str | int) -> str:
        """The logical name of a child: ``<component name>-<part>-...``."""
        return child_name(self._name, *parts)

    def _tags(self, *layers: Mapping[str, str] | None) -> dict[str, str]:
        """sgarch's tags and the user's, then ``layers`` (later ones win)."""
        return merge_tags(self._base_tags, *layers)

    def _tagged(self, name: str, *layers: Mapping[str, str] | None) -> dict[str, str]:
        """:meth:`_tags` with ``layers`` and a ``Name`` tag (what the AWS consoles show)."""
        return merge_tags(self._base_tags, *layers, {"Name": name})

    def _opts(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child: ``parent=self`` plus ``options`` (``depends_on``, ``protect``...)."""
        return pulumi.ResourceOptions(parent=self, **options)

    def _invoke(self) -> pulumi.InvokeOutputOptions:
        """Options for an ``*_output`` lookup made on behalf of this component (same provider, same parent)."""
        return pulumi.InvokeOutputOptions(parent=self)
