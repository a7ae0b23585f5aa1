"""Key providers for the personal-data vault: where the AES-GCM data keys and the HMAC index key live.

A province plugs in its own key store (an HSM, a KMS, Vault…) by implementing :class:`KeyProvider`; procflow
ships three:

* :class:`FileKeyProvider` — a JSON keyring file (mode 0600), created on the first *write* of a personal
  value, never by a read. The default: for a SQLite store ``X.db`` it is ``X.db.keys`` beside it; for
  PostgreSQL a file under ``~/.config/procflow/keys/``. Point ``PROCFLOW_KEYS_FILE`` somewhere else
  (another disk, a secrets mount) in production: a backup of the database alone then holds no readable personal data.
* :class:`EnvKeyProvider` — keys from the environment (``PROCFLOW_VAULT_KEYS="k1:<base64>,k2:<base64>"``,
  the first is active; ``PROCFLOW_VAULT_INDEX_KEY=<base64>``), for containers whose secrets arrive as
  variables. It cannot create keys: rotate by putting a new key first in the variable.
* :class:`StaticKeyProvider` — keys in memory, for tests and ``:memory:`` stores.

Every stored value records the id of the key that encrypted it, so keys rotate without a flag day:
``procflow keys rotate`` makes a new key active and re-encrypts the old values in batches.
Key ids are derived from the key itself (:func:`key_id_for`, a fingerprint), never a counter such as ``k1``:
two keyrings made separately for one store (a restored database without its keyring) can never hold two
different keys under one id, so a value can never be "opened" with the wrong key.
The index key (HMAC-SHA256, for finding a dossier by national ID) is separate from the data keys.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from procflow.errors import KeysUnavailable

__all__ = [
    "REFRESH_SECONDS",
    "RETIRE_GRACE_SECONDS",
    "SIGNING_KINDS",
    "FileKeyProvider",
    "KeyProvider",
    "KeysUnavailable",
    "StaticKeyProvider",
    "key_id_for",
    "signing_keys",
]

KEY_BYTES = 32  # AES-256-GCM; HMAC-SHA256
REFRESH_SECONDS = 1.0  # a FileKeyProvider looks at its file for a rotation at most this often
# A retired key leaves the keyring only after every process has had time to notice the new active key (more
# than one refresh), so no value is sealed with it afterwards (procflow.privacy.vault.Vault.rotate).
RETIRE_GRACE_SECONDS = 3 * REFRESH_SECONDS
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@runtime_checkable
class KeyProvider(Protocol):
    """The seam for a province's own key store."""

    def active_key_id(self) -> str:
        """The id of the key new values are encrypted with."""
        ...

    def key(self, key_id: str) -> bytes:
        """The 32-byte data key ``key_id``; raise :class:`KeysUnavailable` if unknown."""
        ...

    def key_ids(self) -> list[str]:
        """Every data key id this provider knows (active and retired-but-still-readable)."""
        ...

    def index_key(self) -> bytes:
        """The 32-byte HMAC key of the national-ID index (not rotated with the data keys)."""
        ...

    def new_active_key(self) -> str:
        """Create a data key, make it active, persist that, and return its id (``procflow keys rotate``)."""
        ...

    def retire(self, key_id: str) -> None:
        """Forget a data key that no stored value uses any more."""
        ...


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise KeysUnavailable(f"{where}: not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeysUnavailable(f"{where}: a key must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def key_id_for(key: bytes) -> str:
    """The id of a data key: a fingerprint of the key (``k-`` + 16 hex digits of a domain-separated SHA-256).
    Two different keys never share an id, whatever keyring they were made in; the fingerprint of a random
    256-bit key says nothing about the key."""
    return "k-" + hashlib.sha256(b"procflow-vault-key-id\0" + key).hexdigest()[:16]


def _new_key() -> tuple[str, bytes]:
    raw = secrets.token_bytes(KEY_BYTES)
    return key_id_for(raw), raw


# The log's own keys (``procflow.privacy.anchor``), beside the vault's: "chain" keys the HMAC of every event's link,
# "checkpoint" signs the checkpoints of all dossiers' heads (an Ed25519 seed, so a copy elsewhere verifies with
# the public key alone). Neither is ever made implicitly: ``procflow keys init`` / ``--checkpoint`` make them.
SIGNING_KINDS = ("chain", "checkpoint")


def signing_key_id(kind: str, raw: bytes) -> str:
    """``c-`` / ``p-`` + 16 hex digits of a domain-separated SHA-256: the id names the key forever."""
    prefix = "c-" if kind == "chain" else "p-"
    return prefix + hashlib.sha256(f"procflow-{kind}-key-id\0".encode() + raw).hexdigest()[:16]


def signing_keys(provider: object, kind: str) -> tuple[str | None, dict[str, bytes]]:
    """``(active id or None, every id -> key)`` of the provider's ``kind`` keys; a provider without the
    optional ``signing_keys`` method (a province's own, not upgraded yet) has none: its log stays unkeyed."""
    method = getattr(provider, "signing_keys", None)
    if method is None:
        return None, {}
    active, keys = method(kind)
    return active, dict(keys)


class StaticKeyProvider:
    """Keys held in memory. ``StaticKeyProvider.generate()`` makes a fresh random keyring."""

    def __init__(self, keys: Mapping[str, bytes], active: str, index_key: bytes) -> None:
        if active not in keys:
            raise KeysUnavailable(f"active key {active!r} is not among the keys ({', '.join(keys)})")
        self._keys = dict(keys)
        self._active = active
        self._index = index_key
        self._signing: dict[str, tuple[str | None, dict[str, bytes]]] = {k: (None, {}) for k in SIGNING_KINDS}

    def __repr__(self) -> str:
        return f"StaticKeyProvider(in memory, {len(self._keys)} key(s))"

    def signing_keys(self, kind: str) -> tuple[str | None, dict[str, bytes]]:
        return self._signing[kind]

    def new_signing_key(self, kind: str) -> str:
        """Make a ``kind`` key active (the old ones stay, to verify what they signed)."""
        raw = secrets.token_bytes(KEY_BYTES)
        kid = signing_key_id(kind, raw)
        self._signing[kind] = (kid, {**self._signing[kind][1], kid: raw})
        return kid

    @classmethod
    def generate(cls) -> StaticKeyProvider:
        kid, raw = _new_key()
        return cls({kid: raw}, kid, secrets.token_bytes(KEY_BYTES))

    def active_key_id(self) -> str:
        return self._active

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise KeysUnavailable(f"data key {key_id!r} is not in this key provider") from None

    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def index_key(self) -> bytes:
        return self._index

    def new_active_key(self) -> str:
        kid, raw = _new_key()
        self._keys[kid] = raw
        self._active = kid
        return kid

    def retire(self, key_id: str) -> None:
        if key_id == self._active:
            raise KeysUnavailable(f"key {key_id!r} is active; rotate before retiring it")
        self._keys.pop(key_id, None)


class FileKeyProvider:
    """A JSON keyring file: ``{"format": 1, "active": "k2", "keys": {"k1": b64, "k2": b64}, "index_key": b64}``.

    Created (mode 0600) the first time a value is sealed (``active_key_id``) — reading (``key``, ``key_ids``,
    ``index_key``) never creates it; rewritten atomically (temp file, fsync, rename) on rotation. A key id
    it does not know makes it re-read the file, so a process keeps reading values that
    another process re-encrypted with a newer key.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        self.create = create
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None
        self._mtime = 0
        self._checked = 0.0

    def __repr__(self) -> str:
        return f"FileKeyProvider({str(self.path)!r})"

    # -- file -------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _load(self, *, reload: bool = False, create: bool = False) -> dict[str, Any]:
        with self._lock:
            if self._data is not None and not reload:
                return self._data
            if not self.path.exists():
                if not (create and self.create):
                    raise KeysUnavailable(f"no keyring at {self.path}: restore the keyring that belongs to this "
                                          "store (procflow restore), or point PROCFLOW_KEYS_FILE / --keys at it")
                kid, raw = _new_key()
                self._write({"format": 1, "active": kid, "keys": {kid: _b64(raw)},
                             "index_key": _b64(secrets.token_bytes(KEY_BYTES))}, exclusive=True)
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise KeysUnavailable(f"cannot read keyring {self.path}: {exc}") from exc
            if not isinstance(data, dict) or data.get("format") != 1 or data.get("active") not in data.get("keys", {}):
                raise KeysUnavailable(f"{self.path} is not a procflow keyring (format 1 with an active key)")
            self._data = data
            self._mtime = self.path.stat().st_mtime_ns
            return data

    def _write(self, data: dict[str, Any], *, exclusive: bool = False) -> None:
        """Atomically (temp file, fsync, rename). ``exclusive``: only if no keyring exists yet — two processes
        making the first keyring at once must not each seal values with a key the other then overwrites; the
        loser of the race keeps the winner's file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                try:
                    os.link(tmp, self.path)  # atomic, and fails if another process made the keyring first
                except FileExistsError:
                    pass
                os.unlink(tmp)
            else:
                os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    # -- provider ---------------------------------------------------------------------------------------
    def active_key_id(self) -> str:
        """Re-reads the file when it changed (checked at most once a second), so a long-running engine
        follows a rotation made by another process."""
        data = self._data  # the fast path (every sealed value asks): no lock once the keyring is loaded
        if data is None:
            data = self._load(create=True)  # the write path: the one place a keyring is made
        now = time.monotonic()
        if now - self._checked < REFRESH_SECONDS:  # look at the file at most once a second
            return data["active"]  # type: ignore[no-any-return]
        self._checked = now
        try:
            changed = self.path.stat().st_mtime_ns != self._mtime
        except OSError:
            changed = False
        return str((self._load(reload=True) if changed else data)["active"])

    def key(self, key_id: str) -> bytes:
        data = self._load()
        if key_id not in data["keys"]:
            data = self._load(reload=True)
        if key_id not in data["keys"]:
            raise KeysUnavailable(f"data key {key_id!r} is not in keyring {self.path}")
        return _unb64(data["keys"][key_id], f"{self.path}: keys.{key_id}")

    def key_ids(self) -> list[str]:
        return sorted(self._load(reload=True)["keys"])

    def index_key(self) -> bytes:
        # Asked when a national ID is sealed (a write) — or searched for, which the vault does only once
        # values exist, so the keyring does too.
        return _unb64(self._load(create=True)["index_key"], f"{self.path}: index_key")

    def new_active_key(self) -> str:
        data = dict(self._load(reload=True, create=True))
        keys = dict(data["keys"])
        kid, raw = _new_key()
        keys[kid] = _b64(raw)
        data.update(keys=keys, active=kid)
        with self._lock:
            self._write(data)
            self._data = data
            self._mtime = self.path.stat().st_mtime_ns
        return kid

    def signing_keys(self, kind: str) -> tuple[str | None, dict[str, bytes]]:
        """The keyring's ``kind`` keys (none when the keyring or the section does not exist: never created
        here). Re-read when the file changed, so a rotation by ``procflow keys rotate`` is followed."""
        if not self.path.exists():
            return None, {}
        section = self._load(reload=self._changed()).get(kind) or {}
        keys = {kid: _unb64(b64, f"{self.path}: {kind}.{kid}") for kid, b64 in (section.get("keys") or {}).items()}
        active = section.get("active")
        return (active if active in keys else None), keys

    def _changed(self) -> bool:
        try:
            return self.path.stat().st_mtime_ns != self._mtime
        except OSError:
            return False

    def new_signing_key(self, kind: str) -> str:
        """Add a ``kind`` key to the keyring and make it active (creates the keyring when missing: the explicit
        ``procflow keys init`` / ``keys rotate`` path)."""
        data = dict(self._load(reload=True, create=True))
        section = dict(data.get(kind) or {})
        raw = secrets.token_bytes(KEY_BYTES)
        kid = signing_key_id(kind, raw)
        section["keys"] = {**(section.get("keys") or {}), kid: _b64(raw)}
        section["active"] = kid
        data[kind] = section
        with self._lock:
            self._write(data)
            self._data = data
            self._mtime = self.path.stat().st_mtime_ns
        return kid

    def retire(self, key_id: str) -> None:
        data = dict(self._load(reload=True))
        if key_id == data["active"]:
            raise KeysUnavailable(f"key {key_id!r} is active; rotate before retiring it")
        keys = {k: v for k, v in data["keys"].items() if k != key_id}
        data["keys"] = keys
        with self._lock:
            self._write(data)
            self._data = data
            self._mtime = self.path.stat().st_mtime_ns


