"""A recording fake adapter: a plugin that implements every hook, records each call and answers as told.

Register it like any plugin (``make_plugin_manager(plugins=[adapter])``); it subscribes to the standard
outbox topics, so the engine writes their messages and a delivery worker hands them to it. Tests then read
what an outside system would have received (``adapter.messages("portal.status")``), make it fail
(``adapter.fail("procflow_deliver_status_sync", RetryableAdapterError("503"))``) or answer lookups
(``adapter.respond("procflow_resolve_citizen", {...})``).

Each hook is written out below rather than generated from ``hookspecs``: pluggy checks implementations
by their real signatures, and a reader sees the contract. ``tests/testing`` fails when a hook is added to
``hookspecs`` without a method here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from procflow.hookspecs import hookimpl

if TYPE_CHECKING:
    from procflow.engine.outbox import Delivery, OutboxTopic
    from procflow.store.base import Store

__all__ = ["HookCall", "RecordingAdapter"]

DEFAULT_TOPICS = ("portal.status", "notify.citizen", "payment.request", "documents.file")


@attrs.frozen
class HookCall:
    hook: str
    kwargs: Mapping[str, Any]
    result: Any = None
    error: str | None = None


class RecordingAdapter:
    """Implements every procflow hook; records calls; delivers successfully unless told to fail.

    ``topics``: the standard outbox topics it subscribes to (None: none, so no outbox rows are written).
    """

    def __init__(self, *, topics: Iterable[str] | None = DEFAULT_TOPICS, name: str = "recording") -> None:
        self.name = name
        self.topics = tuple(topics) if topics is not None else ()
        self.calls: list[HookCall] = []
        self._responses: dict[str, Any] = {}
        self._failures: dict[str, list[BaseException]] = {}
        self._seen_keys: dict[str, int] = {}

    # -- steering -------------------------------------------------------------------------------------------
    def respond(self, hook: str, answer: Any) -> None:
        """What ``hook`` returns from now on: a value, or a callable taking the hook's arguments."""
        self._responses[hook] = answer

    def fail(self, hook: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``hook`` raise ``error`` (recorded with the error)."""
        self._failures.setdefault(hook, []).extend([error] * times)

    def clear(self) -> None:
        self.calls.clear()
        self._seen_keys.clear()

    # -- reading --------------------------------------------------------------------------------------------
    def called(self, hook: str | None = None) -> list[HookCall]:
        return [c for c in self.calls if hook is None or c.hook == hook]

    def deliveries(self, topic: str | None = None) -> list[Delivery]:
        """Messages delivered successfully, in order (a redelivered key appears again)."""
        out = []
        for c in self.calls:
            m = c.kwargs.get("message")
            if c.hook.startswith("procflow_deliver_") and c.error is None and m is not None:
                if topic is None or m.topic == topic:
                    out.append(m)
        return out

    def messages(self, topic: str | None = None) -> list[Mapping[str, Any]]:
        """The payloads an idempotent receiver applied: one per idempotency key, in first-delivery order."""
        seen: dict[str, Mapping[str, Any]] = {}
        for m in self.deliveries(topic):
            seen.setdefault(m.key, m.payload)
        return list(seen.values())

    def duplicates(self) -> dict[str, int]:
        """Keys delivered more than once (at-least-once delivery; a receiver must apply them once)."""
        return {k: n for k, n in self._seen_keys.items() if n > 1}

    # -- the recording core ---------------------------------------------------------------------------------
    def _call(self, hook: str, default: Any = None, **kwargs: Any) -> Any:
        failures = self._failures.get(hook)
        if failures:
            error = failures.pop(0)
            self.calls.append(HookCall(hook, kwargs, error=f"{type(error).__name__}: {error}"))
            raise error
        answer = self._responses.get(hook, default)
        result = answer(**kwargs) if callable(answer) else answer
        message = kwargs.get("message")
        if hook.startswith("procflow_deliver_") and message is not None and result is not None:
            self._seen_keys[message.key] = self._seen_keys.get(message.key, 0) + 1
        self.calls.append(HookCall(hook, kwargs, result=result))
        return result

    def _receipt(self, message: Delivery, timeout: float) -> str:
        return f"{self.name}:{message.key}"

    def _deliver(self, hook: str, message: Delivery, timeout: float) -> object:
        """``object``, not Any: a test may configure any receipt (None included) for a delivery hook."""
        return self._call(hook, self._receipt, message=message, timeout=timeout)

    # -- register -------------------------------------------------------------------------------------------
    @hookimpl
    def procflow_register_guards(self) -> Mapping[str, Callable[..., bool]] | None:
        return self._call("procflow_register_guards")  # type: ignore[no-any-return]

    @hookimpl
    def procflow_register_procedures(self) -> Iterable[Any] | None:
        return self._call("procflow_register_procedures")  # type: ignore[no-any-return]

    @hookimpl
    def procflow_register_calendar_files(self) -> Iterable[Any] | None:
        return self._call("procflow_register_calendar_files")  # type: ignore[no-any-return]

    @hookimpl
    def procflow_register_outbox_topics(self, store: Store) -> Iterable[OutboxTopic]:
        from procflow.engine import outbox

        makers: dict[str, Callable[[], OutboxTopic]] = {
            outbox.STATUS_SYNC: lambda: outbox.status_sync_topic(store),
            outbox.NOTIFY_CITIZEN: outbox.notification_topic,
            outbox.PAYMENT_REQUEST: outbox.payment_topic,
            outbox.DOCUMENTS_FILE: outbox.document_topic,
        }
        self._call("procflow_register_outbox_topics", store=store)
        return [makers[t]() for t in self.topics if t in makers]

    # -- deliver --------------------------------------------------------------------------------------------
    @hookimpl
    def procflow_deliver_status_sync(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_status_sync", message, timeout)

    @hookimpl
    def procflow_deliver_handoff(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_handoff", message, timeout)

    @hookimpl
    def procflow_deliver_payment_request(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_payment_request", message, timeout)

    @hookimpl
    def procflow_deliver_notification(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_notification", message, timeout)

    @hookimpl
    def procflow_deliver_document(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_document", message, timeout)

    @hookimpl
    def procflow_deliver_message(self, message: Delivery, timeout: float) -> object | None:
        return self._deliver("procflow_deliver_message", message, timeout)

    # -- resolve (None unless told: "this plugin cannot answer") --------------------------------------------
    @hookimpl
    def procflow_resolve_citizen(self, national_id: str, purpose: str, timeout: float) -> Mapping[str, Any] | None:
        return self._call("procflow_resolve_citizen", national_id=national_id, purpose=purpose,  # type: ignore[no-any-return]
                          timeout=timeout)

    @hookimpl
    def procflow_resolve_payment_status(self, dossier_id: str, reference: str,
                                        timeout: float) -> Mapping[str, Any] | None:
        return self._call("procflow_resolve_payment_status", dossier_id=dossier_id,  # type: ignore[no-any-return]
                          reference=reference, timeout=timeout)

    @hookimpl
    def procflow_resolve_remote_statuses(self, dossier_ids: Sequence[str], timeout: float) -> Mapping[str, int] | None:
        return self._call("procflow_resolve_remote_statuses", dossier_ids=list(dossier_ids),  # type: ignore[no-any-return]
                          timeout=timeout)

    # -- on -------------------------------------------------------------------------------------------------
    @hookimpl
    def procflow_on_delivered(self, message: Delivery, receipt: object) -> None:
        self._call("procflow_on_delivered", message=message, receipt=receipt)

    @hookimpl
    def procflow_on_dead_letter(self, message: Delivery, error: str) -> None:
        self._call("procflow_on_dead_letter", message=message, error=error)
