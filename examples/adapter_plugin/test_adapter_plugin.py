"""The example adapter plugin: it registers cleanly, delivers each notice once, and fails the right way."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "src"))

import procflow_sms_log  # noqa: E402

from procflow.engine.outbox import Delivery  # noqa: E402
from procflow.errors import PermanentAdapterError, PluginError  # noqa: E402
from procflow.hookspecs import hookimpl  # noqa: E402
from procflow.plugins import make_plugin_manager  # noqa: E402


def _load():
    spec = importlib.util.spec_from_file_location("example_adapter_plugin", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_delivers_the_notices_once(tmp_path, monkeypatch):
    monkeypatch.setenv(procflow_sms_log.ENV, str(tmp_path / "unused"))
    result = _load().main(str(tmp_path))
    assert result["stats"].delivered == 2
    keys = [json.loads(line)["key"] for line in result["sent"]]
    assert len(keys) == len(set(keys)) == 2 and all(k.startswith("notify.citizen:") for k in keys)


def test_a_retried_message_is_applied_once(tmp_path, monkeypatch):
    monkeypatch.setenv(procflow_sms_log.ENV, str(tmp_path / "sms.jsonl"))
    message = Delivery(id=1, topic="notify.citizen", key="notify.citizen:X:2", dossier_id="X",
                       payload={"text_vi": "Hồ sơ X đã được tiếp nhận", "recipient": {"phone": "0912345678"}})
    assert procflow_sms_log.procflow_deliver_notification(message, 5.0) == message.key
    assert procflow_sms_log.procflow_deliver_notification(message, 5.0) == message.key  # a retry
    assert len((tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_no_phone_is_a_permanent_failure(tmp_path, monkeypatch):
    monkeypatch.setenv(procflow_sms_log.ENV, str(tmp_path / "sms.jsonl"))
    message = Delivery(id=1, topic="notify.citizen", key="k", dossier_id="X",
                       payload={"text_vi": "…", "recipient": {"phone": None}})
    with pytest.raises(PermanentAdapterError):
        procflow_sms_log.procflow_deliver_notification(message, 5.0)


def test_unconfigured_the_plugin_subscribes_to_nothing(monkeypatch):
    monkeypatch.delenv(procflow_sms_log.ENV, raising=False)
    assert procflow_sms_log.procflow_register_outbox_topics() == []


def test_a_misspelt_argument_is_refused_when_the_plugin_registers():
    class Broken:
        @hookimpl
        def procflow_deliver_notification(self, message, timout):
            return None

    with pytest.raises(PluginError, match="timout"):
        make_plugin_manager(load_entrypoints=False, plugins=[Broken()])
