"""`SgarchMocks`: Pulumi mocks that record every resource and invoke and behave like the AWS provider.

Three things the stock ``pulumi.runtime.Mocks`` examples get wrong and these get right:

- **Autonaming.** The provider fills ``name`` (Role, InstanceProfile, LoadBalancer...) when the program
  leaves it out. Without that, dependants such as a RolePolicyAttachment silently lose their ``role``.
- **Unknown invokes raise.** Stock mocks answer ``{}``; typed results then carry ``None`` fields and the
  test passes for the wrong reason.
- **Options and parents are recorded.** ``MockResourceArgs`` carries neither, so a monitor subclass reads
  them from the engine request (``protect``, ``retainOnDelete``, ``ignoreChanges``, ``parent``...).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from sgarch.errors import SgarchError
from sgarch.testing._fakes import autoname, computed_outputs, fake_id
from sgarch.testing._invokes import DEFAULT_INVOKES, InvokeFailedError, InvokeHandler
from sgarch.testing._records import InvokeRecord, RecordedOptions, ResourceQuery, ResourceRecord

__all__ = ["DEFAULT_REGION", "ResourceHandler", "SgarchMocks", "UnmockedInvokeError"]

DEFAULT_REGION = "us-east-1"

T = TypeVar("T")

ResourceHandler = Callable[[MockResourceArgs, dict[str, Any]], Mapping[str, Any] | None]
"""``handler(args, state) -> extra outputs``: adds computed outputs for one resource type."""


class UnmockedInvokeError(SgarchError):
    """The program called an invoke the mocks cannot answer; register a handler for it."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__(
            f"invoke {token} is not mocked: register an answer with "
            f"SgarchMocks.register_invoke({token!r}, handler) so it does not silently return nothing"
        )


class SgarchMocks(pulumi.runtime.Mocks, ResourceQuery):
    """Pulumi mocks that record every resource and invoke, for tests and for ``sgarch plan``.

    ``region`` defaults to the ``aws:region`` config value, then ``us-east-1``. ``invokes`` adds or replaces
    invoke answers by token; see :meth:`register_invoke` and :meth:`register_resource`.
    """

    def __init__(self, region: str | None = None, invokes: Mapping[str, InvokeHandler] | None = None) -> None:
        self._region = region
        self._invokes: dict[str, InvokeHandler] = {**DEFAULT_INVOKES, **(invokes or {})}
        self._resource_handlers: dict[str, ResourceHandler] = {}
        self._lock = threading.Lock()
        self._records_list: list[ResourceRecord] = []
        self._invoke_records: list[InvokeRecord] = []
        # The monitor hands each engine request to new_resource through this thread-local, because
        # MockResourceArgs lacks the parent and the options.
        self._request = threading.local()

    # -- configuration -------------------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The AWS region answers and ARNs use."""
        if self._region:
            return self._region
        value = pulumi.runtime.get_config("aws:region")
        return str(value) if value else DEFAULT_REGION

    @region.setter
    def region(self, value: str | None) -> None:
        self._region = value

    def register_invoke(self, token: str, handler: InvokeHandler) -> None:
        """Answer invoke ``token`` with ``handler(args, region) -> result`` (camelCase keys both ways)."""
        self._invokes[token] = handler

    def register_resource(self, type_: str, handler: ResourceHandler) -> None:
        """Add outputs to every resource of ``type_`` with ``handler(args, state) -> extra outputs``."""
        self._resource_handlers[type_] = handler

    # -- recorded data -------------------------------------------------------------------------------

    def _records(self) -> list[ResourceRecord]:
        with self._lock:
            return list(self._records_list)

    @property
    def invokes(self) -> list[InvokeRecord]:
        """Every invoke the program made, in call order."""
        with self._lock:
            return list(self._invoke_records)

    def invoked(self, token: str) -> list[InvokeRecord]:
        """Every call of invoke ``token``."""
        return [i for i in self.invokes if i.token == token]

    def clear(self) -> None:
        """Forget every recorded resource and invoke."""
        with self._lock:
            self._records_list.clear()
            self._invoke_records.clear()

    # -- pulumi.runtime.Mocks ------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Answer a resource registration: echo inputs, fill autonames, add computed outputs, record it."""
        request = getattr(self._request, "value", None)
        inputs = dict(args.inputs)
        state = dict(inputs)
        region = self.region
        if args.custom or args.resource_id:
            named = autoname(args.typ, args.name, inputs)
            if named is not None:
                state[named[0]] = named[1]
            id_ = args.resource_id or fake_id(args.typ, args.name, state, region)
            state.update(computed_outputs(args.typ, args.name, state, id_, region))
            state.setdefault("id", id_)
        else:
            id_ = ""
        handler = self._resource_handlers.get(args.typ)
        if handler is not None:
            state.update(handler(args, state) or {})
        record = ResourceRecord(
            type=args.typ,
            name=args.name,
            urn=request.urn if request is not None else "",
            parent=(request.parent or None) if request is not None else None,
            custom=bool(args.custom),
            id=id_,
            raw_inputs=inputs,
            outputs=dict(state),
            options=request.options if request is not None else RecordedOptions(),
            read=bool(request.read) if request is not None else False,
        )
        with self._lock:
            self._records_list.append(record)
        return id_ or None, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Answer an invoke from the registered handlers; raise :class:`UnmockedInvokeError` otherwise."""
        handler = self._invokes.get(args.token)
        if handler is None:
            raise UnmockedInvokeError(args.token)
        try:
            result = dict(handler(dict(args.args), self.region))
        except InvokeFailedError as failure:
            # Returned as a failure, the program gets the exception a real data source raises, and the
            # runtime does not count it as an unhandled error the way an exception here would be.
            with self._lock:
                self._invoke_records.append(InvokeRecord(args.token, dict(args.args), args.provider, {}))
            return {}, [("", failure.reason)]
        with self._lock:
            self._invoke_records.append(InvokeRecord(args.token, dict(args.args), args.provider, result))
        return result, []

    # -- running programs ----------------------------------------------------------------------------

    def run(self, program: Callable[[], T]) -> T:
        """Run ``program`` under these mocks and wait until every resource is registered; return its result.

        Needs an active runtime (the ``pulumi_mocks`` fixture or :func:`sgarch.testing.mocked_runtime`).
        """
        from sgarch.testing._runtime import run_program

        return run_program(program)

    def resolve(self, value: Any) -> Any:
        """The plain value of an Output (nested Outputs included)."""
        from sgarch.testing._runtime import resolve

        return resolve(value)

    def exports(self) -> dict[str, Any]:
        """The values of every ``pulumi.export`` so far (secrets unwrapped)."""
        from sgarch.testing._runtime import stack_outputs

        return {k: v for k, (v, _) in stack_outputs().items()}

    def set_config(self, config: Mapping[str, Any], secret_keys: Sequence[str] = ()) -> None:
        """Replace the stack config with ``config`` (full keys such as ``"aws:region"``; values become
        strings, objects and lists JSON). Call it before the program reads config."""
        values = {k: _config_string(v) for k, v in config.items()}
        pulumi.runtime.set_all_config(values, list(secret_keys))

    # -- monitor ---------------------------------------------------------------------------------------

    def monitor(self) -> MockMonitor:
        """A mock monitor that passes each request's parent and options on to :meth:`new_resource`."""
        return _RecordingMonitor(self)


