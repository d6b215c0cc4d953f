"""The local server trusts no other site (issue 25): each reproducer of the issue, through Starlette's test
client and over a real socket to `matcalc serve`.

- A page on another site may not use the server: a foreign Origin is 403 (a text/plain POST was run,
  HTTP 200), the API takes application/json only (415), a Host that is not one of the bound names is 421
  (DNS rebinding) — page, static files and API alike; `--allow-origin` admits a page by name.
- No request body is a 500: 20,000 nested `[`, 8,000 nested objects, nesting inside a field, a lone
  surrogate in any text, NaN, a 5,000-digit number — each a 400 with a one-line message.
- A dead worker is never handed out: idle workers killed with SIGKILL, or a dead standby promoted by a
  demotion, are replaced and the next request is answered.
- Slow clients are cut off: a socket that sends nothing, trickles its headers or its body is answered
  408 and closed; connections past the cap are answered 503 at once.

Answers that are results are checked against finite differences of the expression (tests/oracle.py).
No test asserts a time: sockets carry generous timeouts only so that a hang fails instead of sticking.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import matcalc  # noqa: E402
import oracle  # noqa: E402
from live_server import body_of, children, raw_request, running_server, status_of  # noqa: E402
from matcalc.check import numeric  # noqa: E402
from matcalc.web.app import create_app  # noqa: E402
from matcalc.web.connections import MAX_CONNECTIONS  # noqa: E402
from matcalc.web.guard import MAX_DEPTH  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
QUICK = {"expression": "x'*A*x", "wrt": "x"}
JSON = {"content-type": "application/json"}
EVIL = "http://evil.example"
REBIND = f"rebind.attacker.example:{PORT}"


def local_client(app) -> TestClient:
    return TestClient(app, base_url=BASE)


@pytest.fixture(scope="module")
def client():
    with local_client(create_app(workers=1, time_limit=60.0, port=PORT, test_hooks=True)) as c:
        yield c


def assert_right(body: dict, request: dict) -> None:
    """The served result, evaluated, equals central finite differences of the expression."""
    d = matcalc.derive(request["expression"], wrt=request["wrt"])
    for inst in oracle.instances(d, count=2, seed=5):
        got = np.asarray(oracle.printed_value(d, inst, body["result"]), dtype=float)
        want = oracle.truth(d, inst)
        assert numeric.relative_error(got.reshape(want.shape), want) < oracle.TOLERANCE


def one_line_error(r, status: int, kind: str | None = None) -> str:
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert set(body) == {"error", "kind"} and "\n" not in body["error"] and body["error"], body
    if kind is not None:
        assert body["kind"] == kind, body
    return body["error"]


# ================================================================ Starlette's test client


def test_a_page_of_another_site_is_refused_403(client):
    text = json.dumps(QUICK)
    r = client.post("/api/derive", content=text, headers={"content-type": "text/plain", "origin": EVIL})
    assert "evil.example" in one_line_error(r, 403, "origin")          # was run: HTTP 200
    one_line_error(client.post("/api/derive", json=QUICK, headers={"origin": EVIL}), 403, "origin")
    one_line_error(client.post("/api/derive", json=QUICK, headers={"origin": "null"}), 403, "origin")
    one_line_error(client.get("/", headers={"origin": EVIL}), 403, "origin")
    one_line_error(client.get("/static/app.js", headers={"origin": f"http://127.0.0.1:{PORT + 1}"}), 403)
    r = client.post("/api/derive", json=QUICK, headers={"origin": BASE})   # the server's own page
    assert r.status_code == 200 and r.json()["result"] == "(A + A')*x"
    assert_right(r.json(), QUICK)


def test_allow_origin_admits_that_page_and_lets_it_read_the_answer():
    other = "http://localhost:3000"
    with local_client(create_app(workers=1, port=PORT, allow_origins=[other])) as c:
        pre = c.options("/api/derive", headers={"origin": other, "access-control-request-method": "POST",
                                                "access-control-request-headers": "content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == other
        r = c.post("/api/derive", json=QUICK, headers={"origin": other})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == other
        assert_right(r.json(), QUICK)
        one_line_error(c.post("/api/derive", json=QUICK, headers={"origin": EVIL}), 403, "origin")


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/api/examples"),
                                          ("POST", "/api/derive")])
def test_a_host_that_is_not_ours_is_421_page_static_and_api(client, method, path):
    for host in (REBIND, f"127.0.0.1:{PORT + 1}", "localhost", "127.0.0.1.nip.io:8765", ""):
        r = client.request(method, path, json=QUICK if method == "POST" else None, headers={"host": host})
        one_line_error(r, 421, "host")
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}", f"LOCALHOST:{PORT}"):
        r = client.request(method, path, json=QUICK if method == "POST" else None, headers={"host": host})
        assert r.status_code == 200, (host, r.status_code, r.text[:300])


def test_the_host_given_and_allow_host_are_answered_too():
    with TestClient(create_app(workers=1, host="192.168.7.7", port=9000, allow_hosts=["box.lan"]),
                    base_url="http://192.168.7.7:9000") as c:
        assert c.get("/api/examples").status_code == 200
        assert c.get("/api/examples", headers={"host": "box.lan:9000"}).status_code == 200
        assert c.get("/api/examples", headers={"host": "localhost:9000"}).status_code == 200
        one_line_error(c.get("/api/examples", headers={"host": "evil.lan:9000"}), 421, "host")


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=1",
                                  "application/json; charset=latin-1", "application/jsonx", None])
def test_the_api_takes_json_only_415(client, kind):
    headers = {} if kind is None else {"content-type": kind}
    r = client.post("/api/derive", content=json.dumps(QUICK).encode(), headers=headers)
    one_line_error(r, 415, "media-type")


def test_json_with_a_charset_is_taken(client):
    r = client.post("/api/derive", content=json.dumps(QUICK).encode(),
                    headers={"content-type": "Application/JSON; charset=UTF-8"})
    assert r.status_code == 200
    assert_right(r.json(), QUICK)


DEEP = {
    "20,000 nested [": b"[" * 20000,
    "8,000 nested objects": b'{"a":' * 8000 + b"1" + b"}" * 8000,
    "nesting inside a field": b'{"expression": "x", "wrt": "x", "shapes": ' + b"[" * 20000 + b"]" * 20000 + b"}",
    f"{MAX_DEPTH + 1} levels": b'{"expression": "x", "shapes": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
}


@pytest.mark.parametrize("name", list(DEEP))
def test_deep_json_is_400_with_one_line(client, name):
    message = one_line_error(client.post("/api/derive", content=DEEP[name], headers=JSON), 400, "request")
    assert "nested" in message
    r = client.post("/api/derive", json=QUICK)
    assert r.status_code == 200                         # and the server goes on


@pytest.mark.parametrize("body, phrase", [
    (b'{"expression": "x\xff"}', "not UTF-8"),
    (b'{"expression": NaN, "wrt": "x"}', "NaN"),
    (b'{"order": ' + b"9" * 5000 + b'}', "digits"),
    (b'{"expression": "x"} trailing', "not JSON"),
    (b"", "not JSON"),
    (b'{"expression": "x", "wrt": "x"', "not JSON"),
])
def test_every_parser_failure_is_400_with_one_line(client, body, phrase):
    assert phrase in one_line_error(client.post("/api/check", content=body, headers=JSON), 400, "request")


@pytest.mark.parametrize("path, payload", [
    ("/api/derive", '{"expression": "x\'*\\ud800x", "wrt": "x"}'),
    ("/api/check", '{"expression": "x\'*x", "wrt": "x", "claim": "\\ud800"}'),
    ("/api/check-derivation", '{"derivation": "x\'*x\\n= \\udfff"}'),
    ("/api/derive", '{"expression": "x", "wrt": "x", "shapes": {"\\ud800": "n"}}'),
])
def test_a_lone_surrogate_is_400_never_500(client, path, payload):
    assert "surrogate" in one_line_error(client.post(path, content=payload.encode(), headers=JSON), 400, "request")


def test_answers_are_ascii_json(client):
    r = client.post("/api/derive", json={"expression": "-y'*log(softmax(W*x + b))", "wrt": "W"})
    assert r.status_code == 200
    r.content.decode("ascii")                            # ∂, × and the like are escaped
    assert "∂f/∂W" in r.text or "\\u2202" in r.text


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{p}") and _state(p) not in ("Z", "X") for p in pids):
        assert time.monotonic() < deadline, "the workers did not die"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def test_killed_idle_workers_are_never_handed_out():
    with local_client(create_app(workers=2, port=PORT)) as c:
        pool = c.app.state.pool
        _kill([w.process.pid for w in pool._all])          # every worker, the standby too
        for _ in range(3):                                  # was 422 "([Errno 32] Broken pipe)"
            r = c.post("/api/derive", json=QUICK)
            assert r.status_code == 200, r.text
            assert_right(r.json(), QUICK)
        assert pool.dead >= 2


def test_a_dead_standby_is_not_handed_over_by_a_demotion():
    with local_client(create_app(workers=1, port=PORT, test_hooks=True)) as c:
        pool = c.app.state.pool
        _kill([pool._standby.process.pid])
        import threading

        slow = {}
        thread = threading.Thread(target=lambda: slow.update(r=c.post("/api/_sleep", json={"seconds": 2})))
        thread.start()
        try:
            while pool.demoted == 0:                        # past slow_after: the dead standby takes its place
                time.sleep(0.05)
            r = c.post("/api/derive", json=QUICK)
            assert r.status_code == 200, r.text
            assert_right(r.json(), QUICK)
        finally:
            thread.join()
        assert slow["r"].status_code == 200 and pool.dead >= 1


def test_a_body_that_does_not_arrive_is_408():
    app = create_app(workers=1, port=PORT, body_timeout=0.5)
    sent = []

    async def go():
        first = True

        async def receive():
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": b'{"expression": ', "more_body": True}
            await asyncio.sleep(3600)                      # the rest never comes

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/derive", "raw_path": b"/api/derive", "query_string": b"",
                 "root_path": "", "headers": [(b"host", f"127.0.0.1:{PORT}".encode()),
                                              (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", PORT), "state": {}}
        await asyncio.wait_for(app(scope, receive, send), 60)

    asyncio.run(go())
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["kind"] == "timeout"


# ================================================================ over a real socket


@pytest.fixture(scope="module")
def server():
    with running_server("--workers", "2", "--time-limit", "60") as running:
        yield running


def http(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    head = {"Host": f"127.0.0.1:{port}", "Content-Length": str(len(body)), "Connection": "close",
            **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
    return raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def socket_error(reply: bytes, status: int, kind: str) -> None:
    assert status_of(reply) == status, reply[:500]
    body = json.loads(body_of(reply))
    assert body["kind"] == kind and "\n" not in body["error"], body


def test_over_a_socket_other_sites_and_other_hosts_are_refused(server):
    url, port, _ = server
    quick = json.dumps(QUICK).encode()
    socket_error(http(port, "POST", "/api/derive", quick, {"Content-Type": "text/plain", "Origin": EVIL}),
                 403, "origin")
    socket_error(http(port, "POST", "/api/derive", quick, {"Content-Type": "text/plain"}), 415, "media-type")
    for method, path in (("GET", "/"), ("GET", "/static/app.js"), ("POST", "/api/derive")):
        reply = http(port, method, path, quick if method == "POST" else b"",
                     {"Host": f"rebind.attacker.example:{port}", "Content-Type": "application/json"})
        socket_error(reply, 421, "host")
    reply = http(port, "POST", "/api/derive", quick, {"Content-Type": "application/json",
                                                      "Origin": f"http://localhost:{port}"})
    assert status_of(reply) == 200
    assert_right(json.loads(body_of(reply)), QUICK)


def test_over_a_socket_no_body_is_a_500(server):
    _, port, _ = server
    for body in list(DEEP.values()) + [b'{"expression": "x\'*\\ud800x", "wrt": "x"}', b'{"claim": "\\udc00"}',
                                       b"\xff\xfe", b'{"order": ' + b"9" * 5000 + b"}"]:
        socket_error(http(port, "POST", "/api/check", body, {"Content-Type": "application/json"}), 400, "request")


def _zygote_of(server_pid: int) -> int:
    for pid in children(server_pid):
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"matcalc.web.zygote" in fh.read():
                return pid
    raise AssertionError("no zygote under the server")


def test_over_a_socket_killed_workers_are_replaced(server):
    _, port, process = server
    workers = children(_zygote_of(process.pid))
    assert len(workers) >= 3                                 # two in the pool and the standby
    _kill(workers)
    for _ in range(3):
        reply = http(port, "POST", "/api/derive", json.dumps(QUICK).encode(), {"Content-Type": "application/json"})
        assert status_of(reply) == 200, reply[:400]
        assert_right(json.loads(body_of(reply)), QUICK)


def _read_until_closed(s: socket.socket) -> bytes:
    s.settimeout(60)                                         # only so that a hang fails the test
    chunks = []
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_over_a_socket_slow_clients_are_answered_408_and_closed(server):
    _, port, _ = server
    idle = socket.create_connection(("127.0.0.1", port))         # sends nothing
    headers = socket.create_connection(("127.0.0.1", port))      # trickles its headers
    body = socket.create_connection(("127.0.0.1", port))         # trickles its body
    try:
        body.sendall(f"POST /api/derive HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 100\r\n\r\n".encode())
        for ch in b"GET / HTTP/1.1\r\nHost: 127.0.0.1":             # a trickle does not extend the deadline
            headers.sendall(bytes([ch]))
            body.sendall(b" ")
            time.sleep(0.05)
        assert _read_until_closed(idle) == b""                  # closed by the server, in silence
        for s, what in ((headers, "headers"), (body, "body")):
            reply = _read_until_closed(s)                        # closed by the server, not by the test
            socket_error(reply, 408, "timeout")
            assert what in json.loads(body_of(reply))["error"]
    finally:
        for s in (idle, headers, body):
            s.close()


def test_over_a_socket_connections_past_the_cap_are_answered_503(server):
    import select

    _, port, _ = server
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS + 6)]
    try:
        refused, deadline = set(), time.monotonic() + 30
        while len(refused) < 6 and time.monotonic() < deadline:
            ready, _, _ = select.select([s for s in held if s not in refused], [], [], 0.5)
            for s in ready:
                reply = s.recv(4096)
                assert status_of(reply) == 503, reply[:300]          # not a timeout: the others wait
                assert json.loads(body_of(reply))["kind"] == "busy"
                refused.add(s)
        assert len(refused) == 6
    finally:
        for s in held:
            s.close()
    time.sleep(0.5)
    reply = http(port, "POST", "/api/derive", json.dumps(QUICK).encode(), {"Content-Type": "application/json"})
    assert status_of(reply) == 200
