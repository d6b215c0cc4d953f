"""A small pool of worker processes, each running one request at a time, killed when it runs too long.

Why not concurrent.futures: a ProcessPoolExecutor cannot cancel a task that is already running, so a
pathological expression (nested tanh(W*tanh(W*...)) grows exponentially) would hold a worker — and
its memory — for minutes. Here each worker is a separate process speaking JSON lines over two pipes
(forked ready-made by a warm zygote, zygote.py, in milliseconds; a fresh interpreter, worker.py, where
the zygote cannot be had); the server awaits the answer on the event loop (no thread per request), and on
the time limit it kills that one process and starts a fresh one, so other users wait at most for a
free worker, never for the runaway computation.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
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


def _worker_env() -> dict:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")  # one BLAS thread per worker: the pool is the unit of parallelism
    # the worker imports the same matcalc as the server, wherever the server's came from
    home = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    return env


class _Forked:
    """A worker forked by the zygote (not our child), held by a pidfd: it can be killed and awaited like a
    Popen, and a pid reused after its exit is never signalled."""

    def __init__(self, pid: int):
        self.pid = pid
        self._fd = os.pidfd_open(pid)
        self.returncode: int | None = None

    def __del__(self):
        # closed only here, never while a reaping thread may still be waiting on it
        if hasattr(self, "_fd"):
            os.close(self._fd)

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            watch = select.poll()
            watch.register(self._fd, select.POLLIN)
            if watch.poll(None if timeout is None else int(timeout * 1000)):
                self.returncode = -signal.SIGKILL   # the zygote reaps it; its status is not ours to read
        return self.returncode

    def poll(self) -> int | None:
        return self.wait(0)

    def send_signal(self, sig: int) -> None:
        try:
            signal.pidfd_send_signal(self._fd, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Worker:
    """One worker process, the pipes to it, and the bytes read from it so far."""

    demoted = False   # reniced after running long: it finishes its request at low priority, then retires
    stopped = False   # demoted and held (SIGSTOP) while other requests run

    def __init__(self, process, requests, answers):
        self.process = process           # a subprocess.Popen, or a _Forked
        self.requests = requests         # binary file: JSON lines to the worker
        self.answers = answers           # binary file: JSON lines from it
        self.fd = answers.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""

    @classmethod
    def started(cls, memory_limit: int | None, test_hooks: bool = False) -> "_Worker":
        """A worker in a fresh interpreter (when there is no zygote to fork one)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "matcalc.web.worker", str(memory_limit or 0)] + (["--test-hooks"] if test_hooks else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_worker_env(), start_new_session=True)
        return cls(process, process.stdin, process.stdout)

    def send(self, message: dict) -> None:
        self.requests.write(json.dumps(message).encode() + b"\n")
        self.requests.flush()

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
        """SIGKILL. While serving (wait=False) the exit is awaited by a thread: a runaway worker holding
        gigabytes takes a while to unmap them, and the event loop must not stall for everyone meanwhile."""
        if self.process.poll() is None:
            self.process.kill()
        for stream in (self.requests, self.answers):
            try:
                stream.close()
            except OSError:
                pass
        if wait:
            self.process.wait(timeout=10)
        else:
            threading.Thread(target=self.process.wait, daemon=True).start()


