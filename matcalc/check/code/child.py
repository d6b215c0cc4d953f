"""The user's function in a child process: only the file the user named is imported, by path, and the
function runs there under the time and memory budget.

    python -P matcalc/check/code/launch.py FILE FUNCTION MEMORY_BYTES INPUTS      (started by InChild)

The child imports FILE through importlib by its path (under a name of its own, so it can shadow no
module; its folder is appended to sys.path, last, so its own imports of files beside it work and no
file there can shadow an installed package; `-P` keeps the working directory off the path), caps its
data segment (RLIMIT_DATA: the heap and anonymous maps, not the shared libraries torch and jax map) at
what it uses after start-up plus the memory budget, says which parameters the function takes, then
answers one call a frame. The parent measures the time: a call past the budget's time is stopped by
killing the child (a pure-Python loop holding the GIL cannot stop itself). A child whose parent dies
is killed too (PR_SET_PDEATHSIG). Nothing is unpickled on either side: a frame is a JSON header and
.npy blobs read with allow_pickle=False.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from io import BytesIO

import numpy as np

from ...errors import MatcalcError
from .calling import INPUTS, Parameters, Returned, call_once, exception_text, parameters_of
from .returned import CodeFault

MODULE_NAME = "matcalc_user_code"
STARTUP_SECONDS = 60.0        # at most, for the child to import numpy and the user's file, within the budget


# ================================================================ frames


def encode(header: dict, arrays: dict) -> bytes:
    blobs = []
    for name, arr in arrays.items():
        buf = BytesIO()
        np.lib.format.write_array(buf, np.array(arr, dtype=float, order="C"), allow_pickle=False)
        blobs.append((name, buf.getvalue()))
    header = dict(header, blobs=[[name, len(b)] for name, b in blobs])
    head = json.dumps(header).encode()
    return len(head).to_bytes(8, "big") + head + b"".join(b for _, b in blobs)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def decode(fd: int, deadline: float | None = None) -> tuple[dict, dict]:
    size = int.from_bytes(_read_exact(fd, 8, deadline), "big")
    if size > 1 << 24:
        raise EOFError
    header = json.loads(_read_exact(fd, size, deadline))
    arrays = {}
    for name, length in header.pop("blobs", []):
        arrays[name] = np.lib.format.read_array(BytesIO(_read_exact(fd, int(length), deadline)), allow_pickle=False)
    return header, arrays


# ================================================================ the child


def _die_with_parent() -> None:
    """Linux: killed when the parent ends, however it ends (as web/worker.py's workers are)."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(0)


def _limit_data(extra_bytes: int) -> None:
    """Cap the data segment at what this process uses now plus the memory budget."""
    if not extra_bytes:
        return
    try:
        import resource

        with open("/proc/self/status") as fh:
            used = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmData"))
        resource.setrlimit(resource.RLIMIT_DATA, (used + extra_bytes, used + extra_bytes))
    except (ImportError, OSError, ValueError, StopIteration):
        pass


def load_function(path: str, function: str):
    """The named function of the file, imported by path (the module's name is matcalc's own)."""
    import importlib.util

    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise MatcalcError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise MatcalcError(f"{os.path.basename(path)} does not parse: {err.msg} (line {err.lineno})") from None
    except Exception as err:  # noqa: BLE001 — the user's module failed to import: say how, in one line
        raise MatcalcError(f"importing {os.path.basename(path)} raised {exception_text(err, path)}") from None
    fn = getattr(module, function, None)
    if fn is None:
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == MODULE_NAME)
        raise MatcalcError(f"{os.path.basename(path)} has no {function!r}"
                           + (f" (its functions: {', '.join(names[:20])})" if names else ""))
    if not callable(fn):
        raise MatcalcError(f"{function} in {os.path.basename(path)} is not a function")
    return fn


def main(argv: list[str]) -> None:
    _die_with_parent()
    path, function, memory, inputs = argv[0], argv[1], int(argv[2]), argv[3]
    requests = os.dup(0)
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)                     # the user's code cannot read the requests,
    os.dup2(2, 1)                           # nor write into the replies
    sys.stdout = sys.stderr
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)

    me = os.getpid()

    def reply(header, arrays=None):
        if os.getpid() != me:    # a copy the user's code forked: only this process answers
            os._exit(0)
        try:
            replies.write(encode(header, arrays or {}))
            replies.flush()
        except OSError:          # the parent is gone (or a process the user's code forked answers late):
            os._exit(0)          # nothing to tell, and no traceback on the user's terminal

    _limit_data(memory)
    try:
        fn = load_function(path, function)
    except MatcalcError as err:
        reply({"status": "load-error", "message": str(err)})
        return
    except MemoryError:
        reply({"status": "load-error", "message": f"importing {os.path.basename(path)} ran out of memory"})
        return
    p = parameters_of(fn)
    reply({"status": "ready", "names": p.names, "required": p.required, "anything": p.anything,
           "positional_only": p.positional_only})
    while True:
        try:
            header, arrays = decode(requests)
        except (EOFError, OSError, ValueError):
            return
        given = {**arrays, **header["scalars"]}
        try:
            r = call_once(fn, given, header["wrt"], header["single"], 0.0, inputs, filename=os.path.abspath(path))
            out = {f"v{i}": r.values[w] for i, w in enumerate(header["wrt"])}
            out.update({f"a:{name}": v for name, v in r.altered.items()})
            reply({"status": "ok", "changed": r.changed, "aliases": r.aliases}, out)
        except CodeFault as fault:
            reply({"status": "fault", "kind": fault.kind, "message": fault.message})
        except MemoryError:
            reply({"status": "fault", "kind": "memory", "message": "ran out of memory"})
        except KeyboardInterrupt:   # raised by the user's code (or a Ctrl-C, which stops the parent too)
            reply({"status": "fault", "kind": "raises", "message": "raised KeyboardInterrupt"})


