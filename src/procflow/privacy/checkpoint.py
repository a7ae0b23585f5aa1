"""Signed checkpoints of every dossier's chain head (issue 19; ``procflow.privacy.anchor`` checks the store against
them). Why a checkpoint: the keyed chain stops someone without the key from rewriting a log, but not from
deleting a whole dossier or cutting a log's tail with its snapshot rolled back. A checkpoint records every
dossier's head ``(dossier, seq, link)`` in ``anchor_heads`` (kept after a dossier disappears), their running
SHA-256 (the root), the access audit's chain head and the previous checkpoint's digest, signed with the
checkpoint key (Ed25519, so an exported copy verifies with the public key it carries). A worker takes one every
``CHECKPOINT_INTERVAL`` seconds and at shutdown, one leader at a time on PostgreSQL. No checkpoint key, no
checkpoint: the key is only ever made by ``procflow keys init --checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from procflow.errors import AnchorUnavailable, ProcflowError, UsageError
from procflow.privacy.hashchain import GENESIS
from procflow.privacy.keys import signing_keys
from procflow.store.base import CheckpointRow

__all__ = [
    "CHECKPOINT_INTERVAL",
    "AnchorUnavailable",
    "Checkpointer",
    "checkpointing",
    "export_checkpoints",
    "heads_root",
    "load_anchor",
    "take_checkpoint",
]

log = logging.getLogger("procflow.privacy.checkpoint")

CHECKPOINT_INTERVAL = 60.0  # seconds between checkpoints taken by a worker (``--checkpoint-every``)
SHUTDOWN_WAIT = 10.0  # seconds a stopping writer waits for another leader's checkpoint to end, to take its own
_FORMAT = "procflow-checkpoints-1"


# -- the checkpoint --------------------------------------------------------------------------------------------
def heads_root(rows: Iterable[tuple[str, int, bytes]]) -> bytes:
    """Running SHA-256 over ``(dossier, seq, head)`` in dossier order: equal roots, equal head sets."""
    h = hashlib.sha256(b"procflow-heads-1")
    for did, seq, head in rows:
        h.update(ascii((did, seq, len(head))).encode("ascii") + head)
    return h.digest()


def _audit_head(store: Any) -> tuple[int, bytes]:
    count, head = store.audit_head()
    return int(count), head or GENESIS


def take_checkpoint(store: Any, provider: object, *, now: datetime | None = None, kind: str = "checkpoint",
                    detail: str = "", force: bool = False, wait: float = 0.0) -> CheckpointRow | None:
    """Anchor every dossier's current head; returns the checkpoint, or None when nothing changed since the
    last one (unless ``force``) or another process is the leader — for up to ``wait`` seconds it tries again
    (a writer's last checkpoint at shutdown must cover its own last writes, which the leader's checkpoint in
    progress may have missed). Raises :class:`AnchorUnavailable` without a checkpoint key — never makes one."""
    active, keys = signing_keys(provider, "checkpoint")
    if active is None:
        raise AnchorUnavailable("no checkpoint key: create one explicitly with `procflow keys init --checkpoint` "
                                "(the log stays unanchored until then)")
    signer = Ed25519PrivateKey.from_private_bytes(keys[active])
    deadline = time.monotonic() + wait
    while True:
        with store.checkpoint_leader() as leader:
            if leader:
                return _take(store, provider, signer, active, now=now, kind=kind, detail=detail, force=force)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _take(store: Any, provider: object, signer: Ed25519PrivateKey, active: str, *, now: datetime | None, kind: str,
          detail: str, force: bool) -> CheckpointRow | None:
    """One checkpoint, by the leader (the caller holds ``store.checkpoint_leader()``)."""
    at = (now or datetime.now(UTC)).isoformat()
    # Read and hash outside the write transaction (one statement each: a consistent snapshot of heads, every
    # one a prefix of its log), so writers wait only for the short write below, not for the whole scan.
    anchored = {d: (s, h) for d, s, h in store.anchor_heads()}
    moved = [(d, s, h) for d, s, h in store.chain_heads() if h is not None and anchored.get(d) != (s, h)]
    for d, s, h in moved:
        anchored[d] = (s, h)
    rows = [(d, s, h) for d, (s, h) in sorted(anchored.items())]
    audit_rows, audit_head = _audit_head(store)
    root = heads_root(rows).hex()
    with store.transaction():
        prior = store.last_checkpoint()
        last = json.loads(prior.body) if prior is not None else None
        if (not force and kind == "checkpoint" and last is not None and last["root"] == root
                and last["audit"] == [audit_rows, audit_head.hex()]):
            return None
        seq = prior.seq + 1 if prior is not None else 1
        body = json.dumps({"v": 1, "seq": seq, "at": at, "kind": kind, "root": root, "dossiers": len(rows),
                           "events": sum(s for _, s, _ in rows), "audit": [audit_rows, audit_head.hex()],
                           "prev": prior.digest.hex() if prior is not None else GENESIS.hex(), "detail": detail,
                           "chain_key": signing_keys(provider, "chain")[0],
                           "key": active, "public_key": signer.public_key().public_bytes(
                               Encoding.Raw, PublicFormat.Raw).hex()}, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(body.encode()).digest()
        row = CheckpointRow(seq, at, kind, body, digest, active, signer.sign(digest))
        store.save_anchor_heads(moved)
        if not store.add_checkpoint(row):
            return None
    return row


class Checkpointer:
    """Takes a checkpoint every ``interval`` seconds and at shutdown, in a worker's own thread (off the hot
    path: a fire never waits for it). A store without a checkpoint key is left unanchored and says so once,
    never given a key; on PostgreSQL only the worker holding the leader lock writes a checkpoint."""

    def __init__(self, store: Any, provider: object, *, interval: float = CHECKPOINT_INTERVAL,
                 on_unanchored: Callable[[str], None] | None = None) -> None:
        if interval <= 0:
            raise UsageError(f"checkpoint interval must be positive, got {interval:g}")
        self.store = store
        self.provider = provider
        self.interval = interval
        self.taken = 0
        self.unavailable: str | None = None
        self._say = on_unanchored or (lambda text: log.warning("%s", text))
        self._stop = threading.Event()

    def take(self, *, wait: float = 0.0) -> CheckpointRow | None:
        try:
            row = take_checkpoint(self.store, self.provider, wait=wait)
        except AnchorUnavailable as exc:
            if self.unavailable is None:  # said once per run, however many rounds find no key
                self._say(str(exc))  # "no checkpoint key … the log stays unanchored until then"
            self.unavailable = str(exc)
            return None
        except ProcflowError as exc:  # a lost connection, a locked store: try again next round
            log.warning("checkpoint not taken: %s", exc)
            return None
        if row is not None:
            self.taken += 1
        return row

    def run(self) -> None:
        """Until :meth:`stop`: a checkpoint every ``interval`` seconds, and a last one when stopped."""
        while not self._stop.wait(self.interval):
            self.take()
        self.take(wait=SHUTDOWN_WAIT)

    def stop(self) -> None:
        self._stop.set()


@contextmanager
def checkpointing(open_store: Callable[[], Any], provider: object, *, interval: float | None = CHECKPOINT_INTERVAL,
                  on_unanchored: Callable[[str], None] | None = None) -> Iterator[Checkpointer]:
    """Checkpoints for the length of a ``with`` block: every ``interval`` seconds in a thread of their own, on a
    connection of their own (``open_store()``), and one more when the block ends — normally, by an exception,
    or after a signal handler stopped the writer inside it (``interval`` None: only that last one, for a
    one-shot run). Every long-running writer (``procflow worker``, ``procflow timers --run``) wraps its loop in
    this, so no writer leaves its last changes unanchored; on PostgreSQL the leader lock picks one writer."""
    store = open_store()
    anchors = Checkpointer(store, provider, interval=interval or CHECKPOINT_INTERVAL, on_unanchored=on_unanchored)
    thread = None
    if interval is not None:
        thread = threading.Thread(target=anchors.run, name="procflow-checkpoints", daemon=True)
        thread.start()
    try:
        yield anchors
    finally:
        anchors.stop()
        try:
            if thread is None:
                anchors.take(wait=SHUTDOWN_WAIT)
            else:
                thread.join(timeout=60)  # the shutdown checkpoint: one scan of the heads and one short write
        finally:
            store.close()


# -- export ----------------------------------------------------------------------------------------------------
def export_checkpoints(store: Any, to: str | os.PathLike[str]) -> int:
    """Write the checkpoint chain and the latest anchored heads to ``to`` (JSON, mode 0600, atomically):
    the copy to keep somewhere the database administrator cannot reach. Returns the number of checkpoints."""
    chain = store.checkpoints()
    doc = {"format": _FORMAT, "checkpoints": [{"body": c.body, "digest": c.digest.hex(),
                                               "signature": (c.signature or b"").hex()} for c in chain],
           "heads": [[d, s, h.hex()] for d, s, h in store.anchor_heads()]}
    path = Path(to)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(doc, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(chain)


def load_anchor(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AnchorUnavailable(f"cannot read the anchor file {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise AnchorUnavailable(f"{path} is not a procflow checkpoint export ({_FORMAT})")
    return doc
