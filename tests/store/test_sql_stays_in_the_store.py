"""All SQL lives inside the backends: no module outside ``procflow/store/`` executes a statement, and the
stores' raw ``_execute`` is private. Features go through the named methods of the contracts in
``procflow.store.base`` (a feature that needs a new query adds a method there, on every backend)."""

from __future__ import annotations

import ast
from pathlib import Path

import procflow
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SQLiteStore

SRC = Path(procflow.__file__).parent
EXECUTE = {"execute", "executemany", "executescript", "_execute"}
# modules that own a database connection that is not a procflow store
OWN_CONNECTIONS = {
    "simulate/sync.py": "the idempotent receiver's own SQLite file (the simulated national portal's inbox)",
}


def _calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE]


def test_no_module_outside_the_store_executes_sql():
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("store/") or rel in OWN_CONNECTIONS:
            continue
        lines = _calls(path)
        if lines:
            offenders[rel] = lines
    assert offenders == {}, f"SQL outside procflow/store/ (add a named store method instead): {offenders}"


def test_the_scan_sees_a_call_and_the_stores_have_no_public_execute(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(store):\n    return store._execute('SELECT 1')\n")
    assert _calls(sample) == [2]  # the scan is not vacuous
    assert _calls(SRC / "simulate" / "sync.py")  # the one allowed module does run SQL on its own file
    for cls in (SQLiteStore, PostgresStore):
        assert not hasattr(cls, "execute")
