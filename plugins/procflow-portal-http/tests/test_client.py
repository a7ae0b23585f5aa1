"""The HTTP client against the real simulator (and httpx.MockTransport for answers the simulator never
gives): sessions, error classification at the boundary, the shared time budget."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from procflow_portal_http import PortalClient, PortalPlugin

from procflow.errors import PermanentAdapterError, RetryableAdapterError


def _client(portal, **kw) -> PortalClient:
    return PortalClient(portal.url, username=portal.username, password=portal.password,
                        agency_code="000.00.00.H92", **kw)


def test_sync_upserts_the_dossier_and_appends_progress(portal, messages):
    client = _client(portal)
    for m in messages:
        client.sync(m.payload, key=m.key, timeout=2)
    dossier_id = messages[0].dossier_id
    assert portal.status_of(dossier_id) == 9
    assert [p["TrangThai"] for p in portal.progress[dossier_id]] == ["2", "4", "5", "4", "9"]
    [supplement] = portal.supplements[dossier_id]
    assert supplement["NgayHenTraTruoc"] != supplement["NgayHenTraMoi"]  # a supplement restarts the clock
    assert client.statuses([dossier_id, "unknown"], timeout=2) == {dossier_id: 9}
    client.close()


def test_an_expired_session_is_renewed_within_the_same_delivery(portal, messages):
    client = _client(portal)
    client.sync(messages[0].payload, key=messages[0].key, timeout=2)
    portal.expire_sessions()
    client.sync(messages[1].payload, key=messages[1].key, timeout=2)
    assert portal.times_applied(messages[1].key) == 1
    client.close()


def test_wrong_credentials_are_permanent(portal, messages):
    client = PortalClient(portal.url, username="procflow", password="wrong", agency_code="x")
    with pytest.raises(PermanentAdapterError, match="login: error_code -3"):
        client.sync(messages[0].payload, key=messages[0].key, timeout=2)
    client.close()


def test_a_refused_connection_is_retryable(messages):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = PortalClient(f"http://127.0.0.1:{port}", username="u", password="p", agency_code="x")
    with pytest.raises(RetryableAdapterError, match="ConnectError"):
        client.sync(messages[0].payload, key=messages[0].key, timeout=2)
    client.close()


@pytest.mark.parametrize(("status", "body", "error"), [
    (500, b"{}", RetryableAdapterError),
    (429, b"{}", RetryableAdapterError),
    (400, b"bad request", PermanentAdapterError),
    (200, b"<html>proxy error</html>", RetryableAdapterError),
    (200, b'{"error_code": "-2", "message": "thi\\u1ebfu MaHoSo"}', PermanentAdapterError),
    (200, b'{"error_code": "99", "message": "busy"}', RetryableAdapterError),
])
def test_answers_are_classified_at_the_boundary(messages, status, body, error):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            return httpx.Response(200, json={"error_code": "0", "session": "s"})
        return httpx.Response(status, content=body)

    client = PortalClient("http://portal.test", username="u", password="p", agency_code="x",
                          transport=httpx.MockTransport(handler))
    with pytest.raises(error):
        client.sync(messages[0].payload, key=messages[0].key, timeout=2)


def test_the_time_budget_covers_every_call_of_a_delivery(portal, messages):
    client = _client(portal)
    client.sync(messages[0].payload, key=messages[0].key, timeout=2)  # logged in
    portal.latency = 0.15  # each of the two calls alone fits in 0.25 s; both together do not
    t0 = time.monotonic()
    with pytest.raises(RetryableAdapterError):
        client.sync(messages[1].payload, key=messages[1].key, timeout=0.25)
    assert time.monotonic() - t0 < 0.6
    client.close()


def test_the_idempotency_key_is_sent_on_every_call(messages):
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Idempotency-Key")))
        if request.url.path == "/api/auth/login":
            return httpx.Response(200, json={"error_code": "0", "session": "s"})
        return httpx.Response(200, json={"error_code": "00"})

    client = PortalClient("http://portal.test", username="u", password="p", agency_code="x",
                          transport=httpx.MockTransport(handler))
    m = messages[1]
    client.sync(m.payload, key=m.key, timeout=2)
    assert seen == [("/api/auth/login", None), ("/api/service", m.key), ("/api/service", m.key)]


def test_unconfigured_plugin_subscribes_to_nothing_and_delivers_nothing(messages):
    plugin = PortalPlugin(environ={})
    assert not plugin.configured
    assert plugin.procflow_register_outbox_topics(store=None) == []
    assert plugin.procflow_resolve_remote_statuses(dossier_ids=["x"], timeout=1) is None


def test_plugin_reads_its_settings_from_the_environment(portal):
    plugin = PortalPlugin(environ={"PROCFLOW_PORTAL_URL": portal.url, "PROCFLOW_PORTAL_PASSWORD": portal.password})
    assert plugin.configured and [t.name for t in plugin.procflow_register_outbox_topics(store=None)] == [
        "portal.status"]
    assert plugin.procflow_resolve_remote_statuses(dossier_ids=["x"], timeout=1) == {}
    plugin.close()


def test_a_changed_environment_gets_a_new_client(portal):
    env = {"PROCFLOW_PORTAL_URL": "http://127.0.0.1:9", "PROCFLOW_PORTAL_PASSWORD": portal.password}
    plugin = PortalPlugin(environ=env)
    stale = plugin.client
    env["PROCFLOW_PORTAL_URL"] = portal.url
    assert plugin.client is not stale and plugin.client.base_url == portal.url
    assert plugin.procflow_resolve_remote_statuses(dossier_ids=["x"], timeout=1) == {}
    plugin.close()