class _Zygote:
    """The zygote process (zygote.py) and our end of its socket; `await fork(limit)` is a ready worker's
    pipes and pid. One exchange at a time; any failure or cancellation mid-exchange closes it for good
    (the pool then starts workers as fresh interpreters)."""

    def __init__(self, test_hooks: bool):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "matcalc.web.zygote", str(theirs.fileno())]
                + (["--test-hooks"] if test_hooks else []),
                stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()], env=_worker_env(), start_new_session=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.socket = ours
        self.lock = asyncio.Lock()
        self.alive = True

    async def _reply(self, timeout: float) -> bytes:
        message = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.socket, 64), timeout)
        if not message:
            raise WorkerDied("the zygote ended")
        return message

    async def ready(self, timeout: float) -> None:
        try:
            if await self._reply(timeout) != b"ready":
                raise WorkerDied("the zygote did not start")
        except BaseException:
            self.close()
            raise

    async def fork(self, memory_limit: int | None, timeout: float) -> _Worker:
        async with self.lock:
            if not self.alive:
                raise WorkerDied("the zygote is closed")
            theirs_in, ours_in = os.pipe()       # requests: we write, the worker reads
            ours_out, theirs_out = os.pipe()     # answers: the worker writes, we read
            try:
                socket.send_fds(self.socket, [str(memory_limit or 0).encode()], [theirs_in, theirs_out])
                os.close(theirs_in)
                os.close(theirs_out)
                theirs_in = theirs_out = -1
                pid = int(await self._reply(timeout))
                if pid <= 0:
                    raise WorkerDied("the zygote could not fork")
                process = _Forked(pid)
            except BaseException:
                self.close()
                for fd in (theirs_in, theirs_out, ours_in, ours_out):
                    if fd >= 0:
                        os.close(fd)
                raise
        return _Worker(process, os.fdopen(ours_in, "wb"), os.fdopen(ours_out, "rb"))

    def close(self, wait: bool = False) -> None:
        self.alive = False
        self.socket.close()
        if self.process.poll() is None:
            self.process.kill()
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
        self.dead = 0                          # workers found ended before use, and replaced
        self._standby: _Worker | None = None   # started and warm, idle outside the pool until a demotion
        self._running = 0                      # requests in the pool's own (not demoted) workers
        self._held: set[_Worker] = set()       # demoted workers still computing
        self._zygote: _Zygote | None = None

    async def _new_worker(self) -> _Worker:
        """Forked by the zygote if there is one alive; otherwise a fresh interpreter."""
        zygote = self._zygote
        if zygote is not None and zygote.alive:
            try:
                return await zygote.fork(self.memory_limit, self.start_limit)
            except (WorkerDied, OSError, ValueError, asyncio.TimeoutError):
                pass
        return _Worker.started(self.memory_limit, self.test_hooks)

    async def _ready(self) -> _Worker:
        """A new worker, once it has imported matcalc (so its start-up is not charged to a request)."""
        worker = await self._new_worker()
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
        if hasattr(os, "pidfd_open") and hasattr(socket, "send_fds") and hasattr(os, "fork"):
            try:
                zygote = _Zygote(self.test_hooks)
                await zygote.ready(self.start_limit)
                self._zygote = zygote
            except (WorkerDied, OSError, asyncio.TimeoutError):
                self._zygote = None
        *workers, self._standby = await asyncio.gather(*(self._ready() for _ in range(self.size + 1)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for worker in list(self._all):
            self._retire(worker, wait=True)
        if self._zygote is not None:
            self._zygote.close(wait=True)
            self._zygote = None
        self._idle = None

    def _retire(self, worker: _Worker, wait: bool = False) -> None:
        self._all.discard(worker)
        worker.kill(wait)

    def _demote(self, worker: _Worker) -> None:
        """A request that has run `slow_after` seconds is likely a runaway: the standby worker (forked with the
        pool, already warm) takes its worker's place at once, and the worker drops to the lowest CPU priority
        and is held while other requests run (`_govern`). It keeps its time limit; a raised priority cannot
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
        self._held.add(worker)
        self._running -= 1         # its request no longer counts as one the pool is serving
        self._govern()
        if self._standby is not None:           # the warm standby takes the place at once; a new one is made
            self._idle.put_nowait(self._standby)
            self._standby = None
            self._spawn(standby=True)
        else:
            self._spawn()

    def _govern(self) -> None:
        """Demoted workers compute only while no other request is running: stopped (SIGSTOP) when one
        starts, continued when the last ends. Their lowest priority was not enough: they ran whenever a
        core waited a moment between requests (a third of a core under load), and that alone raised
        everyone else's p99. Under unbroken load a demoted request then makes no progress until its
        time limit, which for a runaway is where it ends anyway."""
        pause = self._running > 0
        for worker in self._held:
            if worker.stopped != pause:
                worker.stopped = pause
                try:
                    worker.process.send_signal(signal.SIGSTOP if pause else signal.SIGCONT)
                except OSError:
                    pass

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker`; a fresh one joins the idle queue once it is ready (in the background)."""
        self._retire(worker)
        self.killed += 1
        self._spawn()

    def _bury(self, worker: _Worker) -> None:
        """A worker found ended before use: retired, and a fresh one started in its place."""
        self.dead += 1
        self._retire(worker)
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

    async def _idle_worker(self, deadline: float) -> _Worker:
        """An idle worker that is alive. One that ended while idle (killed by the OS or a user, or a
        standby that died before its demotion handed it over) is replaced, never handed out: it would
        answer the next request with a broken pipe."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                worker = await asyncio.wait_for(self._idle.get(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise Busy() from None
            if worker.process.poll() is None:
                return worker
            self._bury(worker)

    async def run(self, name: str, payload) -> tuple[int, dict]:
        if self._idle is None:
            await self.start()
        deadline = asyncio.get_running_loop().time() + self.wait_limit
        while True:
            worker = await self._idle_worker(deadline)
            try:
                worker.send({"name": name, "payload": payload})
                break
            except (BrokenPipeError, OSError, ValueError):
                # it ended between the look and the request, which it never read: another worker takes it
                self._bury(worker)
        started = time.monotonic()
        healthy = False
        self._running += 1
        self._govern()
        try:
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
            if worker.demoted:
                self._held.discard(worker)
            else:
                self._running -= 1
                self._govern()
            if healthy and not worker.demoted:
                self._idle.put_nowait(worker)
            elif worker.demoted:       # its place in the pool is already taken by a fresh worker
                self._retire(worker)
                if not healthy:
                    self.killed += 1
            else:  # timed out, died, or the request was cancelled mid-way: never reuse it
                self._replace(worker)
