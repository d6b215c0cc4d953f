"""A warm parent process that forks the web server's workers: `python -m matcalc.web.zygote FD [--test-hooks]`.

Why: a fresh interpreter spends 0.7 s of CPU importing matcalc and warming it up. The pool starts a
worker whenever one is killed or demoted (a runaway request), and on a machine whose cores are busy
serving, that start-up slowed every request in flight for most of a second: with one runaway every
10 s it alone set the others' p99. A fork of an already warm process is ready in milliseconds and
shares its memory pages.

Protocol over the SOCK_SEQPACKET socket FD (one message per packet): the zygote sends b"ready" once warm;
the server sends b"<memory limit>" with two file descriptors attached (the worker's requests to read,
its answers to write); the zygote forks and answers b"<pid>". The child starts its own session (so
the pool can lower its CPU priority alone: Linux groups a session's processes for scheduling), caps
its memory and serves. Children are reaped by the kernel (SIGCHLD ignored); the server kills them
through a pidfd, so a reused pid is never signalled. The zygote exits when the server's end closes, and
kills the workers it forked as it goes: a server killed outright cannot, and a worker the pool holds
stopped would otherwise stay so for ever. (The zygote ending alone leaves them to the server.)
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys

from . import worker


def _child(connection: socket.socket, fds: list[int], limit: int, siblings: dict[int, int]) -> None:
    connection.close()
    for fd in siblings.values():
        os.close(fd)
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    worker.limit_memory(limit)
    requests = os.fdopen(fds[0], "r", encoding="utf-8")
    answers = os.fdopen(fds[1], "w", encoding="utf-8")
    worker.serve(requests, answers)


def main(argv: list[str]) -> None:
    connection = socket.socket(fileno=int(argv[0]))
    sys.stdout = sys.stderr
    worker.prepare("--test-hooks" in argv)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    children: dict[int, int] = {}           # pid -> pidfd of each worker still running
    try:
        connection.send(b"ready")
        _serve_forks(connection, children)
    finally:
        for fd in children.values():
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass


def _serve_forks(connection: socket.socket, children: dict[int, int]) -> None:
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(connection, 64, 2)
        except (OSError, ValueError):
            return
        if not message:
            return                           # the server has gone
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            connection.send(b"0")
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child(connection, fds, int(message), children)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        _forget_ended(children)
        try:
            children[pid] = os.pidfd_open(pid)
        except OSError:
            pass                             # it has ended already
        connection.send(str(pid).encode())


def _forget_ended(children: dict[int, int]) -> None:
    watch = select.poll()
    for fd in children.values():
        watch.register(fd, select.POLLIN)
    ended = {fd for fd, _ in watch.poll(0)}
    for pid, fd in list(children.items()):
        if fd in ended:
            os.close(fd)
            del children[pid]


if __name__ == "__main__":
    main(sys.argv[1:])