class _Request:
    __slots__ = ("options", "parent", "read", "urn")

    def __init__(self, urn: str, parent: str, options: RecordedOptions, read: bool) -> None:
        self.urn = urn
        self.parent = parent
        self.options = options
        self.read = read


class _RecordingMonitor(MockMonitor):
    """MockMonitor that shows :class:`SgarchMocks` the engine request behind each registration."""

    def __init__(self, mocks: SgarchMocks) -> None:
        super().__init__(mocks)
        self._sgarch_mocks = mocks

    def Invoke(self, request: Any) -> Any:
        return _with_thread_loop(super().Invoke, request)

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return _with_thread_loop(super().RegisterResource, request)
        options = RecordedOptions(
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            depends_on=tuple(request.dependencies),
            deleted_with=request.deletedWith or None,
            import_id=request.importId or None,
            provider=request.provider or None,
        )
        return self._with_request(request, options, False, super().RegisterResource)

    def ReadResource(self, request: Any) -> Any:
        options = RecordedOptions(provider=request.provider or None, depends_on=tuple(request.dependencies))
        return self._with_request(request, options, True, super().ReadResource)

    def _with_request(
        self, request: Any, options: RecordedOptions, read: bool, register: Callable[[Any], Any]
    ) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        local = self._sgarch_mocks._request
        local.value = _Request(urn, request.parent, options, read)
        try:
            return _with_thread_loop(register, request)
        finally:
            local.value = None


def _with_thread_loop(method: Callable[[Any], Any], request: Any) -> Any:
    """Call a MockMonitor method in a worker thread with an event loop that is closed afterwards.

    The stock monitor creates a loop in every executor thread and never closes it; the leaked loops
    surface later as ResourceWarnings (test failures under ``filterwarnings = error``).
    """
    if threading.current_thread() is threading.main_thread():
        return method(request)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return method(request)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _config_string(value: Any) -> str:
    """A config value as ``pulumi config`` stores it: booleans lowercase, objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)
