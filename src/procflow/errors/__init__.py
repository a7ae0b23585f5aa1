"""Typed errors: every refusal procflow makes is one of these.

::

    ProcflowError
    ├── DefinitionError (ValueError)        a procedure definition is malformed; .problems lists each one
    │   └── CatalogueError                  a province's catalogue file is malformed (row N, column C)
    ├── InvalidData (ValueError)            dossier data the procedure does not declare / a missing field
    ├── JurisdictionError (LookupError)
    │   └── UnknownAgency                   an agency / province / commune code that does not exist
    ├── TransitionNotAllowed                the trigger cannot fire from the dossier's state
    │   └── GuardRejected                   a named guard said no
    ├── NotCustodian (PermissionError)      the acting agency does not hold the dossier, or the wrong level
    ├── RoleNotGranted (PermissionError)    the custodian agency's official lacks the role the step needs
    ├── AccessDenied (PermissionError)      a read by an agency off the dossier's custody path
    ├── UnknownOfficial (PermissionError)   the identity provider does not know the acting official (or not
    │                                       for that agency, or not on that date)
    ├── CredentialError (PermissionError)   the operator's credential file is missing, unsafe or wrong
    ├── OperatorRoleMissing (PermissionError) the operator lacks the role a command needs (store:admin)
    ├── DelegationRefused (PermissionError) an operator acting for an official the directory does not let them
    ├── DirectoryError (ValueError)         a bad change to the officials directory; .row / .column for imports
    ├── ConcurrencyConflict                 the dossier changed since it was read (optimistic version check)
    ├── DossierNotFound (KeyError)
    ├── StoreError                          the store refused (schema mismatch, definition conflict, ...)
    ├── CalendarError (ValueError)          a date the working calendar cannot count
    ├── ExtensionRefused (ValueError)       form 04: after the due date, a second time, no reason, bad date
    ├── FormNotAvailable (LookupError)      a one-stop form the dossier's history does not support
    ├── PluginError                         a plugin failed to load or implements a hook wrongly
    ├── AdapterError                        an adapter failed to deliver
    │   ├── RetryableAdapterError
    │   └── PermanentAdapterError
    ├── KeysUnavailable                     a key the vault needs is not in the key provider
    ├── VaultError                          a vault value could not be read (missing, wrong key, tampered)
    │   └── UnsealedValue                   an outbox row would hold a personal value with no vault reference
    ├── AnchorUnavailable                   no checkpoint key to anchor the log, or an unreadable anchor file
    ├── MigrationRefused                    in-flight dossiers cannot move to another unit or version
    ├── HandoffError (ValueError)           the sending node cannot export a hand-off
    ├── UsageError (ValueError)             an argument the API cannot use (a naive datetime, a batch of 0,
    │                                       time going backwards on a FakeClock, an unknown state name)
    └── EnvelopeRejected (ValueError)       an XML envelope failed a check; .reason is a stable code;
                                            one subclass per code in procflow.exchange.errors

The classes live in modules by concern (``base``, ``inputs``, ``authority``, ``dossiers``, ``systems``);
import them from ``procflow.errors``, which is the public home of the whole tree.

Messages name what was wrong and where. Third-party errors are converted at the boundary with
``raise ... from exc`` so callers only need to catch ``ProcflowError``.
"""

from __future__ import annotations

from procflow.errors.authority import (
    AccessDenied,
    CredentialError,
    DelegationRefused,
    DirectoryError,
    NotCustodian,
    OperatorRoleMissing,
    RoleNotGranted,
    UnknownOfficial,
)
from procflow.errors.base import ProcflowError, UsageError
from procflow.errors.dossiers import (
    ConcurrencyConflict,
    DossierNotFound,
    ExtensionRefused,
    FormNotAvailable,
    GuardRejected,
    MigrationRefused,
    TransitionNotAllowed,
)
from procflow.errors.inputs import (
    CalendarError,
    CalendarWarning,
    CatalogueError,
    DefinitionError,
    InvalidData,
    JurisdictionError,
    Problem,
    UnknownAgency,
)
from procflow.errors.systems import (
    AdapterError,
    AnchorUnavailable,
    EnvelopeRejected,
    HandoffError,
    KeysUnavailable,
    PermanentAdapterError,
    PluginError,
    RetryableAdapterError,
    StoreError,
    UnsealedValue,
    VaultError,
)

__all__ = [
    "AccessDenied",
    "AdapterError",
    "AnchorUnavailable",
    "CalendarError",
    "CalendarWarning",
    "CatalogueError",
    "ConcurrencyConflict",
    "CredentialError",
    "DefinitionError",
    "DelegationRefused",
    "DirectoryError",
    "DossierNotFound",
    "EnvelopeRejected",
    "ExtensionRefused",
    "FormNotAvailable",
    "GuardRejected",
    "HandoffError",
    "InvalidData",
    "JurisdictionError",
    "KeysUnavailable",
    "MigrationRefused",
    "NotCustodian",
    "OperatorRoleMissing",
    "PermanentAdapterError",
    "PluginError",
    "Problem",
    "ProcflowError",
    "RetryableAdapterError",
    "RoleNotGranted",
    "StoreError",
    "TransitionNotAllowed",
    "UnknownAgency",
    "UnknownOfficial",
    "UnsealedValue",
    "UsageError",
    "VaultError",
]
