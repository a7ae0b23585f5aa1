"""Keys from the environment, and the choice of key provider for a store.

A deployment that keeps its keys in a secrets manager hands them to procflow through the environment; the
file keyring (procflow.privacy.keys) is the default beside a SQLite store.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from procflow.errors import KeysUnavailable
from procflow.privacy.keys import (
    _ID,
    SIGNING_KINDS,
    FileKeyProvider,
    KeyProvider,
    StaticKeyProvider,
    _unb64,
)

__all__ = [
    "EnvKeyProvider",
    "default_key_provider",
]


class EnvKeyProvider:
    """Keys from environment variables (read once). The first key in ``PROCFLOW_VAULT_KEYS`` is active."""

    def __repr__(self) -> str:
        return "EnvKeyProvider(PROCFLOW_VAULT_KEYS)"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        spec = env.get("PROCFLOW_VAULT_KEYS", "")
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for i, item in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, b64 = item.partition(":")
            if not sep or not _ID.match(kid):
                raise KeysUnavailable(f"PROCFLOW_VAULT_KEYS item {i + 1}: expected 'id:base64key'")
            keys[kid] = _unb64(b64, f"PROCFLOW_VAULT_KEYS {kid}")
            order.append(kid)
        if not order:
            raise KeysUnavailable("PROCFLOW_VAULT_KEYS is empty")
        index = env.get("PROCFLOW_VAULT_INDEX_KEY")
        if not index:
            raise KeysUnavailable("PROCFLOW_VAULT_INDEX_KEY is not set")
        self._static = StaticKeyProvider(keys, order[0], _unb64(index, "PROCFLOW_VAULT_INDEX_KEY"))
        for kind in SIGNING_KINDS:  # PROCFLOW_CHAIN_KEYS / PROCFLOW_CHECKPOINT_KEYS="id:base64,…", first active
            var = f"PROCFLOW_{kind.upper()}_KEYS"
            pairs = [p.strip().partition(":") for p in env.get(var, "").split(",") if p.strip()]
            found = {kid: _unb64(b64, f"{var} {kid}") for kid, _, b64 in pairs}
            if found:
                self._static._signing[kind] = (pairs[0][0], found)

    def signing_keys(self, kind: str) -> tuple[str | None, dict[str, bytes]]:
        return self._static.signing_keys(kind)

    def active_key_id(self) -> str:
        return self._static.active_key_id()

    def key(self, key_id: str) -> bytes:
        return self._static.key(key_id)

    def key_ids(self) -> list[str]:
        return self._static.key_ids()

    def index_key(self) -> bytes:
        return self._static.index_key()

    def new_active_key(self) -> str:
        raise KeysUnavailable("keys from the environment cannot be created by procflow: put a new 'id:base64' "
                              "first in PROCFLOW_VAULT_KEYS (keep the old ones after it), restart, then run "
                              "`procflow keys rotate`")

    def retire(self, key_id: str) -> None:
        raise KeysUnavailable("remove the key from PROCFLOW_VAULT_KEYS instead")


def default_key_provider(location: str | None) -> KeyProvider:
    """The provider a store gets when none is configured.

    ``PROCFLOW_VAULT_KEYS`` → :class:`EnvKeyProvider`; ``PROCFLOW_KEYS_FILE`` → that keyring file; a SQLite
    file ``X`` → ``X.keys`` beside it; ``:memory:`` → random keys that live as long as the process;
    PostgreSQL → ``~/.config/procflow/keys/<hash of the URL without its password>.json``.
    """
    if os.environ.get("PROCFLOW_VAULT_KEYS"):
        return EnvKeyProvider()
    explicit = os.environ.get("PROCFLOW_KEYS_FILE")
    if explicit:
        return FileKeyProvider(explicit)
    loc = location or ":memory:"
    if loc.startswith(("postgresql://", "postgres://")):
        safe = re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", loc)
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "procflow" / "keys"
        return FileKeyProvider(base / f"{hashlib.sha256(safe.encode()).hexdigest()[:16]}.json")
    loc = loc.removeprefix("sqlite:///").removeprefix("sqlite://")
    if loc in ("", ":memory:") or loc.startswith("file::memory:"):
        return StaticKeyProvider.generate()
    return FileKeyProvider(loc + ".keys")

