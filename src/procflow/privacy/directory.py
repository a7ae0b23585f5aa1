"""The officials directory: who may act in procflow, for which agency, with which roles and until when.

Roles come from here (or from a province's own identity provider, ``procflow.privacy.identity``), never from the
caller: an ``Actor`` handed to the engine names an official, and the roles it claims must be ones the
directory grants. Changes are privileged: only an official holding ``officials:admin`` makes them, each
one is written with its audit entry in one transaction, and a refused change is audited too. The first
administrator is set up once, on an empty directory (``procflow officials init``).

An *operator* is an official with a credential: a random secret kept in a 0600 file on the operator's
machine (``procflow.privacy.credential``); the directory keeps only its SHA-256 digest (the secret is 256 random
bits, so a plain digest cannot be guessed back). ``acts_for`` lists the officials an operator may act for
(a desk clerk entering decisions for the chairman): the command line's ``--actor`` is accepted only for
them, and each use is audited as a delegation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, NoReturn

import attrs

from procflow.errors import DirectoryError, UnknownAgency
from procflow.store.base import AuditEntry, OfficialRow

if TYPE_CHECKING:
    from procflow.clock import Clock
    from procflow.jurisdiction import Registry
    from procflow.store.base import Store

__all__ = ["ADMIN_ROLE", "STORE_ADMIN_ROLE", "Directory", "Official", "check_id", "check_role", "credential_digest"]

ADMIN_ROLE = "officials:admin"
"""Manages the directory: adds officials, grants and revokes roles and delegations."""

STORE_ADMIN_ROLE = "store:admin"
"""Administers the store as a whole, where one command reaches every dossier at once: creates and rotates its
keys (``procflow keys init|rotate``), erases personal data past retention (``retention apply``), replaces the
store from a backup (``restore``) and upgrades its schema (``db upgrade``). Who the operator is says only that
they may act here; these need the role too, so a routine operator's credential cannot do them."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_ROLE = re.compile(r"^(?:[A-Za-z0-9_.:-]{1,64}|[A-Za-z0-9_.-]{1,62}:\*)$")  # "oversight:*" is national oversight


def check_id(text: str, what: str = "official id") -> str:
    text = (text or "").strip()
    if not _ID.match(text):
        raise DirectoryError(f"{what} {text!r}: expected letters, digits and . _ @ + - (at most 128), "
                             "e.g. nguyen.van.a")
    return text


def check_role(text: str) -> str:
    role = (text or "").strip()
    if role == "*":
        raise DirectoryError("the system role '*' is for procflow's own machinery (simulator, scheduler, "
                             "reconciliation), never granted to an official")
    if not _ROLE.match(role):
        raise DirectoryError(f"role {role!r}: expected letters, digits and _ . : - (e.g. civil_status_officer, "
                             "oversight:92)")
    return role


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def credential_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@attrs.frozen
class Official:
    """One official (cán bộ, công chức) as the identity provider knows them."""

    id: str
    name: str
    agency: str
    roles: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive: the last day the official may act
    acts_for: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    credential: str | None = attrs.field(default=None, repr=False)  # SHA-256 of an operator's secret

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def to_row(self) -> OfficialRow:
        return (self.id, self.name, self.agency, json.dumps(sorted(self.roles)),
                None if self.valid_from is None else self.valid_from.isoformat(),
                None if self.valid_to is None else self.valid_to.isoformat(),
                json.dumps(sorted(self.acts_for)), self.credential)

    @classmethod
    def from_row(cls, row: OfficialRow) -> Official:
        ident, name, agency, roles, vf, vt, acts_for, credential = row
        return cls(id=ident, name=name, agency=agency, roles=frozenset(json.loads(roles)),
                   valid_from=None if vf is None else date.fromisoformat(vf),
                   valid_to=None if vt is None else date.fromisoformat(vt),
                   acts_for=frozenset(json.loads(acts_for)), credential=credential)