# ================================================================ the parent's side


class InChild:
    """The function FUNCTION of FILE, called in a child process (one for the whole check)."""

    limits_memory = True      # the child's data segment is capped at the budget

    def __init__(self, path: str, function: str, seconds: float = 10.0, megabytes: float = 1024.0,
                 inputs: str = "numpy"):
        if not os.path.isfile(path):
            raise MatcalcError(f"no such file: {path}")
        if not function.isidentifier():
            raise MatcalcError(f"{function!r} is not a function name (FILE.py:FUNCTION)")
        if inputs not in INPUTS:
            raise MatcalcError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        self.name, self.path = function, path
        launcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")
        self.proc = subprocess.Popen(
            [sys.executable, "-P", launcher, os.path.abspath(path), function, str(int(megabytes * 2**20)), inputs],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.startup = min(seconds, STARTUP_SECONDS) if seconds else STARTUP_SECONDS
        self.started = time.monotonic()
        self.params: Parameters | None = None

    def _ready(self) -> Parameters:
        """Wait for the child to have imported the file (it does so while matcalc derives)."""
        if self.params is not None:
            return self.params
        name = os.path.basename(self.path)
        try:
            header, _ = self._receive(self.started + self.startup)
        except TimeoutError:
            self.close()
            raise MatcalcError(f"importing {name} took longer than {self.startup:.3g} s (the time limit); raise "
                               f"it with --time-limit SECONDS") from None
        except EOFError:
            raise MatcalcError(f"the process importing {name} ended ({self._ended()}) before it was "
                               f"ready") from None
        if header.get("status") != "ready":
            self.close()
            raise MatcalcError(header.get("message", "the child process did not start"))
        self.params = Parameters(header["names"], header["required"], header["anything"], header["positional_only"])
        return self.params

    @classmethod
    def from_spec(cls, spec: str, budget=None, inputs: str = "numpy") -> "InChild":
        """'path/to/file.py:function'."""
        from ... import budget as _budget

        if ":" not in spec:
            raise MatcalcError(f"give the function as FILE.py:FUNCTION, got {spec[:80]!r}")
        path, function = spec.rsplit(":", 1)
        b = _budget.coerce(budget)
        seconds = b.seconds
        if seconds and b.started:
            seconds = max(seconds - (time.monotonic() - b.started), 1e-3)
        return cls(path, function.strip(), seconds, b.megabytes, inputs)

    def parameters(self) -> Parameters:
        return self._ready()

    def _receive(self, deadline: float | None):
        return decode(self.proc.stdout.fileno(), deadline)

    def _ended(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            import signal

            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def __call__(self, arrays: dict, wrt: list[str], single: bool, seconds: float) -> Returned:
        self._ready()
        scalars = {k: float(v) if isinstance(v, (float, np.floating)) else int(v) for k, v in arrays.items()
                   if not isinstance(v, np.ndarray)}
        blobs = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)}
        try:
            self.proc.stdin.write(encode({"scalars": scalars, "wrt": wrt, "single": single}, blobs))
        except (BrokenPipeError, OSError):
            raise CodeFault("crash", f"could not be called: its process has ended ({self._ended()})") from None
        deadline = time.monotonic() + seconds if seconds else None
        try:
            header, out = self._receive(deadline)
        except TimeoutError:
            self.kill()
            raise CodeFault("timeout", f"did not return within {seconds:.3g} s") from None
        except EOFError:
            how = self._ended()
            kind = "memory" if "KILL" in how else "crash"
            raise CodeFault(kind, f"ended its process ({how})") from None
        if header["status"] == "fault":
            raise CodeFault(header["kind"], header["message"])
        values = {w: out[f"v{i}"] for i, w in enumerate(wrt)}
        altered = {k[2:]: v for k, v in out.items() if k.startswith("a:")}
        return Returned(values, header["changed"], altered, header.get("aliases", []))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.params is None:
            self.kill()              # still importing (or never asked): nothing of it is wanted any more
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()

