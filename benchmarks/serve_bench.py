"""A bounded load test of `matcalc serve` on loopback: concurrent clients sending the page's examples.

The server is started as a user starts it (`python -m matcalc serve --port 0`, its own process, the
port it picked read from its first line), and stopped as a user stops it (Ctrl-C: SIGINT), checking
that it and its worker processes exit. Each client is a thread with one keep-alive HTTP connection,
sending POST /api/derive and /api/check requests built from matcalc/web/examples.py (the examples
the page offers), one after another, each client starting at a different example.

Three phases of `--seconds` each:

1. `--clients` clients (default 8): the headline p50/p99 latency, throughput and error count;
2. control: one client fewer, all sending examples;
3. the same clients plus one that sends a pathological expression (a deep nesting whose derivative
   grows without bound) which runs into the server's time limit and is answered 422; the others'
   p50/p99 are compared with phase 2 (same number of example clients, so the same load but for it).
   Phases 2 and 3 run in alternating blocks (`--blocks`, default 2 of 10 s each), so a change in the
   shared machine's speed during the run falls on both alike rather than on one of them.

An error is any answer other than 200 to an example request, or a failed connection. The slow
client's 422 answers are expected and counted apart.

    python benchmarks/serve_bench.py [--seconds 20] [--clients 8] [--workers 2] [--time-limit 10]
                                     [--blocks 2] [--no-slow]

Why this shape: the server runs every derivation in a small pool of worker processes (the event loop
never computes), so the figures show the pool's queueing under concurrency, and phase 3 shows what
one hostile request costs everyone else while it holds a worker.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "matcalc").is_dir():
    sys.path.insert(0, str(ROOT))

from matcalc.web.examples import EXAMPLES  # noqa: E402

GOAL_P99_MS = 100.0
PATHOLOGICAL = "sum(" + "tanh(W*" * 22 + "x" + ")" * 22 + ")"   # tests/test_web_api.py's RUNAWAY
HOST = "127.0.0.1"


def example_requests() -> list[tuple[str, dict]]:
    """(path, body) for every example: derive it, and check its claim (a typical mistake)."""
    out = []
    for e in EXAMPLES:
        body = {k: e[k] for k in ("expression", "wrt", "shapes", "assume", "layout")}
        out.append(("/api/derive", body))
        out.append(("/api/check", {**body, "claim": e["claim"]}))
    return out


# ---------------------------------------------------------------- the server process


class Server:
    """`matcalc serve` in a subprocess on a port the OS picks; `stop()` sends Ctrl-C and waits."""

    def __init__(self, workers: int, time_limit: float):
        cmd = [sys.executable, "-m", "matcalc", "serve", "--host", HOST, "--port", "0",
               "--workers", str(workers), "--time-limit", str(time_limit)]
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env)
        self.port = self._read_port(timeout=60)
        self._wait_until_ready(timeout=60)

    def _read_port(self, timeout: float) -> int:
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = found[0] if found else ""
        marker = f"http://{HOST}:"
        if marker not in line:
            self.stop()
            raise SystemExit(f"matcalc serve did not start: {line.strip() or 'no output'} "
                             f"{self.process.stderr.read().strip() if self.process.poll() is not None else ''}")
        return int(line.split(marker, 1)[1].split("/", 1)[0])

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/api/examples")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("matcalc serve did not answer within a minute")

    def worker_pids(self) -> list[int]:
        """The server's descendants: the zygote and the workers it forked (or workers started directly)."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                children = []
            found += children
            todo += children
        return found

    def stop(self) -> str:
        workers = self.worker_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                return f"did not stop on Ctrl-C within 20 s (terminated, exit {self.process.returncode})"
        time.sleep(0.5)
        left = [p for p in workers if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
        said = self.process.stderr.read().strip().splitlines()
        how = f"stopped on Ctrl-C, exit code {self.process.returncode}" + (f" ({said[-1]!r})" if said else "")
        return how + (f"; worker processes still running: {left}" if left else
                      f"; its {len(workers)} worker processes gone")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


# ---------------------------------------------------------------- the clients


class Client(threading.Thread):
    """Sends `requests` in turn (from `start`) until `deadline`; records (seconds, ok) per request."""

    def __init__(self, port: int, requests, start: int, deadline: float, expect: int = 200):
        super().__init__(daemon=True)
        self.port, self.requests, self.index, self.deadline, self.expect = port, requests, start, deadline, expect
        self.samples: list[tuple[float, bool]] = []
        self.statuses: dict[object, int] = {}
        self.conn = None

    def send(self, path: str, body: dict):
        data = json.dumps(body)
        for attempt in (0, 1):   # a keep-alive connection the server closed: reconnect once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
                self.conn.request("POST", path, data, {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError) as err:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return type(err).__name__

    def run(self):
        while time.monotonic() < self.deadline:
            path, body = self.requests[self.index % len(self.requests)]
            self.index += 1
            t = time.perf_counter()
            status = self.send(path, body)
            self.samples.append((time.perf_counter() - t, status == self.expect))
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.conn is not None:
            self.conn.close()


def phase(port: int, clients: int, seconds: float, slow: bool = False):
    requests = example_requests()
    deadline = time.monotonic() + seconds
    normal = [Client(port, requests, k, deadline) for k in range(clients)]
    hostile = [Client(port, [("/api/derive", {"expression": PATHOLOGICAL, "wrt": "W"})], 0, deadline, 422)] \
        if slow else []
    for c in normal + hostile:
        c.start()
    for c in normal + hostile:
        c.join()
    return normal, hostile


def summary(clients) -> dict:
    lat = np.array([s for c in clients for s, _ in c.samples]) * 1000
    errors = sum(1 for c in clients for _, ok in c.samples if not ok)
    statuses: dict = {}
    for c in clients:
        for k, v in c.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    if lat.size == 0:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan"), "errors": errors,
                "statuses": statuses}
    return {"n": int(lat.size), "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
            "max": float(lat.max()), "errors": errors, "statuses": statuses}


def line(label: str, s: dict, seconds: float) -> str:
    return (f"{label:<34} {s['n']:6d} {s['n'] / seconds:7.1f} {s['p50']:8.0f} {s['p99']:8.0f} {s['max']:8.0f}"
            f" {s['errors']:7d}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="matcalc serve --workers (its default: 2)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="matcalc serve --time-limit (default 10)")
    parser.add_argument("--blocks", type=int, default=2,
                        help="phases 2 and 3 alternate in this many blocks each (default 2: 10 s blocks)")
    parser.add_argument("--no-slow", action="store_true", help="skip phases 2 and 3 (the slow request)")
    args = parser.parse_args(argv)

    server = Server(args.workers, args.time_limit)
    try:
        print(f"matcalc serve on {HOST}:{server.port}, --workers {args.workers},"
              f" --time-limit {args.time_limit:g} s;"
              f" {os.cpu_count()} CPUs; requests: derive + check of the {len(EXAMPLES)} examples"
              f" ({', '.join(e['id'] for e in EXAMPLES)})")
        phase(server.port, len(example_requests()), 2.0)   # warm-up: every request once or more, untimed
        print(f"\n{'phase':<34} {'reqs':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
        normal, _ = phase(server.port, args.clients, args.seconds)
        main_run = summary(normal)
        print(line(f"{args.clients} clients", main_run, args.seconds))
        by_kind = {p: summary([_only(c, p) for c in normal]) for p in ("/api/derive", "/api/check")}
        for p, s in by_kind.items():
            print(line(f"  of which {p}", s, args.seconds))
        if not args.no_slow:
            control, others, hostile = [], [], []
            for _ in range(args.blocks):    # alternated, so a drift of the machine's speed hits both alike
                control += phase(server.port, args.clients - 1, args.seconds / args.blocks)[0]
                normal_b, hostile_b = phase(server.port, args.clients - 1, args.seconds / args.blocks, slow=True)
                others += normal_b
                hostile += hostile_b
            control_s = summary(control)
            print(line(f"{args.clients - 1} clients (control)", control_s, args.seconds))
            others_s, hostile_s = summary(others), summary(hostile)
            print(line(f"{args.clients - 1} clients + 1 pathological", others_s, args.seconds))
            print(line("  the pathological client", hostile_s, args.seconds)
                  + f"   answers: {hostile_s['statuses']}")
    finally:
        stopped = server.stop()
    print(f"\nserver: {stopped}")
    print("\ngoals (issue 11)")
    mark = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print(f"[{mark(main_run['p99'] <= GOAL_P99_MS)}] p99 ≤ {GOAL_P99_MS:.0f} ms with {args.clients} clients:"
          f" {main_run['p99']:.0f} ms")
    print(f"[{mark(main_run['errors'] == 0)}] zero errors: {main_run['errors']}"
          f" (answers: {main_run['statuses']})")
    if not args.no_slow:
        ratio = others_s["p99"] / control_s["p99"]
        print(f"[{mark(ratio <= 1.2 and others_s['errors'] == 0)}] a slow request does not raise the others' p99"
              f" (within 1.2×): {others_s['p99']:.0f} ms against {control_s['p99']:.0f} ms, {ratio:.2f}×;"
              f" errors {others_s['errors']}")


def _only(client: Client, path: str) -> Client:
    """A view of one client's samples for one endpoint (requests alternate derive/check in order)."""
    view = Client.__new__(Client)
    paths = [p for p, _ in client.requests]
    start = client.index - len(client.samples)
    view.samples = [s for k, s in enumerate(client.samples) if paths[(start + k) % len(paths)] == path]
    view.statuses = {}
    return view


if __name__ == "__main__":
    main()
