"""The personal-data vault: citizens' personal values live here, encrypted, and dossiers point to them.

Where values live
    A declared personal field (``personal = "national_id"`` …) never reaches the ``dossiers`` or ``events``
    tables. The engine writes the personal values an event sets as ONE vault row keyed by
    ``(dossier_id, seq)`` (AES-256-GCM, a fresh 96-bit nonce, the dossier and seq bound in as associated
    data, the key id stored beside the ciphertext), and puts a reference in their place::

        "applicant_national_id": {"$vault": "311.20.99.H92-260420-0001/1/applicant_national_id"}

    Snapshots and events hold only references, so the event log stays append-only and its hash chain
    intact while retention erases values and key rotation re-encrypts them.

Reading
    ``Engine.get`` / ``history`` / ``replay`` (the internal, system path) resolve references to real
    values; ``Store.get`` returns the references as stored. ``Engine.read`` (``procflow.privacy.access``) is the
    path for people: access-checked, audited, masked.

Finding a dossier by national ID
    ``vault_index`` holds HMAC-SHA256(index key, normalised ID) → dossier, so a lookup needs the index
    key, and the table alone says nothing.

Switches
    ``Vault(store, encrypt=False)`` keeps the separate table but stores plaintext (``key_id = 'plain'``):
    only for benchmarks and migrations; ``procflow keys rotate`` later encrypts such rows.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from procflow.errors import KeysUnavailable, UsageError, VaultError
from procflow.privacy.env_keys import default_key_provider
from procflow.privacy.keys import FileKeyProvider, KeyProvider
from procflow.privacy.rotation import KeyRotation
from procflow.privacy.sealed import ERASED, MARKER, PLAIN, has_refs, normalise_id, parse_ref
from procflow.privacy.sealed import PLAINTEXT_JSON as _JSON

__all__ = [
    "Vault",
    "VaultError",
]

log = logging.getLogger("procflow.privacy.vault")

_NONCE = 12


def _aad(dossier_id: str, seq: int) -> bytes:
    """Binds a ciphertext to its entry: moved to another dossier or seq, it no longer decrypts.
    (``_seal_bytes`` inlines it: keep the two in step.)"""
    return f"procflow-vault-1|{dossier_id}|{seq}".encode()




class _Sql:
    """Where the vault's rows live: the store's vault methods (``procflow.store.contracts.VaultRecords``), on the
    store's own connection (so they join the store's transaction: a vault row commits with its snapshot and
    event, or not at all).

    A store that spreads dossiers over several stores (the parallel simulator's ``PartitionStore``) names
    the one holding a dossier with ``store_for(dossier_id)``; vault rows follow their dossier there."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.route = getattr(store, "store_for", None) or getattr(store, "_for", None)

    def target(self, dossier_id: str | None) -> Any:
        if self.route is not None:
            return self.route(dossier_id) if dossier_id is not None else getattr(self.store, "primary", self.store)
        return self.store

    def keyring(self) -> Any:
        """Where the ids of the keys this store needs are kept: the store itself when it keeps them (a
        partition store keeps its process's own, since each simulation process seals with its own keys)."""
        return self.store if callable(getattr(self.store, "vault_key_ids", None)) else self.target(None)

    def record_key(self, key_id: str) -> None:
        """Remember that ``key_id`` sealed a value of this store (``vault_keys``, in the caller's transaction)."""
        self.keyring().record_vault_key(key_id)


class Vault(KeyRotation):
    """Seals personal values into the store's ``vault`` table and opens them again.

    ``keys`` defaults to :func:`procflow.privacy.env_keys.default_key_provider` for the store's location, created
    lazily: a store whose procedures declare no personal field never needs a key.
    """

    def __init__(self, store: Any, keys: KeyProvider | None = None, *, encrypt: bool = True,
                 location: str | None = None) -> None:
        self.store = store
        self.encrypt = encrypt
        self._keys = keys
        self._location = location
        self._sql = _Sql(store)
        self._aead: dict[str, AESGCM] = {}  # a key id names one key forever, so its cipher is cached
        self._recorded: set[str] | None = None  # key ids this store already lists in vault_keys
        self._checked = False

    @property
    def keys(self) -> KeyProvider:
        """The key provider, checked once against what the store needs (:meth:`check_keys`) before any use:
        a store whose values were sealed with keys this provider lacks is refused, never given new keys."""
        if self._keys is None:
            loc = self._location or getattr(self.store, "path", None) or getattr(self.store, "url", None)
            self._keys = default_key_provider(loc)
        if not self._checked:
            self.check_keys()
        return self._keys

    # -- which keys the store needs -----------------------------------------------------------------------
    def needed_key_ids(self) -> list[str]:
        """Ids of the keys that sealed this store's values (recorded in ``vault_keys`` as they are used)."""
        return list(self._sql.keyring().vault_key_ids(exclude=(PLAIN, ERASED)))

    def key_provider(self) -> KeyProvider:
        """The provider, without checking it against the store (the event log asks it for its chain key on
        every store, with or without personal values; ``procflow.privacy.anchor``)."""
        if self._keys is None:
            loc = self._location or getattr(self.store, "path", None) or getattr(self.store, "url", None)
            self._keys = default_key_provider(loc)
        return self._keys

    def present_key_ids(self) -> list[str]:
        """Ids of the data keys the provider holds ([] when its keyring file does not exist yet)."""
        provider = self._keys
        if provider is None:
            loc = self._location or getattr(self.store, "path", None) or getattr(self.store, "url", None)
            provider = self._keys = default_key_provider(loc)
        if isinstance(provider, FileKeyProvider) and not provider.exists():
            return []
        return provider.key_ids()

    def _provider_description(self) -> str:
        provider = self._keys
        if isinstance(provider, FileKeyProvider):
            return (f"the keyring file {provider.path}"
                    + (" (from PROCFLOW_KEYS_FILE)" if os.environ.get("PROCFLOW_KEYS_FILE") else "")
                    + (", which does not exist" if not provider.exists() else ""))
        if type(provider).__name__ == "EnvKeyProvider":
            return "the environment variable PROCFLOW_VAULT_KEYS"
        return f"the key provider {provider!r}"

    def check_keys(self) -> None:
        """Raise :class:`KeysUnavailable` when the store holds values sealed with keys the provider lacks,
        naming where procflow looked and what to do. Nothing is created or written."""
        if self._keys is None:
            loc = self._location or getattr(self.store, "path", None) or getattr(self.store, "url", None)
            self._keys = default_key_provider(loc)
        needed = self.needed_key_ids()
        if needed:
            missing = sorted(set(needed) - set(self.present_key_ids()))
            if missing:
                raise KeysUnavailable(
                    f"this store holds personal values sealed with key(s) {', '.join(missing)}, which are not in "
                    f"{self._provider_description()} (procflow looks in $PROCFLOW_VAULT_KEYS, then "
                    "$PROCFLOW_KEYS_FILE or --keys, then <store>.keys beside the store, and never makes new keys "
                    "for a store that already has sealed values): restore this store's keyring (`procflow "
                    "restore`, or copy <store>.keys beside it) or point PROCFLOW_KEYS_FILE / --keys at it")
        self._checked = True

    # -- crypto -----------------------------------------------------------------------------------------
    def _cipher(self, key_id: str) -> AESGCM:
        aead = self._aead.get(key_id)
        if aead is None:
            aead = self._aead[key_id] = AESGCM(self.keys.key(key_id))
        return aead

    def _seal_bytes(self, dossier_id: str, seq: int, plaintext: bytes) -> tuple[str, bytes]:
        if not self.encrypt:
            return PLAIN, plaintext
        key_id = (self._keys if self._checked else self.keys).active_key_id()  # type: ignore[union-attr]
        recorded = self._recorded
        if recorded is None or key_id not in recorded:
            self._note_key(key_id)
        aead = self._aead.get(key_id) or self._cipher(key_id)
        nonce = os.urandom(_NONCE)  # random 96-bit nonce per value (NIST SP 800-38D 8.2.2)
        return key_id, nonce + aead.encrypt(nonce, plaintext, f"procflow-vault-1|{dossier_id}|{seq}".encode())

    def _note_key(self, key_id: str) -> None:
        """First seal with ``key_id`` by this vault: make sure the store lists it (once per key, not per value).
        Runs inside the sealing transaction; if that rolls back the id is still remembered here, which only
        costs a later :meth:`check_keys` its list entry — the values themselves still carry their key id."""
        if self._recorded is None:
            self._recorded = set(self.needed_key_ids())
        if key_id not in self._recorded:
            self._sql.record_key(key_id)
            self._recorded.add(key_id)

    def _open_bytes(self, dossier_id: str, seq: int, key_id: str, blob: bytes | None) -> dict[str, Any] | None:
        if blob is None or key_id == ERASED:
            return None
        blob = bytes(blob)
        if key_id == PLAIN:
            plaintext = blob
        else:
            try:
                plaintext = self._cipher(key_id).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(dossier_id, seq))
            except InvalidTag as exc:
                raise VaultError(f"vault entry {dossier_id}/{seq} does not decrypt with key {key_id!r} "
                                 "(tampered, moved, or a different key under the same id)") from exc
            except KeysUnavailable as exc:
                if not self._checked:  # the store's keys are missing altogether: keep the type, name the entry
                    raise KeysUnavailable(f"vault entry {dossier_id}/{seq}: {exc}") from exc
                raise VaultError(f"vault entry {dossier_id}/{seq}: {exc}") from exc
        return json.loads(plaintext)  # type: ignore[no-any-return]

    def open_entry(self, dossier_id: str, seq: int, key_id: str, blob: bytes | None) -> dict[str, Any] | None:
        """Open one stored entry (``procflow.privacy.anchor`` checks each entry an event references): raises
        :class:`VaultError` when it does not decrypt as entry ``seq`` of ``dossier_id``."""
        return self._open_bytes(dossier_id, seq, key_id, blob)

    def digest(self, value: Any) -> str:
        """HMAC-SHA256 of a normalised national ID under the index key (the lookup token)."""
        return hmac.new(self.keys.index_key(), normalise_id(value).encode(), sha256).hexdigest()

    # -- write ------------------------------------------------------------------------------------------
    def seal(self, dossier_id: str, seq: int, values: Mapping[str, Any],
             kinds: Mapping[str, str]) -> dict[str, Any]:
        """Store the personal values among ``values`` (fields named in ``kinds``) as event ``seq`` of
        ``dossier_id``; return ``values`` with references in their place. Call inside the transaction that
        writes the event. A reference passed in (a value copied from a stored record) is opened first."""
        if has_refs(values):
            values = self.resolve(values)
        personal = {k: v for k, v in values.items() if v is not None and k in kinds}
        if not personal:
            return dict(values)
        key_id, blob = self._seal_bytes(dossier_id, seq, _JSON(personal).encode())
        store = self._sql.target(dossier_id)
        store.put_vault_value(dossier_id, seq, key_id, blob)
        out = dict(values)
        prefix = f"{dossier_id}/{seq}/"
        for field, value in personal.items():
            out[field] = {MARKER: prefix + field}
            if kinds[field] == "national_id" and value != "":
                store.add_vault_index(self.digest(value), dossier_id, field)
        return out

    # -- read -------------------------------------------------------------------------------------------
    def _rows(self, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any] | None]:
        out: dict[tuple[str, int], dict[str, Any] | None] = {}
        by_dossier: dict[str, list[int]] = {}
        for did, seq in wanted:
            by_dossier.setdefault(did, []).append(seq)
        for did, seqs in by_dossier.items():
            for seq, key_id, blob in self._sql.target(did).vault_values(did, seqs):
                out[(did, seq)] = self._open_bytes(did, seq, key_id, blob)
        missing = wanted - out.keys()
        if missing:
            did, seq = sorted(missing)[0]
            raise VaultError(f"vault entry {did}/{seq} is missing (the store's vault table was not copied "
                             "with its dossiers?)")
        return out

    def resolve(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with every reference replaced by its value (None once retention erased it)."""
        refs = {k: parse_ref(v) for k, v in data.items() if type(v) is dict and MARKER in v}
        if not refs:
            return dict(data)
        rows = self._rows({(did, seq) for did, seq, _ in refs.values()})
        out = dict(data)
        for k, (did, seq, field) in refs.items():
            row = rows[(did, seq)]
            out[k] = None if row is None else row.get(field)
        return out

    def resolve_many(self, datas: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Several mappings at once (a dossier's events): one query per dossier, not per event."""
        datas = list(datas)
        wanted = {(did, seq) for d in datas for v in d.values() if type(v) is dict and MARKER in v
                  for did, seq, _ in [parse_ref(v)]}
        if not wanted:
            return [dict(d) for d in datas]
        rows = self._rows(wanted)
        out = []
        for d in datas:
            r = dict(d)
            for k, v in d.items():
                if type(v) is dict and MARKER in v:
                    did, seq, field = parse_ref(v)
                    row = rows[(did, seq)]
                    r[k] = None if row is None else row.get(field)
            out.append(r)
        return out

    def resolve_json(self, value: Any) -> Any:
        """Any JSON-like structure (an outbox payload) with every reference in it opened — for a machine
        channel about to deliver it; audit the disclosure (``procflow.privacy.access.record_disclosure``)."""
        if type(value) is dict:
            if MARKER in value:
                return self.resolve({"v": value})["v"]
            return {k: self.resolve_json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve_json(v) for v in value]
        return value

    def find_national_id(self, value: Any) -> list[str]:
        """Dossier ids whose national-ID fields hold ``value`` (through the HMAC index)."""
        if not self._checked:
            self.keys  # noqa: B018 - refuse a store whose keys are missing
        store = self._sql.target(None)
        if not self.needed_key_ids() and not store.has_vault_index():
            return []  # nothing sealed yet: no keyring needed (and none is made by a search)
        return sorted(set(store.vault_index_lookup(self.digest(value))))

    # -- retention --------------------------------------------------------------------------------------
    def live_entries(self, dossier_id: str) -> int:
        """Vault entries of a dossier that still hold a value."""
        return int(self._sql.target(dossier_id).vault_live_entries(dossier_id))

    def live_owners(self, prefix: str) -> list[str]:
        """Owner ids starting with ``prefix`` that still hold values — owners other than dossiers, such as a
        liên thông bundle's ``LT-…`` (its data for members not filed yet)."""
        if not prefix:
            raise UsageError("live_owners needs a prefix")
        return list(self._sql.target(None).vault_live_owners(prefix))

    def erase(self, dossier_id: str, *, at: datetime) -> int:
        """Erase every personal value of a dossier (retention): the rows stay, as tombstones, so references
        still resolve (to None) and the log's hashes are untouched. Returns the number of values erased."""
        n = self.live_entries(dossier_id)
        self._sql.target(dossier_id).erase_vault(dossier_id, key_id=ERASED, at=at)
        return n
