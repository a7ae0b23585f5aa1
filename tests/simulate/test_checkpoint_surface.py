"""The checkpoint goes through the simulator's public surface (``procflow.simulate.resumable``), not its private
attributes (issue 18: "simulate/checkpoint.py writes 15 private attributes of the simulator")."""

from __future__ import annotations

import ast
from pathlib import Path

import procflow.simulate.checkpoint as checkpoint
from procflow.simulate.resumable import Resumable
from procflow.simulate.runner import Simulator


def test_the_checkpoint_touches_no_private_attribute_of_the_simulator():
    tree = ast.parse(Path(checkpoint.__file__).read_text(encoding="utf-8"))
    private = sorted({f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id == "sim" and node.attr.startswith("_")})
    assert not private, f"simulate/checkpoint.py reaches into the simulator: {private}"
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in ("setattr", "getattr") and n.args and isinstance(n.args[0], ast.Name)
                and n.args[0].id == "sim"], "no getattr/setattr on the simulator either"


def test_the_simulator_offers_the_surface():
    assert issubclass(Simulator, Resumable)
    for name in ("position", "pending_tasks", "resume_from", "checkpoint_memo"):
        assert hasattr(Simulator, name), name
