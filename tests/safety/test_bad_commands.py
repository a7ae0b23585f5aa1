"""The corpus of bad command lines (tests/corpus/commands.toml): every one ends in one clear error line, exit
status != 0, no traceback, and changes nothing (the stores and files it names are fingerprinted before and
after). Every command that takes ``--db`` is tried with a corrupt file, a foreign SQLite database, a
directory, an empty value and a missing file."""

from __future__ import annotations

import hashlib
import sqlite3
import tomllib
from pathlib import Path

import pytest
from safety_support import fingerprint, make_app_store
from typer.testing import CliRunner

from procflow.cli.app import app

CORPUS = tomllib.loads((Path(__file__).parent.parent / "corpus" / "commands.toml").read_text(encoding="utf-8"))
BAD_DB: dict[str, list[str]] = CORPUS["bad_db"]
DB_COMMANDS = [c["args"] for c in CORPUS["db_command"]]
DB_MATRIX = [(kind, c["args"]) for c in CORPUS["db_command"] for kind in BAD_DB if kind not in c.get("skip", ())]
CASES = CORPUS["case"]
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory, registry):
    root = tmp_path_factory.mktemp("bad-commands")
    store = root / "agency" / "agency.db"
    store.parent.mkdir()
    ids = make_app_store(store, registry, n=2)
    corrupt = root / "corrupt.db"
    corrupt.write_bytes(b"this is not a database\x00" * 500)
    foreign = root / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.execute("INSERT INTO invoices VALUES (1, 99.5)")
    con.commit()
    con.close()
    directory = root / "a-directory"
    directory.mkdir()
    (root / "tmp").mkdir()
    csv = root / "units.csv"
    csv.write_text("old,new\n31120,31117\n", encoding="utf-8")
    bad = root / "bad.toml"
    bad.write_text('code = ""\n', encoding="utf-8")
    agency = registry.communes_of("92")[0].code
    staff = root / "staff.csv"
    staff.write_text(f"id,name,agency,roles\nok.1,An,{agency},one_stop_officer\nbad.2,Bình,NOPE,one_stop_officer\n",
                     encoding="utf-8")
    # the command line acts as an administrator of the store's officials directory (a 0600 credential)
    from procflow.privacy.directory import ADMIN_ROLE
    from procflow.testing.directory import enrol_operator

    env = enrol_operator(str(store), root / "operator.toml", "corpus.admin", agency, {ADMIN_ROLE})
    enrol_operator(str(store), root / "clerk.toml", "corpus.clerk", agency)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        yield {"store": store, "id": ids[0], "agency": agency, "corrupt": corrupt,
               "foreign": foreign, "directory": directory, "empty": "", "missing": root / "absent.db",
               "tmp": root / "tmp", "csv": csv, "badtoml": bad, "storedir": store.parent, "staffcsv": staff}


def _state(world) -> dict[str, object]:
    """What must not change: every store's content and keyring, and the bad files byte for byte."""
    out: dict[str, object] = {"store": fingerprint(world["store"]),
                              "tmp": sorted(p.name for p in world["tmp"].rglob("*")),
                              "directory": sorted(p.name for p in world["directory"].iterdir()),
                              "missing": world["missing"].exists()}
    for kind in ("corrupt", "foreign"):
        out[kind] = hashlib.sha256(world[kind].read_bytes()).hexdigest()
    return out


def _run(args: list[str], world, fill: dict[str, object]) -> tuple[int, str, BaseException | None]:
    argv = [a.format(**{k: str(v) for k, v in {**world, **fill}.items()}) for a in args]
    result = runner.invoke(app, argv)
    return result.exit_code, result.output, result.exception


def _check(code: int, output: str, exc: BaseException | None, expected: list[str], *, listing: bool = False) -> None:
    assert exc is None or isinstance(exc, SystemExit), f"traceback: {exc!r}\n{output}"
    assert "Traceback" not in output, output
    assert code != 0, output
    text = " ".join(output.split())
    assert any(e in text for e in expected), f"expected one of {expected}, got: {output}"
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    if not listing and not lines[0].startswith(("Usage:", "╭")):  # typer's own usage errors come in a box
        assert len(lines) == 1, f"one line, got {len(lines)}:\n{output}"


@pytest.mark.parametrize(("kind", "args"), DB_MATRIX, ids=[f"{' '.join(a[:2])} --db {k}" for k, a in DB_MATRIX])
def test_every_command_refuses_a_bad_db_in_one_line(world, kind, args):
    before = _state(world)
    code, output, exc = _run(args, world, {"db": world[kind]})
    _check(code, output, exc, BAD_DB[kind])
    assert _state(world) == before


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_command_line_gets_one_clear_error(world, case):
    before = _state(world)
    code, output, exc = _run(case["args"], world, {})
    _check(code, output, exc, [case["expect"]], listing=case.get("listing", False))
    after = _state(world)
    if case.get("audited"):
        for state in (before, after):
            state["store"].pop("audit")  # type: ignore[attr-defined]
            state["store"].pop("sqlite_sequence")  # type: ignore[attr-defined]  (the audit row's id counter)
    assert after == before


def test_the_corpus_covers_every_command_that_takes_db():
    named = {tuple(a[:2]) if a[0] in ("audit", "keys", "retention", "migrate", "db", "exchange", "officials")
             else (a[0],)
             for a in DB_COMMANDS}
    for cmd in [("inspect",), ("audit", "access"), ("audit", "verify"), ("keys", "status"), ("keys", "rotate"),
                ("retention", "apply"), ("migrate", "units"), ("migrate", "definition"), ("timers",), ("outbox",),
                ("worker",), ("reconcile",), ("db", "status"), ("db", "upgrade"), ("simulate",),
                ("exchange", "export"), ("backup",), ("officials", "list"), ("officials", "add"),
                ("officials", "grant"), ("officials", "revoke"), ("officials", "import")]:
        assert cmd in named
    assert len(DB_MATRIX) + len(CASES) >= 100
