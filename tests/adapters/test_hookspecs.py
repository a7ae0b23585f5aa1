"""The plugin contract file itself: every hook documented, named in its family, with the right calling
convention; every standard topic routed to a hook that exists."""

from __future__ import annotations

import inspect

import pytest

from procflow import hookspecs
from procflow.engine.outbox import DOCUMENTS_FILE, EXCHANGE_HANDOFF, NOTIFY_CITIZEN, PAYMENT_REQUEST, STATUS_SYNC
from procflow.plugins import make_plugin_manager

SPECS = {name: fn for name, fn in vars(hookspecs).items() if name.startswith("procflow_") and callable(fn)}


def test_the_contract_covers_what_the_sdk_promises():
    assert {"procflow_register_guards", "procflow_register_procedures", "procflow_register_outbox_topics",
            "procflow_register_calendar_files",
            "procflow_deliver_status_sync", "procflow_deliver_handoff", "procflow_deliver_payment_request",
            "procflow_deliver_notification", "procflow_deliver_document", "procflow_deliver_message",
            "procflow_resolve_citizen", "procflow_resolve_official", "procflow_resolve_payment_status",
            "procflow_resolve_remote_statuses",
            "procflow_on_delivered", "procflow_on_dead_letter"} == set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented(name):
    doc = inspect.getdoc(SPECS[name]) or ""
    assert len(doc) > 120, f"{name} needs a docstring saying when it is called and what a result means"
    if name.startswith(("procflow_deliver_", "procflow_resolve_")):
        assert "Return" in doc and ("None" in doc), f"{name}: say what a result (and None) means"
    if name.startswith("procflow_deliver_"):
        assert "timeout" in inspect.signature(SPECS[name]).parameters


@pytest.mark.parametrize("name", sorted(SPECS))
def test_families_decide_the_calling_convention(name):
    pm = make_plugin_manager(load_entrypoints=False)
    opts = getattr(pm.hook, name).spec.opts
    first = name.startswith(("procflow_deliver_", "procflow_resolve_"))
    assert opts["firstresult"] is first
    assert name.startswith(("procflow_register_", "procflow_deliver_", "procflow_resolve_", "procflow_on_"))


def test_every_standard_topic_has_its_delivery_hook():
    assert set(hookspecs.TOPIC_HOOKS) == {STATUS_SYNC, EXCHANGE_HANDOFF, PAYMENT_REQUEST, NOTIFY_CITIZEN,
                                          DOCUMENTS_FILE}
    assert set(hookspecs.TOPIC_HOOKS.values()) <= set(SPECS)
    assert {n for n in SPECS if n.startswith("procflow_deliver_")} == {*hookspecs.TOPIC_HOOKS.values(),
                                                                        "procflow_deliver_message"}
