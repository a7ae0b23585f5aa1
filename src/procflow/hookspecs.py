"""The plugin contract: every hook procflow calls, in one file.

A plugin is any module or object with functions marked ``@hookimpl`` and named after a hook below; it is
found through the ``procflow`` entry-point group (``[project.entry-points.procflow]`` in its
``pyproject.toml``) or passed to ``make_plugin_manager(plugins=[...])``. An implementation may accept
fewer arguments than the hook offers, never others: a misspelt argument or hook name is refused when the
plugin is registered, naming the plugin and its signature.

Hooks come in four families:

* ``procflow_register_*`` (and ``procflow_register_calendar_files``) are called once when an engine is built; every
  plugin's answer is collected.
* ``procflow_deliver_*`` send one outbox message to an outside system. They are called by the delivery
  worker, never inside a state transaction, and are ``firstresult``: the first plugin that returns
  something other than ``None`` has delivered the message.
* ``procflow_resolve_*`` answer a question from an outside system (``firstresult``; ``None`` means "this
  plugin cannot answer", so the next plugin is asked).
* ``procflow_on_*`` are notifications; their return value is ignored and an error in one is logged, never
  allowed to change what happened.

Errors an adapter raises (``procflow.errors``)::

    AdapterError
    ├── RetryableAdapterError    try again later: timeout, connection refused, HTTP 5xx/429, "busy" codes
    └── PermanentAdapterError    retrying cannot help: the receiver rejected the payload, bad credentials

Convert third-party exceptions at the boundary (``raise RetryableAdapterError(...) from exc``). Anything
else escaping a delivery hook is treated as retryable and recorded with its type, so an adapter bug ends
in the dead-letter table with its traceback's last line rather than being lost.

Every delivery carries ``message.key``, the idempotency key, unchanged across retries and worker
restarts. Delivery is at least once: a worker killed after the receiver applied a message but before it
recorded success sends it again, so the adapter must pass the key on and the receiver must apply each
key once. Anything an adapter logs must mask personal data (``procflow.privacy.masking``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from procflow.definition.model import ProcedureDefinition
    from procflow.engine.core import Guard
    from procflow.engine.outbox import Delivery, OutboxTopic
    from procflow.privacy.directory import Official
    from procflow.store.base import Store

__all__ = ["PROJECT", "TOPIC_HOOKS", "hookimpl", "hookspec"]

PROJECT = "procflow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

TOPIC_HOOKS: Mapping[str, str] = {
    "portal.status": "procflow_deliver_status_sync",
    "exchange.handoff": "procflow_deliver_handoff",
    "payment.request": "procflow_deliver_payment_request",
    "notify.citizen": "procflow_deliver_notification",
    "documents.file": "procflow_deliver_document",
}
"""Which delivery hook receives each standard topic; any other topic goes to ``procflow_deliver_message``."""


# -- register: collected once when an engine is built ---------------------------------------------------
@hookspec
def procflow_register_guards() -> Mapping[str, Guard] | None:
    """Contribute named guards that procedure definitions can use (``guards = ["name"]``).

    Called by ``build_engine`` before definitions are registered. Return a mapping of guard name to a
    callable ``guard(dossier, data) -> bool``. Guards run inside the state transaction: they must be pure,
    in-process checks on the dossier and the submitted data, never I/O (that is what adapters are for).
    Two plugins offering the same name with different callables is a ``PluginError``.
    """


@hookspec
def procflow_register_procedures() -> Iterable[ProcedureDefinition] | None:
    """Import procedures from a catalogue (e.g. a province's list of administrative procedures).

    Called by ``build_engine``; each returned definition is validated and registered as its own version
    (the same code and version with different content is refused). Read the catalogue here, not at import.
    Raise ``DefinitionError`` for a definition you cannot translate, naming its source.
    ``procflow.catalogue.catalogue_procedures(path)`` (or the ready ``CataloguePlugin(path)``) turns a
    catalogue file into validated definitions for this hook.
    """


@hookspec
def procflow_register_calendar_files() -> Iterable[str | os.PathLike[str]] | None:
    """Day-off files of the province or agency this plugin serves (local days off, late swaps).

    Called by ``build_engine`` when it builds the engine's working calendar; each file has the shape of
    procflow's shipped ``data/days_off.toml`` (``[[day]]`` entries with date, kind, reason, document) and is
    laid over the national schedule (a local entry wins on its date). A malformed file is refused with a
    ``CalendarError`` naming the file and the entry.
    """


@hookspec
def procflow_register_outbox_topics(store: Store) -> Iterable[OutboxTopic] | None:
    """Subscribe to outbox topics: return the ``OutboxTopic`` objects whose messages this plugin delivers.

    Called by ``build_engine``. Standard topics are built by ``procflow.engine.outbox`` (``status_sync_topic(store)``,
    ``notification_topic()``, ...); a plugin may also define its own topic, delivered through
    ``procflow_deliver_message``. Return nothing when the plugin is not configured, so no rows are written
    for effects nobody would deliver. ``store`` is the engine's store, for topics that read history.
    """


# -- deliver: one outbox message to an outside system (firstresult) -------------------------------------
@hookspec(firstresult=True)
def procflow_deliver_status_sync(message: Delivery, timeout: float) -> object | None:
    """Sync a dossier's status and progress to the national public-service portal (topic ``portal.status``).

    Called by the delivery worker after the transition committed, outside any transaction. ``message.payload``
    is ``procflow.engine.outbox.status_payload``: the dossier snapshot (status 1–10, due and return dates, agencies,
    applicant), the event that caused it (``event``, None for a reconciliation correction) and, when a
    supplemented dossier comes back, ``supplement`` with the previous and new due dates. Finish (or give up)
    within ``timeout`` seconds. Return a receipt (the receiver's reference, or ``True``) once the portal
    accepted it; ``None`` if this plugin does not serve this message. Raise ``RetryableAdapterError`` for
    timeouts, refused connections, HTTP 5xx and "busy"; ``PermanentAdapterError`` when the portal rejects
    the data or the credentials.
    """


@hookspec(firstresult=True)
def procflow_deliver_handoff(message: Delivery, timeout: float) -> object | None:
    """Carry an inter-agency hand-off package to another agency's node (topic ``exchange.handoff``).

    Called by the delivery worker. ``message.payload`` holds ``to_agency`` (the receiving node's agency
    code), the signed envelope (``envelope``, XML text built by ``procflow.exchange``; send its UTF-8 bytes
    unchanged: it was signed when the hand-off committed, so every retry carries identical bytes), its
    ``message_id``, ``dossier_id`` and ``seq``. The receiving node verifies signature, recipient and message
    id before storing anything. Return a receipt when the receiving node imported it, or answered that it
    already had it (reason ``replayed``: at-least-once delivery makes that normal); ``None`` when this
    plugin does not serve ``to_agency`` (another transport may); raise ``RetryableAdapterError`` when the
    node is unreachable and ``PermanentAdapterError`` when it refused the envelope (the reason goes to the
    dead letter for a person to act on). ``procflow.exchange.HandoffAdapter`` implements this over a
    one-method transport.
    """


@hookspec(firstresult=True)
def procflow_deliver_payment_request(message: Delivery, timeout: float) -> object | None:
    """Ask a payment platform to bill a fee or financial obligation (topic ``payment.request``).

    Called by the delivery worker when a dossier enters status 6. ``message.payload`` has ``dossier_id``,
    ``procedure``, ``payer`` (the dossier holder's name, chủ hồ sơ, as the portal's status row names them —
    ``ProcedureDefinition.applicant_value``; None when not given), ``amount`` (None when the tax authority
    sets it) and ``agency``; use ``message.key`` as the payment reference so a retry never bills twice.
    Return the platform's payment reference. Whether it was paid is asked later through
    ``procflow_resolve_payment_status``.
    """


@hookspec(firstresult=True)
def procflow_deliver_notification(message: Delivery, timeout: float) -> object | None:
    """Send a notice to the citizen by SMS, e-mail or an app (topic ``notify.citizen``).

    Called by the delivery worker. ``message.payload`` is content only: ``text_vi``/``text_en``,
    ``template``, ``status`` and ``recipient`` (phone / e-mail as filed, possibly None); the channel is the
    adapter's choice. Log recipients masked. Return the provider's message id; raise
    ``PermanentAdapterError`` when there is no usable recipient.
    """


@hookspec(firstresult=True)
def procflow_deliver_document(message: Delivery, timeout: float) -> object | None:
    """File the result document of a processed dossier in a document-management system
    (topic ``documents.file``).

    Called by the delivery worker when a dossier reaches status 9. ``message.payload`` has ``dossier_id``,
    ``procedure``, ``title``, ``issued_at``, ``issued_by`` and ``signed_by``. Return the document's
    identifier in the receiving system, or ``None`` if this plugin does not file documents of this
    procedure. Raise ``RetryableAdapterError`` while the system is unreachable.
    """


@hookspec(firstresult=True)
def procflow_deliver_message(message: Delivery, timeout: float) -> object | None:
    """Deliver a message of a topic that has no hook of its own (a plugin's own ``OutboxTopic``).

    Called by the delivery worker for any topic not in ``TOPIC_HOOKS``. Check ``message.topic``: Return a
    receipt once delivered, ``None`` for topics you do not serve; raise ``RetryableAdapterError`` or
    ``PermanentAdapterError`` as for the other delivery hooks. When no plugin returns a receipt the
    message is dead-lettered with the reason "no adapter ...", to be requeued once one is installed.
    """


# -- resolve: questions answered by outside systems (firstresult) ---------------------------------------
@hookspec(firstresult=True)
def procflow_resolve_citizen(national_id: str, purpose: str, timeout: float) -> Mapping[str, Any] | None:
    """Look a citizen up in the civil-status / population registry to prefill a form.

    Called at the one-stop desk before filing (never inside a transaction), usually through
    ``procflow.plugins.prefill``. ``national_id`` is the 12-digit personal identification number (CCCD);
    ``purpose`` is the procedure code, for the registry's access log. Return what the registry knows in
    these keys (omit unknown ones): ``full_name``, ``date_of_birth`` (ISO date), ``gender``, ``address``,
    ``phone``, ``email``. Return ``None`` when the person is not found. Raise ``PermanentAdapterError`` for
    a malformed identifier, ``RetryableAdapterError`` when the registry is unreachable or too slow.
    """


@hookspec(firstresult=True)
def procflow_resolve_official(official_id: str) -> Official | Mapping[str, Any] | None:
    """Say who the official ``official_id`` is: their agency and the roles they hold.

    The identity seam (``procflow.privacy.identity``): a province answers from its own directory — LDAP, the
    national single sign-on, the claims of a JWT its web edge verified. Return a
    ``procflow.privacy.directory.Official`` or a mapping with ``id``, ``agency``, ``roles`` (and optionally
    ``name``, ``valid_from``, ``valid_to`` as ISO dates); ``None`` when this plugin does not know the
    official (the next plugin is asked; when none knows them, the action is refused with
    ``UnknownOfficial`` and audited). When any plugin implements this hook, ``build_engine`` asks the
    plugins instead of the store's officials directory; an explicit ``Engine(identity=…)`` wins over both.
    Roles come only from here, never from the caller: a claimed role the answer does not hold is refused
    (``RoleNotGranted``). Answers are cached per engine, so this is called about once per official; it
    must not grant the system role ``*`` (it is ignored).
    """


@hookspec(firstresult=True)
def procflow_resolve_payment_status(dossier_id: str, reference: str, timeout: float) -> Mapping[str, Any] | None:
    """Ask the payment platform whether a requested fee or obligation has been paid.

    Called by whoever confirms payment (a desk action or a scheduled check) before firing the
    confirmation trigger with ``obligation_paid = true``. ``reference`` is the key of the payment-request
    message. Return ``{"paid": bool, "amount": int | None, "paid_at": iso-datetime | None}``, or ``None``
    when this plugin knows nothing of the reference.
    """


@hookspec(firstresult=True)
def procflow_resolve_remote_statuses(dossier_ids: Sequence[str], timeout: float) -> Mapping[str, int] | None:
    """Report the national-portal status (1–10) the outside system holds for each dossier.

    Called by reconciliation (``procflow reconcile``) in batches. Return a mapping from dossier id to the
    status the receiver shows; leave out dossiers it does not know (they are re-synced in full). Return
    ``None`` if this plugin cannot tell. Raise ``RetryableAdapterError`` when the receiver is unreachable.
    """


# -- on: notifications (all plugins called; results ignored) --------------------------------------------
@hookspec
def procflow_on_delivered(message: Delivery, receipt: object) -> None:
    """A message was delivered and recorded as such. Called by the worker after the store update;
    use it for metrics. ``message`` is as stored: personal values are vault references, not the values
    the adapter was given. Must not raise (errors are logged and ignored)."""


@hookspec
def procflow_on_dead_letter(message: Delivery, error: str) -> None:
    """A message will not be retried again: a person has to act (fix the data or the adapter, then
    ``procflow outbox --requeue``). Called after the store update with the masked last error; use it to
    alert. ``message`` is as stored (personal values as vault references). Must not raise (errors are
    logged and ignored)."""
