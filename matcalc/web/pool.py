"""A small pool of worker processes, each running one request at a time, killed when it runs too long.

Why not concurrent.futures: a ProcessPoolExecutor cannot cancel a task that is already running, so a
pathological expression (nested tanh(W*tanh(W*...)) grows exponentially) would hold a worker — and
its memory — for minutes. Here each worker is a separate interpreter (worker.py) speaking JSON lines
over its stdin/stdout; the server awaits the answer on the event loop (no thread per request), and on
the time limit it kills that one process and starts a fresh one, so other users wait at most for a
free worker, never for the runaway computation.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


class Timeout(Exception):
    """The request ran past the pool's time limit; its worker was killed."""


class Busy(Exception):
    """No worker became free within the wait limit."""


class WorkerDied(Exception):
    """The worker ended without answering (killed by the OS, most likely for memory)."""


class _Worker:
    """One worker process and the bytes read from it so far."""

    demoted = False   # reniced after running long: it finishes its request at low priority, then retires

    def __init__(self, memory_limit: int | None, test_hooks: bool = False):
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")  # one BLAS thread per worker: the pool is the unit of parallelism
        # the worker imports the same matcalc as the server, wherever the server's came from
        home = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "matcalc.web.worker", str(memory_limit or 0)] + (["--test-hooks"] if test_hooks else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.fd = self.process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    async def receive(self, timeout: float | None) -> dict:
        """The next JSON line from the worker, awaited on the event loop."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while b"\n" not in self.buffer:
            ready = loop.create_future()
            loop.add_reader(self.fd, lambda: ready.done() or ready.set_result(None))
            try:
                await asyncio.wait_for(ready, None if deadline is None else max(0.0, deadline - loop.time()))
            finally:
                loop.remove_reader(self.fd)
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise WorkerDied(f"the worker ended (exit status {self.process.poll()})")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def kill(self, wait: bool = True) -> None:
        """SIGKILL. While serving (wait=False) the exit is reaped by a thread: a runaway worker holding
        gigabytes takes a while to unmap them, and the event loop must not stall for everyone meanwhile."""
        if self.process.poll() is None:
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if wait:
            self.process.wait(timeout=10)
        else:
            threading.Thread(target=self.process.wait, daemon=True).start()


class WorkerPool:
    """`await pool.run(name, payload)` runs handlers.run(name, payload) in a worker within `time_limit`."""

    def __init__(self, size: int = 2, time_limit: float = 10.0, wait_limit: float = 30.0,
                 memory_limit: int | None = 3 << 30, start_limit: float = 60.0, test_hooks: bool = False,
                 slow_after: float = 0.25):
        self.size = size
        self.slow_after = slow_after
        self.time_limit = time_limit
        self.wait_limit = wait_limit
        self.memory_limit = memory_limit
        self.start_limit = start_limit
        self.test_hooks = test_hooks
        self._idle: asyncio.Queue | None = None
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task] = set()
        self.killed = 0
        self.demoted = 0
        self._standby: _Worker | None = None   # started and warm, idle outside the pool until a demotion

    async def _ready(self) -> _Worker:
        """A new worker, once it has imported matcalc (so its start-up is not charged to a request)."""
        worker = _Worker(self.memory_limit, self.test_hooks)
        self._all.add(worker)
        try:
            hello = await worker.receive(self.start_limit)
            if not hello.get("ready"):
                raise WorkerDied(f"unexpected first message {hello!r}")
        except BaseException:
            self._retire(worker)
            raise
        return worker

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        *workers, self._standby = await asyncio.gather(*(self._ready() for _ in range(self.size + 1)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for worker in list(self._all):
            self._retire(worker, wait=True)
        self._idle = None

    def _retire(self, worker: _Worker, wait: bool = False) -> None:
        self._all.discard(worker)
        worker.kill(wait)

    def _demote(self, worker: _Worker) -> None:
        """A request that has run `slow_after` seconds is likely a runaway: its worker drops to the lowest CPU
        priority (so on a machine with as many cores as workers it no longer slows everyone else's requests)
        and the standby worker (started with the pool, already warm) takes its place at once. It keeps its time limit; a raised priority cannot
        be taken back without privileges, so it retires when its request ends."""
        worker.demoted = True
        pid = worker.process.pid
        try:
            os.setpriority(os.PRIO_PROCESS, pid, 19)
        except (OSError, AttributeError):
            pass
        try:  # Linux schedules each session as a group (autogroup), where a process's own nice is not seen
            with open(f"/proc/{pid}/autogroup", "w") as fh:
                fh.write("19")
        except OSError:
            pass
        self.demoted += 1
        if self._standby is not None:           # the warm standby takes the place at once; a new one is made
            self._idle.put_nowait(self._standby)
            self._standby = None
            self._spawn(standby=True)
        else:
            self._spawn()

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker`; a fresh one joins the idle queue once it is ready (in the background)."""
        self._retire(worker)
        self.killed += 1
        self._spawn()

    def _spawn(self, standby: bool = False) -> None:
        idle = self._idle

        async def replacement():
            fresh = await self._ready()
            if self._idle is not idle or idle is None:
                self._retire(fresh)
            elif standby and self._standby is None:
                self._standby = fresh
            else:
                idle.put_nowait(fresh)

        task = asyncio.get_running_loop().create_task(replacement())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def run(self, name: str, payload) -> tuple[int, dict]:
        if self._idle is None:
            await self.start()
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.wait_limit)
        except asyncio.TimeoutError:
            raise Busy() from None
        started = time.monotonic()
        healthy = False
        try:
            worker.send({"name": name, "payload": payload})
            try:
                answer = await worker.receive(min(self.slow_after, self.time_limit))
            except asyncio.TimeoutError:
                left = self.time_limit - (time.monotonic() - started)
                if left <= 0:
                    raise
                self._demote(worker)
                answer = await worker.receive(left)
            healthy = True
            return answer["status"], answer["body"]
        except asyncio.TimeoutError:
            raise Timeout(time.monotonic() - started) from None
        except (BrokenPipeError, OSError, ValueError) as err:
            raise WorkerDied(str(err)) from None
        finally:
            if healthy and not worker.demoted:
                self._idle.put_nowait(worker)
            elif worker.demoted:       # its place in the pool is already taken by a fresh worker
                self._retire(worker)
                if not healthy:
                    self.killed += 1
            else:  # timed out, died, or the request was cancelled mid-way: never reuse it
                self._replace(worker)
