"""A national-portal simulator: a real HTTP server on 127.0.0.1 that speaks the sync shape and misbehaves
on purpose.

It keeps what it was sent (dossiers, progress entries, supplements), de-duplicates by the
``Idempotency-Key`` header (per service), counts how many times each key's effect was applied, and
serves its statuses back for reconciliation (``TraCuuHoSo``). Failures are injected either at random
(``fail_rate``) or one at a time (``inject``):

* ``unavailable``  HTTP 503 before anything is applied
* ``busy``         ``error_code`` "99" ("system busy") before anything is applied
* ``invalid``      ``error_code`` "-2" (data rejected), a permanent error
* ``hang``         no answer for ``hang`` seconds, nothing applied (the client times out)
* ``lost_response`` the effect IS applied, then no answer (the client times out and retries: only the
  idempotency key stops a second effect)

Run it on its own with ``python -m procflow_portal_http --port 8089 --fail-rate 0.3``.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from procflow_portal_http.shape import parse_portal_time

__all__ = ["FAULTS", "PortalSimulator"]

FAULTS = ("unavailable", "busy", "invalid", "hang", "lost_response")
_MAX_BODY = 5 * 1024 * 1024
_SERVICES = ("DongBoHoSoMC", "CapNhatTienDoHoSoMC", "TraCuuHoSo")


class _Reply(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body


class PortalSimulator:
    """Start with ``with PortalSimulator(fail_rate=0.3) as portal: ... portal.url``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, fail_rate: float = 0.0,
                 timeout_share: float = 0.4, hang: float = 2.0, latency: float = 0.0, seed: int = 0,
                 username: str = "procflow", password: str = "procflow", session_ttl: float = 600.0) -> None:
        if not 0 <= fail_rate <= 1 or not 0 <= timeout_share <= 1:
            raise ValueError("fail_rate and timeout_share are fractions between 0 and 1")
        self.host, self.port = host, port
        self.fail_rate, self.timeout_share = fail_rate, timeout_share
        self.hang, self.latency = hang, latency
        self.username, self.password, self.session_ttl = username, password, session_ttl
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._queued: list[str] = []
        self._sessions: dict[str, float] = {}
        self._hold_at: int | None = None
        self.held = threading.Event()  # set while a request is held after applying (see hold_after)
        self._release = threading.Event()
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, list[dict[str, Any]]] = {}
        self.supplements: dict[str, list[dict[str, Any]]] = {}
        self.applied: Counter[tuple[str, str]] = Counter()
        self.duplicates = 0
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self._applied_requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the portal simulator is not running; call start()")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> PortalSimulator:
        handler = type("Handler", (_Handler,), {"portal": self})
        server = ThreadingHTTPServer((self.host, self.port), handler)
        server.daemon_threads = True
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="portal-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PortalSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------------------------------------------
    def inject(self, *faults: str) -> None:
        """Make the next service requests fail in these ways, in order (logins are not affected)."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r} (known: {', '.join(FAULTS)})")
        with self._lock:
            self._queued.extend(faults)

    @contextmanager
    def fault(self, kind: str) -> Iterator[None]:
        """The next service request fails as ``kind``; leaving the block forgets a fault not yet used
        (the conformance kit's ``AdapterHarness.fault``)."""
        self.inject(kind)
        try:
            yield
        finally:
            with self._lock:
                self._queued.clear()

    def hold_after(self, n: int) -> None:
        """Hold the ``n``-th applied service request after applying it, until ``release()``: a test kills
        its client at exactly that moment."""
        with self._lock:
            self._hold_at = self._applied_requests + n
            self.held.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def status_of(self, dossier_id: str) -> int | None:
        with self._lock:
            rec = self.dossiers.get(dossier_id)
            return None if rec is None else int(rec["TrangThaiHoSo"])

    def statuses(self) -> dict[str, int]:
        with self._lock:
            return {k: int(v["TrangThaiHoSo"]) for k, v in self.dossiers.items()}

    def times_applied(self, key: str) -> int:
        """How many times the effect of an idempotency key was applied (the most over the services)."""
        with self._lock:
            return max((n for (_, k), n in self.applied.items() if k == key), default=0)

    def keys(self) -> set[str]:
        with self._lock:
            return {k for (_, k) in self.applied}

    # -- request handling (called from server threads) ------------------------------------------------------
    def _draw_fault(self) -> str | None:
        with self._lock:
            if self._queued:
                return self._queued.pop(0)
            if self.fail_rate and self._rng.random() < self.fail_rate:
                if self._rng.random() < self.timeout_share:
                    return self._rng.choice(("hang", "lost_response"))
                return self._rng.choice(("unavailable", "busy"))
        return None

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def handle(self, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
        if self.latency:
            self._wait(self.latency)
        if path == "/api/auth/login":
            return self._login(body)
        if path != "/api/service":
            return 404, {"error_code": "404", "message": f"không có đường dẫn {path}"}
        fault = self._draw_fault()
        if fault is not None:
            with self._lock:
                self.faults[fault] += 1
        if fault == "unavailable":
            return 503, {"error_code": "503", "message": "Service Unavailable"}
        if fault == "busy":
            return 200, {"error_code": "99", "message": "Hệ thống đang bận, vui lòng thử lại"}
        if fault == "invalid":
            return 200, {"error_code": "-2", "message": "Dữ liệu không hợp lệ (lỗi giả lập)"}
        if fault == "hang":
            self._wait(self.hang)
            return 504, {"error_code": "504", "message": "timeout"}
        self._check_session(body)
        reply = self._service(body, headers.get("Idempotency-Key"))
        if fault == "lost_response":
            self._wait(self.hang)
        return 200, reply

    def _login(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("username") != self.username or body.get("password") != self.password:
            return 200, {"error_code": "-3", "message": "Sai tên đăng nhập hoặc mật khẩu"}
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = time.monotonic() + self.session_ttl
        return 200, {"error_code": "0", "session": token, "expires_in": self.session_ttl}

    def _check_session(self, body: dict[str, Any]) -> None:
        with self._lock:
            expiry = self._sessions.get(str(body.get("session")))
        if expiry is None or expiry < time.monotonic():
            raise _Reply(200, {"error_code": "-1", "message": "Phiên làm việc không hợp lệ hoặc đã hết hạn"})

    def _service(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        service = body.get("service")
        if service not in _SERVICES:
            raise _Reply(200, {"error_code": "-2", "message": f"dịch vụ không hỗ trợ: {service!r}"})
        if not body.get("madonvi"):
            raise _Reply(200, {"error_code": "-2", "message": "thiếu madonvi"})
        data = body.get("data")
        if service == "TraCuuHoSo":
            ids = (data or {}).get("DanhSachMaHoSo") if isinstance(data, dict) else None
            if not isinstance(ids, list):
                raise _Reply(200, {"error_code": "-2", "message": "thiếu DanhSachMaHoSo"})
            with self._lock:
                found = [{"MaHoSo": i, "TrangThaiHoSo": self.dossiers[i]["TrangThaiHoSo"],
                          "NgayHenTra": self.dossiers[i].get("NgayHenTra", "")} for i in ids if i in self.dossiers]
            return {"error_code": "0", "message": "Thành công", "data": found}
        if not isinstance(data, list) or not data:
            raise _Reply(200, {"error_code": "-2", "message": "data phải là danh sách khác rỗng"})
        for item in data:
            _validate(service, item)
        with self._lock:
            if key and (service, key) in self.applied:
                self.duplicates += 1
                return {"error_code": "0", "message": "Đã nhận trước đó (trùng khóa)", "duplicate": True}
            for item in data:
                if service == "DongBoHoSoMC":
                    supplements = item.pop("DanhSachHoSoBoSung", None) or []
                    self.dossiers.setdefault(item["MaHoSo"], {}).update(item)
                    self.supplements.setdefault(item["MaHoSo"], []).extend(supplements)
                else:
                    if item["MaHoSo"] not in self.dossiers:
                        raise _Reply(200, {"error_code": "-4", "message": f"Hồ sơ {item['MaHoSo']} không tồn tại"})
                    self.progress.setdefault(item["MaHoSo"], []).append(item)
            if key:
                self.applied[(service, key)] += 1
            self._applied_requests += 1
            hold = self._hold_at is not None and self._applied_requests >= self._hold_at
            if hold:
                self._hold_at = None
        if hold:
            self.held.set()
            self._release.wait()
        return {"error_code": "0", "message": "Thành công", "id": secrets.token_hex(6)}


def _validate(service: str, item: Any) -> None:
    if not isinstance(item, dict):
        raise _Reply(200, {"error_code": "-2", "message": "mỗi phần tử data phải là đối tượng"})
    required = (("MaHoSo", "MaTTHC", "NgayTiepNhan", "TrangThaiHoSo") if service == "DongBoHoSoMC"
                else ("MaHoSo", "ThoiDiemXuLy", "TrangThai"))
    missing = [f for f in required if not item.get(f)]
    if missing:
        raise _Reply(200, {"error_code": "-2", "message": f"thiếu trường bắt buộc: {', '.join(missing)}"})
    status = item.get("TrangThaiHoSo", item.get("TrangThai"))
    if not str(status).isdigit() or not 1 <= int(str(status)) <= 10:
        raise _Reply(200, {"error_code": "-2", "message": f"trạng thái không hợp lệ: {status!r} (1–10)"})
    for name in ("NgayTiepNhan", "NgayHenTra", "NgayTra", "ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"):
        if item.get(name):
            try:
                parse_portal_time(item[name])
            except ValueError as exc:
                raise _Reply(200, {"error_code": "-2", "message": f"{name}: {exc}"}) from exc


class _Handler(BaseHTTPRequestHandler):
    portal: PortalSimulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one small answer per request: do not wait for delayed ACKs

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                raise _Reply(413, {"error_code": "413", "message": "request too large"})
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError as exc:
                raise _Reply(400, {"error_code": "400", "message": f"JSON không hợp lệ: {exc}"}) from exc
            if not isinstance(body, dict):
                raise _Reply(400, {"error_code": "400", "message": "body phải là đối tượng JSON"})
            status, reply = self.portal.handle(self.path, self.headers, body)
        except _Reply as r:
            status, reply = r.status, r.body
        self._send(status, reply)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timed out) before the answer: that is the point of a hang
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # the simulator is quiet; tests count instead
        return


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="A national-portal simulator for procflow on 127.0.0.1.")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--timeout-share", type=float, default=0.4)
    ap.add_argument("--hang", type=float, default=2.0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    portal = PortalSimulator(port=args.port, fail_rate=args.fail_rate, timeout_share=args.timeout_share,
                             hang=args.hang, latency=args.latency, seed=args.seed).start()
    print(f"portal simulator on {portal.url} (user {portal.username!r}); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        portal.stop()


if __name__ == "__main__":
    main()
