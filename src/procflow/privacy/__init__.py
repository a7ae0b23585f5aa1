"""Personal data and who may see it: officials and their identity, checked and audited reads, the vault, keys,
masking, the tamper-evident log and its anchors, retention.

Everything that decides who acts or touches a citizen's ID number, phone or address goes through this
package, so a reviewer auditing how procflow handles personal data reads one folder.
"""

from procflow.privacy.access import AccessDecision, AccessPolicy, Reader, record_disclosure
from procflow.privacy.anchor import AnchorReport, verify_anchor
from procflow.privacy.checkpoint import Checkpointer, export_checkpoints, take_checkpoint
from procflow.privacy.credential import acting_actor
from procflow.privacy.directory import Directory, Official
from procflow.privacy.env_keys import EnvKeyProvider
from procflow.privacy.hashchain import VerifyReport
from procflow.privacy.hashchain import verify as verify_log
from procflow.privacy.identity import DirectoryIdentity, HookIdentity, IdentityProvider
from procflow.privacy.keys import FileKeyProvider, KeyProvider, StaticKeyProvider
from procflow.privacy.logging_setup import configure_logging
from procflow.privacy.masking import mask_dossier, mask_event, mask_json, mask_record, mask_text, mask_value
from procflow.privacy.retention import RetentionReport, apply_retention
from procflow.privacy.vault import Vault

__all__ = [
    "AccessDecision",
    "AccessPolicy",
    "AnchorReport",
    "Checkpointer",
    "Directory",
    "DirectoryIdentity",
    "EnvKeyProvider",
    "FileKeyProvider",
    "HookIdentity",
    "IdentityProvider",
    "KeyProvider",
    "Official",
    "Reader",
    "RetentionReport",
    "StaticKeyProvider",
    "Vault",
    "VerifyReport",
    "acting_actor",
    "apply_retention",
    "configure_logging",
    "export_checkpoints",
    "mask_dossier",
    "mask_event",
    "mask_json",
    "mask_record",
    "mask_text",
    "mask_value",
    "record_disclosure",
    "take_checkpoint",
    "verify_anchor",
    "verify_log",
]
