"""Every error procflow raises is a typed ProcflowError from the documented tree (issue 18 item 3).

Users catch ``ProcflowError`` or a refusal by name; an untyped ``ValueError`` escaping from the library would
slip past both. The scan reads the source, so a new ``raise ValueError(...)`` fails here before it ships.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import procflow
import procflow.errors as errors
import procflow.exchange.errors as exchange_errors
from procflow.errors import ProcflowError

SRC = Path(procflow.__file__).parent  # the whole package (procflow.errors is a package of its own)

# Builtin exceptions allowed where they are a protocol, not a refusal a user sees.
ALLOWED: dict[str, set[str]] = {
    "forms/render.py": {"TypeError"},          # json.dumps(default=...) must raise TypeError
    "jsontext.py": {"TypeError"},              # the same protocol for orjson and json (default=...)
    "exchange/schema.py": {"OSError"},         # lxml's resolver protocol: refuse an outside schema import
    "simulate/parallel.py": {"SystemExit"},    # a worker process ends itself
    "testing/__init__.py": {"AttributeError"},  # a module __getattr__ (PEP 562) says "no such name" this way
}
# Anywhere: assertions of the impossible, and the test kit's failures (it reports to pytest).
ANYWHERE = {"AssertionError", "NotImplementedError"}
TESTING_KIT = {"AssertionError", "TimeoutError"}


def _raised_names() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name):
                    found.append((rel, node.lineno, target.id))
    return found


def test_every_builtin_exception_raised_is_an_allowed_protocol():
    wrong = []
    for rel, line, name in _raised_names():
        if not isinstance(getattr(builtins, name, None), type):
            continue
        ok = (name in ANYWHERE or name in ALLOWED.get(rel, set())
              or (rel.startswith("testing/") and name in TESTING_KIT))
        if not ok:
            wrong.append(f"{rel}:{line} raises {name}")
    assert not wrong, "raise a procflow.errors class instead:\n" + "\n".join(wrong)


def test_every_procflow_error_raised_is_public_in_the_tree():
    public = {n: getattr(errors, n) for n in errors.__all__} | {
        n: getattr(exchange_errors, n) for n in exchange_errors.__all__}
    missing = []
    for rel, line, name in _raised_names():
        if name in public or name.startswith("_") or isinstance(getattr(builtins, name, None), type):
            continue
        if name[:1].isupper() and name.endswith(("Error", "Refused", "Unavailable", "Denied", "Conflict")):
            missing.append(f"{rel}:{line} raises {name}, which procflow.errors does not export")
    assert not missing, "\n".join(missing)


def test_the_documented_tree_names_every_error_class():
    doc = errors.__doc__ or ""
    documented = set(re.findall(r"[├└]── (\w+)", doc)) | {"ProcflowError"}
    classes = {n for n in errors.__all__ if isinstance(getattr(errors, n), type)
               and issubclass(getattr(errors, n), ProcflowError)}
    assert classes <= documented, f"missing from the tree in errors.py's docstring: {sorted(classes - documented)}"
    assert documented <= classes, f"documented but not exported: {sorted(documented - classes)}"


def test_every_error_class_in_the_namespaces_is_a_procflow_error():
    for module in (errors, exchange_errors):
        for n in module.__all__:
            obj = getattr(module, n)
            if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
                assert issubclass(obj, ProcflowError), f"{module.__name__}.{n} is not a ProcflowError"
