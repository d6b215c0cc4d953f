"""The web server's worker pool on its own (no HTTP): workers forked by the warm zygote, each in its own
session, replaced when killed, the slow ones demoted (held while others run) and replaced by a warm
standby, and a pool that still serves
when the zygote is gone. Costs are made known with the test hooks (sleep), so nothing here depends on
how fast the engine or the machine is."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from matcalc.web.pool import Timeout, WorkerPool, _Forked

QUICK = ("derive", {"expression": "x'*A*x", "wrt": "x"})


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def run(coroutine_function):
    return asyncio.run(coroutine_function())


def _pool(**kw) -> WorkerPool:
    return WorkerPool(**{"size": 2, "time_limit": 5.0, "test_hooks": True, **kw})


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="the zygote needs Linux pidfds")
def test_workers_are_forked_by_a_single_threaded_zygote_each_in_its_own_session():
    async def go():
        pool = _pool()
        await pool.start()
        try:
            zygote = pool._zygote.process.pid
            assert _threads(zygote) == 1               # fork() of a process with threads is unsafe
            workers = list(pool._all)
            assert len(workers) == 3                   # two in the pool, one standby
            for worker in workers:
                assert isinstance(worker.process, _Forked)
                ppid, pgrp, session = (int(v) for v in _stat(worker.process.pid)[1:4])
                assert ppid == zygote and session == worker.process.pid    # its own session (and autogroup)
            status, body = await pool.run(*QUICK)
            assert status == 200 and body["result"] == "(A + A')*x"
        finally:
            await pool.close()
        assert all(w.process.poll() is not None for w in workers)
        assert pool._zygote is None

    run(go)


def test_a_killed_worker_is_replaced_by_a_fork_and_the_pool_goes_on():
    async def go():
        pool = _pool(size=1, time_limit=0.5)
        await pool.start()
        try:
            with pytest.raises(Timeout):
                await pool.run("_sleep", {"seconds": 30})
            assert pool.killed == 1
            status, body = await pool.run(*QUICK)
            assert status == 200 and body["result"] == "(A + A')*x"
            forked = [w for w in pool._all if isinstance(w.process, _Forked)]
            assert len(forked) == len(pool._all)      # the replacement came from the zygote too
        finally:
            await pool.close()

    run(go)


def test_a_slow_request_is_demoted_and_its_place_taken_by_the_warm_standby():
    async def go():
        pool = _pool(size=1, slow_after=0.1)
        await pool.start()
        try:
            standby = pool._standby
            slow = asyncio.ensure_future(pool.run("_sleep", {"seconds": 1.5}))
            await asyncio.sleep(0.4)
            (runaway,) = [w for w in pool._all if w.demoted]
            assert int(_stat(runaway.process.pid)[16]) == 19                   # nice 19
            status, _ = await pool.run(*QUICK)    # the pool's one place is served while `slow` runs
            assert status == 200 and not slow.done()
            assert standby not in (pool._standby,) and standby in pool._all    # the standby took the place
            status, _ = await slow
            assert status == 200 and pool.demoted == 1 and runaway not in pool._all   # and it retired
        finally:
            await pool.close()

    run(go)


def test_a_demoted_worker_is_held_while_other_requests_run_and_goes_on_when_they_end():
    async def go():
        pool = _pool(size=1, slow_after=0.1)
        await pool.start()
        try:
            slow = asyncio.ensure_future(pool.run("_sleep", {"seconds": 2.0}))
            await asyncio.sleep(0.3)
            (held,) = [w for w in pool._all if w.demoted]
            pool.slow_after = 5.0                                  # the next request is not demoted itself
            other = asyncio.ensure_future(pool.run("_sleep", {"seconds": 0.6}))
            await asyncio.sleep(0.3)
            assert _stat(held.process.pid)[0] == "T"           # stopped while the other request runs
            assert (await other)[0] == 200
            assert _stat(held.process.pid)[0] != "T"           # continued once it ended
            assert (await slow)[0] == 200                      # and it still answers
        finally:
            await pool.close()

    run(go)


def test_the_pool_starts_fresh_interpreters_when_the_zygote_is_gone():
    async def go():
        pool = _pool(size=1, time_limit=0.5)
        await pool.start()
        try:
            if pool._zygote is not None:
                pool._zygote.process.kill()
                pool._zygote.process.wait(10)
            with pytest.raises(Timeout):
                await pool.run("_sleep", {"seconds": 30})
            status, body = await pool.run(*QUICK)   # the replacement could not be forked: it was started
            assert status == 200 and body["result"] == "(A + A')*x"
            assert pool._zygote is None or not pool._zygote.alive
        finally:
            await pool.close()

    run(go)


HOLD_AND_WAIT = textwrap.dedent("""
    import asyncio
    from matcalc.web.pool import WorkerPool

    async def main():
        pool = WorkerPool(size=1, slow_after=0.1, test_hooks=True, time_limit=120)
        await pool.start()
        slow = asyncio.ensure_future(pool.run("_sleep", {"seconds": 100}))
        await asyncio.sleep(0.5)
        (held,) = [w for w in pool._all if w.demoted]
        pool.slow_after = 100
        other = asyncio.ensure_future(pool.run("_sleep", {"seconds": 100}))
        await asyncio.sleep(0.5)
        print(held.process.pid, *(w.process.pid for w in pool._all), flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
""")


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def test_a_server_killed_outright_takes_its_workers_with_it_even_a_held_one():
    """SIGKILL leaves no cleanup to the server: a held (stopped) worker would never read the end of its pipe."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        pids = [int(p) for p in server.stdout.readline().split()]
        held = pids[0]
        assert _stat(held)[0] == "T"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), [(p, _stat(p)[0]) for p in pids if _alive(p)]
