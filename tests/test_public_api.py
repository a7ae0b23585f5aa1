"""The public API is pinned: each namespace's ``__all__`` is exactly what this file lists (issue 18 item 3).

Changing a public name is a decision, not an accident: edit the list here and say so in CHANGELOG.md.
Every listed name must resolve, and the top level stays small (embedders and procedure authors).
"""

from __future__ import annotations

import importlib

import pytest

PINNED: dict[str, list[str]] = {
    "procflow": [
        "Actor", "Agency", "Clock", "Dossier", "DossierEvent", "Engine", "FakeClock", "FieldSpec", "Level",
        "OfficeHours", "OutboxMessage", "ProcedureDefinition", "ProcflowError", "Registry", "SlaClock", "Step",
        "Store", "SystemClock", "TimerSpec", "Transition", "WorkingCalendar", "__version__", "build_engine",
        "bundled_definitions", "hookimpl", "load_definition", "make_plugin_manager", "open_store",
        "parse_definition", "replay",
    ],
    "procflow.errors": [
        "AccessDenied", "AdapterError", "AnchorUnavailable", "CalendarError", "CalendarWarning", "CatalogueError",
        "ConcurrencyConflict", "CredentialError", "DefinitionError", "DelegationRefused", "DirectoryError",
        "DossierNotFound", "EnvelopeRejected", "ExtensionRefused", "FormNotAvailable", "GuardRejected",
        "HandoffError", "InvalidData", "JurisdictionError", "KeysUnavailable", "MigrationRefused", "NotCustodian",
        "OperatorRoleMissing", "PermanentAdapterError", "PluginError", "Problem", "ProcflowError",
        "RetryableAdapterError", "RoleNotGranted", "StoreError", "TransitionNotAllowed", "UnknownAgency",
        "UnknownOfficial", "UnsealedValue", "UsageError", "VaultError",
    ],
    "procflow.privacy": [
        "AccessDecision", "AccessPolicy", "AnchorReport", "Checkpointer", "Directory", "DirectoryIdentity",
        "EnvKeyProvider", "FileKeyProvider", "HookIdentity", "IdentityProvider", "KeyProvider", "Official",
        "Reader", "RetentionReport", "StaticKeyProvider", "Vault", "VerifyReport", "acting_actor",
        "apply_retention", "configure_logging", "export_checkpoints", "mask_dossier", "mask_event", "mask_json",
        "mask_record", "mask_text", "mask_value", "record_disclosure", "take_checkpoint", "verify_anchor",
        "verify_log",
    ],
    "procflow.workers": [
        "DeliveryWorker", "Scheduler", "SchedulerStats", "armed_timers",
    ],
    "procflow.engine": [
        "Authoriser", "Delivery", "Engine", "OutboxTopic",
    ],
    "procflow.store": [
        "AuditEntry", "OutboxMessage", "Store", "open_store",
    ],
    "procflow.exchange": [
        "DEFAULT_LIMITS", "EDXML_NS", "PF_NS", "VN_TZ", "ActorNotCustodian", "Attachment",
        "AttachmentDigestMismatch", "BrokenChain", "DefinitionMismatch", "DiscontinuousHistory", "DocumentInfo",
        "DossierPayload", "EncodingError", "Envelope", "EnvelopeRejected", "ExchangeNode", "Field", "FieldType",
        "ForbiddenTrigger", "ForgedHistory", "HandoffAdapter", "HandoffError", "HandoffRefused", "HandoffTransport",
        "HistoryConflict", "InconsistentPayload", "Limits", "LocalTransport", "MemoryReplayGuard", "NodeKeys",
        "NotAHandoff", "Party", "PayloadEvent", "Received", "ReplayGuard", "ReplayedMessage", "SchemaInvalid",
        "SenderNotCustodian", "SignatureInvalid", "SignatureMissing", "SignedContentTampered", "SignerMismatch",
        "StaleMessage", "StoreReplayGuard", "TraceHop", "TrustStore", "UnknownProcedure", "UnknownState",
        "UnsignedForeignEnvelope", "UntrustedSender", "Verifier", "WrongCustodian", "WrongDestination",
        "WrongNamespace", "WrongRecipient", "XmlBadEncoding", "XmlForbiddenConstruct", "XmlMalformed", "XmlTooDeep",
        "XmlTooLarge", "XmlTruncated", "build_envelope", "dossier_event", "dossier_payload", "envelope_schema",
        "envelope_tree", "generate_test_keys", "generate_test_pki", "handoff_message_id", "parse_envelope",
        "payload_event", "read_edxml", "sign_envelope", "validate_tree", "write_edxml",
    ],
    "procflow.testing": [
        "FAULTS", "MONDAY", "AdapterConformance", "AdapterHarness", "EngineMachine", "HookCall", "RecordingAdapter",
        "Story", "StoryFactory", "WorkingClock", "every_event_rule", "sample_messages",
    ],
    "procflow.forms": [
        "CIRCULAR", "DOSSIER_FORMS", "FORM_TITLES", "ControlRow", "ControlSlip", "DossierFacts", "DossierRegister",
        "ExtensionLetter", "Form", "FormHeader", "ReceiptSlip", "RefusalSlip", "RegisterRow", "StopNotice",
        "SupplementRequest", "build_form", "build_register", "check_form_number", "extend", "extension_of",
        "form_to_dict", "render_html", "render_json", "step_outcome", "vn_time",
    ],
    "procflow.definition": [
        "PORTAL_STATUS", "STATUS_RULES", "ClockMode", "FieldSpec", "ProcedureDefinition", "StatusRule", "Step",
        "TimerAction", "TimerAnchor", "TimerSpec", "Transition", "bundled_definitions", "load_definition",
        "parse_definition", "status_mapping_problems",
    ],
}


@pytest.mark.parametrize("namespace", sorted(PINNED))
def test_namespace_exports_exactly_the_pinned_names(namespace: str) -> None:
    module = importlib.import_module(namespace)
    assert sorted(module.__all__) == sorted(PINNED[namespace])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{namespace}.__all__ names what it does not define: {missing}"


def test_the_top_level_is_small() -> None:
    assert len(PINNED["procflow"]) <= 32


def test_hookimpl_and_every_error_are_reachable() -> None:
    import procflow
    import procflow.errors

    assert procflow.hookimpl is not None
    assert all(isinstance(getattr(procflow.errors, n), type) or n == "Problem" for n in procflow.errors.__all__)
