"""Every bundled procedure maps each state to the national-portal status that means what the state is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from procflow.definition.reader import bundled_definitions
from procflow.definition.statuses import PORTAL_STATUS, STATUS_RULES, status_mapping_problems

DOCS = Path(__file__).resolve().parents[1] / "docs" / "concepts" / "statuses.md"


@pytest.mark.parametrize("defn", bundled_definitions(), ids=lambda d: d.code)
def test_each_state_reports_the_status_that_means_it(defn):
    assert status_mapping_problems(defn) == []
    assert {s.portal_status for s in defn.states} >= {2, 4}  # every procedure receives and processes


def test_the_meaning_table_covers_every_code_and_the_docs_show_it():
    assert set(STATUS_RULES) == set(PORTAL_STATUS) == set(range(1, 11))
    text = DOCS.read_text(encoding="utf-8")
    assert "<!-- procflow:status-rules -->" in text


def test_a_contradicting_mapping_is_named():
    from procflow.definition.reader import parse_definition

    bad = next(d for d in bundled_definitions() if d.code == "1.001193").source
    bad = re.sub(r'name = "returned"\nlabel_vi = "[^"]*"\nlabel_en = "[^"]*"\nportal_status = 10',
                 lambda m: m.group(0).replace("portal_status = 10", "portal_status = 4"), bad)
    problems = status_mapping_problems(parse_definition(bad))
    assert any("'returned' (status 4)" in p and "not a final" in p for p in problems)
