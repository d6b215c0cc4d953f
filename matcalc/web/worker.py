"""A worker process of the web server: one JSON request a line on stdin, one JSON answer a line on stdout.

Run as `python -m matcalc.web.worker [MEMORY_LIMIT_BYTES] [--test-hooks]` by pool.py, or forked ready-made
by zygote.py (which calls `prepare` once and `serve` in each child). A separate process (not a
multiprocessing child) so that the server can kill it at any moment without leaving locks or shared
state behind, and so that starting one never re-imports the server's __main__ module. It caps its own
address space: a runaway expression then fails here with MemoryError (answered 422), not the machine.
"""

from __future__ import annotations

import json
import os
import sys


def prepare(test_hooks: bool = False) -> None:
    """Import and warm up everything a request needs, so no user's request pays for it."""
    from . import handlers

    if test_hooks:
        handlers.enable_test_hooks()

    import matcalc.check.verify  # noqa: F401
    import matcalc.compile.codegen  # noqa: F401  (imported now, not during the first timed request)

    # warm up: the first derivation and check in a process build the parser and read the rule tables
    # (about 0.2 s); a fresh worker pays that before it is ready, not during some user's request
    example = {"expression": "-y'*log(softmax(W*x + b))", "wrt": "W", "assume": ["sum(y) = 1"]}
    handlers.run("derive", example)
    handlers.run("check", {**example, "claim": "(softmax(W*x + b) - y)*x'"})


def die_with_parent() -> None:
    """Be killed when the parent ends, however it ends. A worker the pool holds stopped (SIGSTOP, see
    pool.py) never reads the end of its pipe, so a server killed with SIGKILL would leave it stopped,
    holding its memory, for ever (Linux: PR_SET_PDEATHSIG; elsewhere the pipe's end is the only exit)."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        if ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL)) != 0:  # 1: PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:      # the parent ended before the request took hold
        os._exit(0)


def limit_memory(limit: int) -> None:
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(requests, out) -> None:
    """Answer each JSON line of `requests` with one JSON line on `out`, until `requests` ends."""
    from . import handlers

    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    out.write('{"ready": true}\n')
    out.flush()
    for line in requests:
        try:
            request = json.loads(line)
            status, body = handlers.run(request["name"], request["payload"])
        except (ValueError, KeyError, TypeError) as err:
            status, body = 400, {"error": f"bad request to the worker: {err}", "kind": "request"}
        try:
            text = json.dumps({"status": status, "body": body}, ensure_ascii=True, allow_nan=False)
        except (ValueError, TypeError) as err:
            text = json.dumps({"status": 500, "body": {"error": f"internal error (the answer is not JSON: {err}); "
                                                                "please report it", "kind": "internal"}})
        except MemoryError:
            text = json.dumps({"status": 422, "body": {"error": "the expression is too large to handle",
                                                       "kind": "limit"}})
        out.write(text + "\n")
        out.flush()


def main(argv: list[str]) -> None:
    die_with_parent()
    limit_memory(int(argv[0]) if argv and argv[0].isdigit() else 0)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    prepare("--test-hooks" in argv)
    serve(sys.stdin, out)


if __name__ == "__main__":
    main(sys.argv[1:])
