"""A time and memory budget for one derivation, checked cooperatively.

A tiny input can ask for an enormous amount of work (k nested layers whose inlined derivative doubles
with each layer, `X^1000000`, a derivation file of lets that double each line). Rather than eat the
machine, every derivation runs under a Budget: the engine calls `tick()` whenever it creates a node
(expr.Node) and `check()` in its outer loops (the adjoint walk, printing), and the budget raises
BudgetExceeded — a MatcalcError with a message that says which limit was hit and how to raise it —
as soon as the wall clock or the process's memory growth passes the limit.

Defaults are generous for real use (10 s, 1 GB) and settable: `derive(..., budget=Budget(seconds=60))`,
the CLI's `--time-limit` / `--memory-limit`, or the environment variables MATCALC_TIME_LIMIT (seconds)
and MATCALC_MEMORY_LIMIT (megabytes). A limit of 0 turns that check off.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import MatcalcError

DEFAULT_SECONDS = 10.0
DEFAULT_MEGABYTES = 1024.0
TICKS_PER_CHECK = 512  # nodes created between two looks at the clock and the memory
MEMORY_READ_EVERY = 0.02  # seconds between two reads of the process's memory


class BudgetExceeded(MatcalcError):
    """The work asked for passed the time or memory budget; the message names the limit."""


def _resident_megabytes() -> float | None:
    """This process's resident memory now (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / 2**20 if os.uname().sysname == "Darwin" else peak / 1024
        except (ImportError, OSError, AttributeError):
            return None


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise MatcalcError(f"{name} must be a number, got {text[:40]!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise MatcalcError(f"{name} must be a non-negative number, got {text[:40]!r}")
    return value


@dataclass
class Budget:
    """Limits for one piece of work: wall-clock seconds and megabytes of memory growth (0 = no limit)."""

    seconds: float = DEFAULT_SECONDS
    megabytes: float = DEFAULT_MEGABYTES
    started: float = field(default=0.0, repr=False)
    base_memory: float = field(default=0.0, repr=False)
    _memory_read: float = field(default=0.0, repr=False)
    exceeded: str | None = field(default=None, repr=False)   # the message, once a limit was passed

    def __post_init__(self):
        for what, value in (("seconds", self.seconds), ("megabytes", self.megabytes)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Budget {what} must be a number, got {type(value).__name__}")
            if not (value >= 0 and value < float("inf")):
                raise MatcalcError(f"the budget's {what} must be a non-negative number, got {value!r}")

    @classmethod
    def from_environment(cls) -> "Budget":
        return cls(_env_number("MATCALC_TIME_LIMIT", DEFAULT_SECONDS),
                   _env_number("MATCALC_MEMORY_LIMIT", DEFAULT_MEGABYTES))

    @classmethod
    def with_limits(cls, seconds=None, megabytes=None) -> "Budget":
        """The environment's budget, with the limits given (not None) in place of its own."""
        b = cls.from_environment()
        if seconds is not None:
            b.seconds = float(seconds)
        if megabytes is not None:
            b.megabytes = float(megabytes)
        b.__post_init__()
        return b

    def start(self) -> "Budget":
        self.started = time.monotonic()
        self._memory_read = 0.0
        self.exceeded = None
        self.base_memory = _resident_megabytes() or 0.0
        return self

    def check(self, what: str = "") -> None:
        """Raise BudgetExceeded if the clock or the memory has passed its limit. Once passed, every later
        check raises again: a caller that caught the error on the way (as 'this instance cannot be
        evaluated') cannot go on to return a verdict made without that work."""
        if self.exceeded is not None:
            raise BudgetExceeded(self.exceeded)
        doing = f" while {what}" if what else ""
        if self.seconds:
            spent = time.monotonic() - self.started
            if spent > self.seconds:
                self.fail(f"stopped after {spent:.1f} s{doing}: the work passed the time budget of "
                          f"{self.seconds:g} s (the result is too large to build in that time). Raise it with "
                          f"--time-limit SECONDS or MATCALC_TIME_LIMIT, or simplify the expression")
        if self.megabytes and time.monotonic() - self._memory_read >= MEMORY_READ_EVERY:
            self._memory_read = time.monotonic()    # /proc costs ~20 µs a read: at most every 20 ms
            now = _resident_megabytes()
            if now is not None and now - self.base_memory > self.megabytes:
                self.fail(f"stopped at {now - self.base_memory:.0f} MB of new memory{doing}: the work passed "
                          f"the memory budget of {self.megabytes:g} MB. Raise it with --memory-limit MB or "
                          f"MATCALC_MEMORY_LIMIT, or simplify the expression")

    def fail(self, message: str) -> None:
        """Record that a limit was passed (every later check raises too) and raise BudgetExceeded."""
        self.exceeded = message
        raise BudgetExceeded(message)


_active: list[Budget] = []
_ticks = 0


def tick() -> None:
    """Called for every node the engine creates: every few hundred, look at the budget in force."""
    global _ticks
    _ticks += 1
    if _ticks >= TICKS_PER_CHECK:
        _ticks = 0
        if _active:
            _active[-1].check()


def check(what: str = "") -> None:
    """Look at the budget in force now (a no-op outside `limit`)."""
    if _active:
        _active[-1].check(what)


def check_allocation(entries: int, what: str) -> None:
    """Refuse, before it is allocated, an array that alone would pass the memory budget in force: NumPy
    allocates outside the engine's cooperative checks, so `kron(X, kron(X, kron(X, …)))` would otherwise
    ask for gigabytes in one step."""
    if not _active or not _active[-1].megabytes:
        return
    megabytes = entries * 8 / 2**20
    if megabytes > _active[-1].megabytes:
        _active[-1].fail(
            f"stopped before computing {what}: an array of {entries:,} entries ({megabytes:,.0f} MB) would pass "
            f"the memory budget of {_active[-1].megabytes:g} MB. Raise it with --memory-limit MB or "
            f"MATCALC_MEMORY_LIMIT, or use smaller sizes")


def coerce(budget) -> Budget:
    """None -> the environment's (or default) budget; a Budget as is; anything else a TypeError."""
    if budget is None:
        return Budget.from_environment()
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a matcalc.budget.Budget or None, got {type(budget).__name__}")
    return budget


@contextmanager
def limit(budget: Budget | None = None):
    """Run the body under `budget`. Nested limits: the outer one's clock keeps running, so an inner
    (library) call cannot extend the time its caller granted."""
    if _active:  # already under a budget: the outer one governs
        yield _active[-1]
        return
    b = coerce(budget).start()
    _active.append(b)
    try:
        yield b
    finally:
        _active.pop()