class Directory:
    """The directory in a store. ``registry`` (optional) checks agency codes on every change."""

    def __init__(self, store: Store, clock: Clock, *, registry: Registry | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        """``on_change`` runs after each committed change (the engine empties its cache of officials)."""
        self.store = store
        self.clock = clock
        self.registry = registry
        self.on_change = on_change

    # -- reading --------------------------------------------------------------------------------------
    def get(self, official_id: str) -> Official | None:
        row = self.store.official_row(official_id)  # type: ignore[attr-defined]
        return None if row is None else Official.from_row(row)

    def all(self) -> list[Official]:
        return [Official.from_row(r) for r in self.store.official_rows()]  # type: ignore[attr-defined]

    def managed(self) -> bool:
        """True once the directory holds anyone: from then on only its officials may act."""
        return bool(self.store.official_count())  # type: ignore[attr-defined]

    def verify_credential(self, official_id: str, secret: str) -> Official | None:
        """The official whose credential ``secret`` is, or None (constant-time comparison)."""
        official = self.get(official_id)
        if official is None or official.credential is None:
            return None
        return official if hmac.compare_digest(official.credential, credential_digest(secret)) else None

    # -- changing (privileged, audited) ---------------------------------------------------------------
    def init(self, official: Official) -> tuple[Official, str]:
        """Set up the first administrator of a directory that has none (it may already list officials: a
        simulation's staff); returns them and their credential secret."""
        admins = sorted(o.id for o in self.all() if ADMIN_ROLE in o.roles)
        if admins:
            self._audit(official.id, official.agency, "officials:init", "refused:DirectoryError",
                        f"the directory already has an administrator ({admins[0]})")
            raise DirectoryError("the officials directory already has an administrator; they add officials "
                                 "with `procflow officials add`")
        if self.get(official.id) is not None:
            raise DirectoryError(f"official {official.id} already exists; choose another id for the administrator")
        secret = secrets.token_urlsafe(32)
        # the first administrator also administers the store: a fresh set-up works in two commands
        admin = attrs.evolve(self._checked(official), roles=official.roles | {ADMIN_ROLE, STORE_ADMIN_ROLE},
                             credential=credential_digest(secret))
        with self.store.transaction():
            self.store.save_officials([admin.to_row()])  # type: ignore[attr-defined]
            self._audit(admin.id, admin.agency, "officials:init", "allowed", f"first administrator {admin.id}")
        self._changed()
        return admin, secret

    def add(self, by: Official, officials: Sequence[Official], *, action: str = "officials:add",
            credential: bool = False) -> str | None:
        """Add new officials (never replacing one); returns a credential secret when ``credential`` (one
        official only)."""
        self._require_admin(by, action)
        checked = [self._checked(o) for o in officials]
        seen: set[str] = set()
        for o in checked:
            if o.id in seen or self.get(o.id) is not None:
                self._refused(by, action, f"official {o.id} already exists")
            seen.add(o.id)
        secret = None
        if credential:
            if len(checked) != 1:
                raise DirectoryError("a credential is issued for one official at a time")
            secret = secrets.token_urlsafe(32)
            checked = [attrs.evolve(checked[0], credential=credential_digest(secret))]
        with self.store.transaction():
            self.store.save_officials([o.to_row() for o in checked])  # type: ignore[attr-defined]
            names = ", ".join(o.id for o in checked[:20]) + (" …" if len(checked) > 20 else "")
            self._audit(by.id, by.agency, action, "allowed", f"{len(checked)} official(s): {names}")
        self._changed()
        return secret

    def grant(self, by: Official, official_id: str, *, roles: Iterable[str] = (),
              acts_for: Iterable[str] = ()) -> Official:
        return self._change(by, official_id, "officials:grant", roles, acts_for, grant=True)

    def revoke(self, by: Official, official_id: str, *, roles: Iterable[str] = (),
               acts_for: Iterable[str] = ()) -> Official:
        return self._change(by, official_id, "officials:revoke", roles, acts_for, grant=False)

    def register_system_roster(self, officials: Sequence[Official]) -> None:
        """Bulk registration by procflow's own machinery (the simulator's staff at start): one statement
        batch, no administrator, audited once. Existing rows of the same ids are replaced. Ids and roles are
        checked as for any official (each distinct role set once: a roster shares a few)."""
        checked: set[frozenset[str]] = set()
        for o in officials:
            check_id(o.id)
            if o.roles not in checked:
                for r in o.roles:
                    check_role(r)
                checked.add(o.roles)
        with self.store.transaction():
            self.store.save_officials([o.to_row() for o in officials])  # type: ignore[attr-defined]
            self._audit("system", "*", "officials:register", "allowed", f"{len(officials)} official(s) (system)")
        self._changed()

    # -- inside ---------------------------------------------------------------------------------------
    def _change(self, by: Official, official_id: str, action: str, roles: Iterable[str], acts_for: Iterable[str],
                *, grant: bool) -> Official:
        self._require_admin(by, action)
        try:
            rs = frozenset(check_role(r) for r in roles)
            delegates = frozenset(check_id(a, "delegated official") for a in acts_for)
        except DirectoryError as exc:
            self._refused(by, action, str(exc))
        if not rs and not delegates:
            self._refused(by, action, "nothing to change: name roles and/or --act-for officials")
        current = self.get(official_id)
        if current is None:
            self._refused(by, action, f"no official {official_id!r} in the directory")
        for a in delegates:
            if grant and self.get(a) is None:
                self._refused(by, action, f"no official {a!r} in the directory to act for")
        if grant:
            new = attrs.evolve(current, roles=current.roles | rs, acts_for=current.acts_for | delegates)
        else:
            missing = sorted((rs - current.roles) | (delegates - current.acts_for))
            if missing:
                self._refused(by, action, f"{official_id} does not hold {', '.join(missing)}")
            if by.id == official_id and ADMIN_ROLE in rs:
                self._refused(by, action, "an administrator cannot revoke their own administration role")
            new = attrs.evolve(current, roles=current.roles - rs, acts_for=current.acts_for - delegates)
        detail = f"{official_id}: " + ", ".join([*(f"role {r}" for r in sorted(rs)),
                                                 *(f"acts for {a}" for a in sorted(delegates))])
        with self.store.transaction():
            self.store.save_officials([new.to_row()])  # type: ignore[attr-defined]
            self._audit(by.id, by.agency, action, "allowed", detail)
        self._changed()
        return new

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _checked(self, o: Official) -> Official:
        check_id(o.id)
        if not o.name.strip():
            raise DirectoryError(f"official {o.id}: a name is required")
        for r in o.roles:
            check_role(r)
        if o.valid_from is not None and o.valid_to is not None and o.valid_to < o.valid_from:
            raise DirectoryError(f"official {o.id}: valid_to {o.valid_to} is before valid_from {o.valid_from}")
        if self.registry is not None:
            try:
                self.registry.agency(o.agency)
            except (UnknownAgency, KeyError) as exc:
                raise DirectoryError(f"official {o.id}: unknown agency code {o.agency!r}") from exc
        return o

    def _require_admin(self, by: Official, action: str) -> None:
        if ADMIN_ROLE not in by.roles or not by.valid_on(self.clock.now().date()):
            self._refused(by, action, f"{by.id} does not hold {ADMIN_ROLE!r} (today)")

    def _refused(self, by: Official, action: str, reason: str) -> NoReturn:
        self._audit(by.id, by.agency, action, "refused:DirectoryError", reason)
        raise DirectoryError(reason)

    def _audit(self, actor: str, agency: str, action: str, outcome: str, detail: str) -> None:
        now: datetime = self.clock.now()
        self.store.record_audit(AuditEntry(at=now, actor=actor, agency=agency, dossier_id=None, action=action,
                                           outcome=outcome, detail=detail, purpose="officials directory"))
