"""Calling the user's function: which arguments it takes, and one call in this process.

The function takes the expression's variables by name (vectors 1-D, matrices 2-D, scalars floats);
a parameter named like a dimension (`m`) gets its size. Each call gets fresh copies, so an input it
updates in place is seen (and named) and never spoils the truth measured on the originals.

In this process the time limit is a SIGALRM timer (main thread only), which stops a pure-Python
loop that holds the GIL, where a watchdog thread could not; a call inside a C routine is stopped when
it returns. A MemoryError is a fault of kind "memory". `child.py` runs the function in a child
process instead, under the memory budget as well.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import threading
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from ...errors import MatcalcError
from .returned import CodeFault, aliases, changed_inputs, unpack

INPUTS = ("numpy", "torch", "jax")


@dataclass
class Returned:
    """One call's result: the gradient for each name, and the inputs the call changed in place."""

    values: dict
    changed: list[str] = field(default_factory=list)
    altered: dict = field(default_factory=dict)     # the changed inputs' values after the call
    aliases: list[str] = field(default_factory=list)  # inputs the result is (a view of)


@dataclass
class Parameters:
    """The names a function takes by keyword; `anything` when it takes **kwargs (or cannot be read)."""

    names: list[str]
    required: list[str]
    anything: bool = False
    positional_only: list[str] = field(default_factory=list)


def parameters_of(fn) -> Parameters:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return Parameters([], [], anything=True)
    names, required, only = [], [], []
    anything = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            anything = True
        elif p.kind is p.VAR_POSITIONAL:
            continue
        elif p.kind is p.POSITIONAL_ONLY:
            only.append(p.name)
        else:
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return Parameters(names, required, anything, only)


def choose_arguments(params: Parameters, variables: list[str], dims: list[str], function: str) -> list[str]:
    """The names to pass: every variable the function takes, and any dimension it asks for by name.
    A required parameter the expression cannot fill is bad input, said before anything runs."""
    if params.positional_only:
        raise MatcalcError(f"{function} takes {', '.join(params.positional_only)} by position only; matcalc "
                           f"passes the expression's variables by name ({', '.join(variables)})")
    if params.anything:
        return list(variables) + [d for d in dims if d in params.names]
    unknown = [p for p in params.required if p not in variables and p not in dims]
    if unknown:
        raise MatcalcError(f"{function} takes {', '.join(repr(p) for p in unknown)}, which "
                           f"{'is' if len(unknown) == 1 else 'are'} not a name of the expression (its "
                           f"variables: {', '.join(variables)}); name the parameters as the expression does")
    return [n for n in params.names if n in variables or n in dims]


def user_frame(err: BaseException, filename: str | None) -> str:
    """Where in the user's file an exception came from: ' (line 87 of bugs.py: return np.dot(a2, g) / m)'."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if filename and f.filename == filename]
    if not mine:
        return ""
    f = mine[-1]
    short = f.filename.replace("\\", "/").rsplit("/", 1)[-1]
    line = " ".join((f.line or "").split())
    if len(line) > 80:
        line = line[:77] + "..."
    return f" (line {f.lineno} of {short}{': ' + line if line else ''})"


def exception_text(err: BaseException, filename: str | None) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(first) > 160:
        first = first[:157] + "..."
    return f"{type(err).__name__}{': ' + first if first else ''}{user_frame(err, filename)}"


def jax_x64():
    """JAX's 64-bit mode for the call (scoped), so that inputs stay float64 and the result is too."""
    import jax

    scope = getattr(jax, "enable_x64", None)
    if scope is None:
        from jax.experimental import enable_x64 as scope
    return scope(True)


def to_inputs(arrays: dict, inputs: str) -> dict:
    """Fresh copies of an instance's values, as the arrays of `inputs` (float64 tensors for torch/jax)."""
    out = {}
    for name, v in arrays.items():
        if isinstance(v, np.ndarray):
            v = np.array(v, dtype=float)
            if inputs == "torch":
                import torch

                v = torch.from_numpy(v)
            elif inputs == "jax":
                import jax.numpy as jnp

                v = jnp.asarray(v)
        out[name] = v
    return out


class _OutOfTime(BaseException):
    """Raised by the alarm inside the user's function; a BaseException, so `except Exception` there
    does not swallow it."""


def _with_alarm(fn, kwargs: dict, seconds: float):
    """fn(**kwargs), stopped by _OutOfTime after `seconds`. The alarm repeats every 50 ms once due: a
    signal that lands in a callback whose exceptions are ignored (a garbage-collector hook of JAX's) is
    followed by another, and a call that returns after the deadline all the same counts as too late."""
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return fn(**kwargs)
    rang = []

    def ring(signum, frame):
        rang.append(True)
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        result = fn(**kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if rang:
        raise _OutOfTime()
    return result


def call_once(fn, arrays: dict, wrt: list[str], single: bool, seconds: float, inputs: str = "numpy",
              filename: str | None = None) -> Returned:
    """One call of `fn` on copies of `arrays`: its result unpacked per name, the inputs it changed named.
    Every way it can fail is a CodeFault with a one-line message."""
    before = {k: np.array(v, dtype=float) if isinstance(v, np.ndarray) else v for k, v in arrays.items()}
    if inputs == "jax":
        before = {}                          # JAX arrays cannot be changed in place
    scope = jax_x64() if inputs == "jax" else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), scope:
            warnings.simplefilter("ignore", RuntimeWarning)
            given = to_inputs(arrays, inputs)
            result = _with_alarm(fn, given, seconds)
            values = unpack(result, wrt, single)
    except CodeFault:
        raise
    except _OutOfTime:
        raise CodeFault("timeout", f"it did not return within {seconds:.3g} s") from None
    except MemoryError as err:
        raise CodeFault("memory", f"ran out of memory ({exception_text(err, filename)})") from None
    except RecursionError as err:
        raise CodeFault("raises", f"raised {exception_text(err, filename)}") from None
    except Exception as err:  # noqa: BLE001 — whatever the user's code raises is the finding
        raise CodeFault("raises", f"raised {exception_text(err, filename)}") from None
    return Returned(values, *changed_inputs(before, given), aliases(result, given))


class InProcess:
    """A Python callable, called here (`fn` itself: closures, models and GPU state stay usable). The time
    limit holds (SIGALRM); memory is the machine's, as for any code the caller runs."""

    limits_memory = False

    def __init__(self, fn, inputs: str = "numpy"):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if inputs not in INPUTS:
            raise MatcalcError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        self.fn = fn
        self.inputs = inputs
        self.name = getattr(fn, "__name__", None) or type(fn).__name__
        code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
        self.filename = code.co_filename if code is not None else None

    def parameters(self) -> Parameters:
        return parameters_of(self.fn)

    def __call__(self, arrays: dict, wrt: list[str], single: bool, seconds: float) -> Returned:
        return call_once(self.fn, arrays, wrt, single, seconds, self.inputs, self.filename)

    def close(self) -> None:
        pass


__all__ = ["InProcess", "Returned", "Parameters", "parameters_of", "choose_arguments", "call_once",
           "exception_text", "INPUTS"]
