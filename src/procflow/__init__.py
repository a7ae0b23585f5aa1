"""procflow: durable, auditable workflows for Vietnam's one-stop administrative procedures."""

from procflow.errors import (
    AccessDenied,
    AdapterError,
    ConcurrencyConflict,
    DefinitionError,
    DossierNotFound,
    EnvelopeRejected,
    GuardRejected,
    JurisdictionError,
    NotCustodian,
    ProcflowError,
    StoreError,
    TransitionNotAllowed,
    UnknownAgency,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AdapterError",
    "ConcurrencyConflict",
    "DefinitionError",
    "DossierNotFound",
    "EnvelopeRejected",
    "GuardRejected",
    "JurisdictionError",
    "NotCustodian",
    "ProcflowError",
    "StoreError",
    "TransitionNotAllowed",
    "UnknownAgency",
    "__version__",
]
