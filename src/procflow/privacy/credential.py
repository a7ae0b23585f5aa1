"""The operator the command line acts as: a credential file on the operator's machine.

The command line never takes a role or an identity on the operator's word. It reads one credential file —
named by ``PROCFLOW_OPERATOR_FILE``, else ``$XDG_CONFIG_HOME/procflow/operator.toml`` (``~/.config/…``) —
holding the operator's official id and a secret issued by ``procflow officials init`` or ``officials add
--credential``. The file must be the user's own and readable by nobody else (mode 0600): a group- or
world-readable secret is refused before it is read. The directory keeps only the secret's digest.

``--actor`` names the official the operator acts for (a clerk entering the chairman's decision); it is
accepted only when the directory delegates that official to the operator, and each use is audited as a
delegation. System identities (simulator, scheduler, reconciliation) are made in code (``Actor.system``)
and can never come out of this module.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from procflow.dossier import Actor
from procflow.errors import CredentialError, DelegationRefused, OperatorRoleMissing
from procflow.privacy.directory import Directory, Official, check_id
from procflow.store.base import AuditEntry

__all__ = ["OPERATOR_FILE_ENV", "acting_actor", "credential_path", "operator_official", "require_role",
           "write_credential"]

OPERATOR_FILE_ENV = "PROCFLOW_OPERATOR_FILE"


def credential_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the operator's credential is looked for."""
    env = os.environ if environ is None else environ
    named = env.get(OPERATOR_FILE_ENV)
    if named:
        return Path(named)
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "procflow" / "operator.toml"


def _read(path: Path) -> tuple[str, str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CredentialError(f"no operator credential at {path}: set {OPERATOR_FILE_ENV} or ask an administrator "
                              "for one (procflow officials add … --credential FILE; the first one comes from "
                              "procflow officials init)") from None
    except OSError as exc:
        raise CredentialError(f"cannot read the operator credential {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialError(f"operator credential {path} is not a regular file")
    if st.st_mode & 0o077:
        raise CredentialError(f"operator credential {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o});"
                              f" run: chmod 600 {path}")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CredentialError(f"operator credential {path} belongs to another user")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CredentialError(f"operator credential {path} is not valid TOML: {exc}") from None
    official, secret = data.get("official"), data.get("secret")
    if not isinstance(official, str) or not isinstance(secret, str) or not official or not secret:
        raise CredentialError(f"operator credential {path}: expected official = \"…\" and secret = \"…\"")
    return official, secret


def operator_official(directory: Directory, *, environ: Mapping[str, str] | None = None) -> Official:
    """The operator this machine's credential names, verified against the directory (refusals audited)."""
    path = credential_path(environ)
    official_id, secret = _read(path)
    if not directory.managed():
        raise CredentialError("this store has no officials directory yet: set it up with procflow officials init")
    official = directory.verify_credential(official_id, secret)
    today = directory.clock.now().date()
    if official is None or not official.valid_on(today):
        _audit(directory, official_id, "?", "operator", "refused:CredentialError",
               f"credential {path.name} not valid" + ("" if official is None else f" on {today}"))
        raise CredentialError(f"the operator credential {path} is not valid for {official_id} in this store"
                              + ("" if official is None else f" on {today}"))
    return official


def require_role(directory: Directory, operator: Official, role: str, *, action: str, db: str | None = None,
                 fix: str | None = None) -> None:
    """Refuse (audited under ``action``) an operator the directory has not granted ``role``; the error names
    the ``procflow officials grant`` command that fixes it (``db``: the store to name in it), or says ``fix``."""
    if role in operator.roles:
        return
    _audit(directory, operator.id, operator.agency, action, "refused:OperatorRoleMissing", f"needs role {role}")
    raise OperatorRoleMissing(operator=operator.id, role=role, db=db, fix=fix)


def acting_actor(directory: Directory, acting_for: str | None = None, *,
                 environ: Mapping[str, str] | None = None) -> Actor:
    """The principal a command acts as: the operator, or (``acting_for``) an official the directory
    delegates to them. Roles are left to the identity provider (the engine resolves them)."""
    operator = operator_official(directory, environ=environ)
    if acting_for is None or acting_for.strip() == operator.id:
        return Actor(id=operator.id, agency=operator.agency)
    target_id = check_id(acting_for, "--actor")
    target = directory.get(target_id)
    if target_id not in operator.acts_for or target is None or not target.valid_on(directory.clock.now().date()):
        reason = ("the officials directory does not delegate this official to the operator"
                  if target is not None or target_id in operator.acts_for else "no such official")
        _audit(directory, operator.id, operator.agency, "delegation", "refused:DelegationRefused",
               f"acts for {target_id}: {reason}")
        raise DelegationRefused(operator=operator.id, official=target_id, reason=reason)
    _audit(directory, operator.id, operator.agency, "delegation", "allowed", f"acts for {target.id} ({target.agency})")
    return Actor(id=target.id, agency=target.agency)


def write_credential(path: Path, official_id: str, secret: str, *, replace: bool = False) -> Path:
    """Write a credential file readable by its owner only (0600, created so, never widened); an existing
    file is kept unless ``replace``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = ("# procflow operator credential: keep it private (mode 0600)\n"
            f'official = "{official_id}"\nsecret = "{secret}"\n')
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise CredentialError(f"{path} already exists; pass --replace to overwrite it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)
    return path


def _audit(directory: Directory, actor: str, agency: str, action: str, outcome: str, detail: str) -> None:
    directory.store.record_audit(AuditEntry(at=directory.clock.now(), actor=actor, agency=agency, dossier_id=None,
                                            action=action, outcome=outcome, detail=detail, purpose="command line"))
