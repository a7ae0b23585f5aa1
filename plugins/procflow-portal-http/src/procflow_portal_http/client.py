"""An httpx client for a national-portal-style sync API: session login, JSON service calls, and every
failure classified as retryable or permanent at this boundary.

Each call carries ``session``, ``madonvi`` (the agency code) and ``service``; ``error_code`` "0" or "00"
means success. An expired session ("-1") is renewed once within the same delivery. The idempotency key
goes in the ``Idempotency-Key`` header of every call, so a retry after a lost response is recognised.
The delivery's time budget is shared by all the calls it makes (login included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from procflow.errors import PermanentAdapterError, RetryableAdapterError
from procflow.privacy.masking import mask_text
from procflow_portal_http.shape import dossier_record, progress_record

__all__ = ["PortalClient"]

log = logging.getLogger("procflow_portal_http")

_OK = ("0", "00")
_SESSION_EXPIRED = ("-1",)
_RETRYABLE_CODES = ("99", "503", "504", "429")
_RETRYABLE_HTTP = (408, 425, 429, 500, 502, 503, 504)


class PortalClient:
    """One portal connection (thread-safe: the delivery worker may share it between threads)."""

    def __init__(self, base_url: str, *, username: str, password: str, agency_code: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.agency_code = agency_code
        self._http = httpx.Client(base_url=self.base_url, transport=transport,
                                  headers={"User-Agent": "procflow-portal-http"})
        self._session: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # -- the two things procflow asks -------------------------------------------------------------------------
    def sync(self, payload: Mapping[str, Any], *, key: str, timeout: float) -> str:
        """Upsert the dossier (``DongBoHoSoMC``), then record the event's progress (``CapNhatTienDoHoSoMC``).
        Returns the portal's reference of the last call."""
        deadline = time.monotonic() + timeout
        event = payload.get("event")
        updating = (event or {}).get("kind") != "filed" if event else payload.get("remote_status") is not None
        reply = self.call("DongBoHoSoMC", [dossier_record(payload)], key=key, deadline=deadline,
                          extra={"isUpdating": updating})
        progress = progress_record(payload)
        if progress is not None:
            reply = self.call("CapNhatTienDoHoSoMC", [progress], key=key, deadline=deadline)
        return str(reply.get("id") or key)

    def statuses(self, dossier_ids: Sequence[str], *, timeout: float) -> dict[str, int]:
        """What the portal shows for each dossier it knows (``TraCuuHoSo``)."""
        reply = self.call("TraCuuHoSo", {"DanhSachMaHoSo": list(dossier_ids)}, deadline=time.monotonic() + timeout)
        out: dict[str, int] = {}
        for row in reply.get("data") or ():
            try:
                out[str(row["MaHoSo"])] = int(row["TrangThaiHoSo"])
            except (KeyError, TypeError, ValueError) as exc:
                raise RetryableAdapterError(f"portal sent an unreadable TraCuuHoSo row: {row!r:.200}") from exc
        return out

    # -- calls --------------------------------------------------------------------------------------------------
    def call(self, service: str, data: Any, *, deadline: float, key: str | None = None,
             extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        for renewed in (False, True):
            session = self._login(deadline, force=renewed)
            body = {"session": session, "madonvi": self.agency_code, "service": service, **(extra or {}),
                    "data": data}
            reply = self._post("/api/service", body, deadline=deadline, key=key, what=service)
            code = str(reply.get("error_code"))
            if code in _OK:
                return reply
            if code in _SESSION_EXPIRED and not renewed:
                log.info("portal session expired during %s; logging in again", service)
                continue
            raise self._refusal(service, code, reply)
        raise RetryableAdapterError(f"portal {service}: session expired again right after a new login")

    def _login(self, deadline: float, *, force: bool) -> str:
        with self._lock:
            if self._session is not None and not force:
                return self._session
            reply = self._post("/api/auth/login", {"username": self.username, "password": self._password},
                               deadline=deadline, what="login")
            code = str(reply.get("error_code"))
            if code not in _OK or not reply.get("session"):
                raise self._refusal("login", code, reply)
            self._session = str(reply["session"])
            return self._session

    def _post(self, path: str, body: Mapping[str, Any], *, deadline: float, what: str,
              key: str | None = None) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RetryableAdapterError(f"portal {what}: the delivery's time budget ran out before the call")
        headers = {"Idempotency-Key": key} if key else None
        try:
            response = self._http.post(path, json=body, headers=headers, timeout=httpx.Timeout(remaining))
        except httpx.TimeoutException as exc:
            raise RetryableAdapterError(f"portal {what}: no answer within {remaining:.2f} s ({type(exc).__name__})") \
                from exc
        except httpx.TransportError as exc:
            raise RetryableAdapterError(f"portal {what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _RETRYABLE_HTTP:
            raise RetryableAdapterError(f"portal {what}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentAdapterError(f"portal {what}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            reply = response.json()
        except ValueError as exc:
            raise RetryableAdapterError(f"portal {what}: answer is not JSON: {response.text[:120]!r}") from exc
        if not isinstance(reply, dict):
            raise RetryableAdapterError(f"portal {what}: answer is not a JSON object")
        return reply

    def _refusal(self, what: str, code: str, reply: Mapping[str, Any]) -> Exception:
        message = mask_text(str(reply.get("message") or ""))[:300]
        text = f"portal {what}: error_code {code}: {message}"
        if code in _RETRYABLE_CODES or code in _SESSION_EXPIRED:
            return RetryableAdapterError(text)
        return PermanentAdapterError(text)
