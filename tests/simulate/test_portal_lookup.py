"""The simulator finds the portal adapter through the plugin manager (its entry point), never by importing the
adapter package by name (issue 18: "the core simulator imports the portal plugin by name")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import procflow
from procflow.errors import PluginError
from procflow.simulate.portal import portal_adapter


def test_no_module_of_procflow_imports_an_adapter_package():
    found = []
    for path in sorted(Path(procflow.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith("procflow_")]
    assert not found, found


def test_the_installed_adapter_is_found_through_its_entry_point():
    plugin_class, simulator_class = portal_adapter(local=True)
    assert plugin_class.__module__ == "procflow_portal_http.plugin"
    assert simulator_class.__name__ == "PortalSimulator"


def test_a_missing_adapter_is_one_clear_error():
    with pytest.raises(PluginError, match=r"no plugin 'no_such_portal' is installed .*pip install ./plugins/"):
        portal_adapter(name="no_such_portal")
