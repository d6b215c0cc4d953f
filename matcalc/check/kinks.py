"""Instances placed at the kinks: every kink argument at small values of both signs, and in the band
between two kinks that nearly coincide.

Why: a claim whose kink is shifted a little from the true one (`step(x + 0.001)` for the gradient of
`sum(relu(x))`) is off by O(1), but only inside a band 0.001 wide; random instances at the usual spread
land there about once in a thousand draws, so without looking there on purpose such a claim passes. The
kinks come from the `kink` column of rules/functions.toml (engine/domain.kink_arguments): relu, abs,
step, sign and norm1 today, any new piecewise function by its row — of the expression, of matcalc's own
answer and of the claim (the Sampler's `watched` kinks).

How: from an instance already drawn, the free names (those no assumption or domain constrains) move
along a random line θ(t); one entry of each kink argument k is a function k(t) of the line, and a
secant search (bracketed when it must be) finds where k(t) = c for the targets c = ±ε·|k| with
ε = 1e-3, 1e-6 and 3e-9 (|k| the argument's typical size). A shift s of the kink is then seen from the
side where the claim and the truth differ, for every s above ε; two kinks whose roots on the line lie
close together also get the midpoint of the band between them, however narrow (down to 1e-8 of the
spread). Names drawn positive move multiplicatively (x·e^(t·d)) and stay positive; symmetric ones move
symmetrically; names bound by any other assumption stay as drawn.
"""

from __future__ import annotations

import math

import numpy as np

from .instances import Instance

EPSILONS = (1e-3, 1e-6, 3e-9)     # the kink argument's targets, relative to its typical size
BAND = 0.3                        # two roots closer than this on the line (in line units) share a band
MAX_T = 1e4                       # roots farther along the line are left to the far search (FAR_SCALES)
_FIXED_NEEDS = {"invertible", "positive-determinant", "unit", "conditioned"}


def movable(sampler) -> dict[str, str]:
    """name -> how it moves on the line: "add" (freely), "sym" (a symmetric direction), "mul" (positive)."""
    a = sampler.a
    bound = set(a.plus_minus_one) | set(sampler.one_hot) | set(a.sums_to_one) | set(a.positive_definite) \
        | set(a.invertible) | set(sampler.constructed)
    for _, lhs, rhs in sampler.checked:
        for root in (lhs, rhs):
            bound |= {n.attr for n in _walk(root) if n.op == "sym"}
    out = {}
    for name in sampler.names:
        if name in sampler.dim_scalars or name in bound:
            continue
        need = sampler.need.get(name, set())
        if need & _FIXED_NEEDS:
            continue
        if name in a.positive or "positive" in need:
            out[name] = "mul"
        elif name in a.symmetric:
            out[name] = "sym"
        else:
            out[name] = "add"
    return out


def _walk(root):
    from ..language.expr import walk

    return walk(root)


class _Line:
    """θ(t) = the base instance with the movable names moved along one random direction."""

    def __init__(self, sampler, base: Instance, moves: dict[str, str], rng):
        self.sampler, self.base, self.moves = sampler, base, moves
        self.direction = {}
        for name, how in moves.items():
            value = np.asarray(base.arrays[name], dtype=float)
            d = rng.standard_normal(value.shape)
            if how == "sym" and d.ndim == 2 and d.shape[0] == d.shape[1]:
                d = (d + d.T) / 2
            self.direction[name] = d * (1.0 if how == "mul" else max(base.scale, 1e-3))
        self._memo: dict[float, dict | None] = {}

    def at(self, t: float) -> Instance:
        arrays = dict(self.base.arrays)
        for name, d in self.direction.items():
            v = np.asarray(self.base.arrays[name], dtype=float)
            with np.errstate(all="ignore"):
                new = v * np.exp(t * d) if self.moves[name] == "mul" else v + t * d
            arrays[name] = float(new) if new.ndim == 0 else new
        return Instance(arrays, dict(self.base.dims), self.base.scale)

    def kinks(self, t: float) -> dict | None:
        """Every watched kink argument at θ(t), flattened (None where the probe cannot evaluate)."""
        if t not in self._memo:
            values = self.sampler._probe_values(self.at(t))
            if values is not None:
                values = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in values.items() if k[0] == "k"}
            self._memo[t] = values
        return self._memo[t]

    def entry(self, k: int, i: int, t: float) -> float:
        values = self.kinks(t)
        if values is None:
            return math.nan
        v = values.get(f"k{k}")
        return float(v[i]) if v is not None and i < v.size else math.nan


def _solve(f, target: float, t0: float, t1: float, tol: float) -> float | None:
    """t with f(t) = target, searched from t0 and t1: secant steps until the target is bracketed, then
    regula falsi (Illinois); None if it leaves the line's reach or does not converge."""
    def g(t):
        return f(t) - target

    a, ga, b, gb = t0, g(t0), t1, g(t1)
    if not (math.isfinite(ga) and math.isfinite(gb)):
        return None
    for _ in range(30):
        if abs(gb) <= tol:
            return b
        if ga * gb < 0:
            break
        if gb == ga:
            return None
        c = b - gb * (b - a) / (gb - ga)
        if not math.isfinite(c) or abs(c) > MAX_T:
            return None
        gc = g(c)
        if not math.isfinite(gc):
            return None
        a, ga, b, gb = b, gb, c, gc
    else:
        return None
    for _ in range(100):
        c = b - gb * (b - a) / (gb - ga)
        gc = g(c)
        if not math.isfinite(gc):
            return None
        if abs(gc) <= tol or abs(b - a) <= 1e-15 * max(1.0, abs(c)):
            return c
        if gc * gb < 0:
            a, ga = b, gb
        else:
            ga /= 2                                      # Illinois: the stale end loses weight
        b, gb = c, gc
    return None


def place(sampler, seen: list[Instance], seed: int, epsilons=EPSILONS, per_kink: int = 1) -> list[tuple[Instance, str]]:
    """Instances where each watched kink argument is ±ε of its typical size (ε in `epsilons`), and the
    midpoints of bands between kinks that nearly coincide: (instance, what it shows)."""
    if not sampler.watched or not seen:
        return []
    moves = movable(sampler)
    if not moves:
        return []
    from ..language.printing import to_text

    out: list[tuple[Instance, str]] = []
    for k, arg in enumerate(sampler.watched):
        for attempt in range(per_kink):
            rng = np.random.default_rng(seed + 7717 * k + 131 * attempt)
            base = seen[(k + attempt) % len(seen)]
            line = _Line(sampler, base, moves, rng)
            found = _roots_of(line, k, rng)
            if found is None:
                continue
            i, root, size = found
            name = to_text(arg)
            f = lambda t, i=i: line.entry(k, i, t)      # noqa: E731
            slope = _slope(f, root, size)
            if slope is None:
                continue
            for eps in epsilons:
                for sign in (1.0, -1.0):
                    target = sign * eps * size
                    t = _solve(f, target, root, root + target / slope, 1e-3 * eps * size)
                    if t is not None and math.isfinite(f(t)) and f(t) * sign > 0:
                        out.append((line.at(t), f"{name} = {f(t):.1g}"))
            out += _bands(line, k, i, root, name)
    return out


def _roots_of(line: _Line, k: int, rng):
    """(entry, t, typical size): the entry of kink k whose zero lies nearest on the line, and that zero."""
    v0 = line.kinks(0.0)
    if v0 is None or f"k{k}" not in v0 or not v0[f"k{k}"].size:
        return None
    base = v0[f"k{k}"]
    size = float(np.sqrt(np.mean(base ** 2))) if np.any(base) else 1.0
    if not math.isfinite(size) or size == 0.0:
        return None
    h = 1e-4
    up, down = line.kinks(h), line.kinks(-h)
    if up is None or down is None:
        return None
    slopes = (up[f"k{k}"] - down[f"k{k}"]) / (2 * h)
    with np.errstate(all="ignore"):
        reach = np.where(np.abs(slopes) > 1e-12 * size, np.abs(base / slopes), np.inf)
    order = np.argsort(reach)
    for i in order[:3]:
        if not math.isfinite(reach[i]) or reach[i] > MAX_T:
            break
        i = int(i)
        f = lambda t: line.entry(k, i, t)      # noqa: E731
        t1 = -base[i] / slopes[i]
        root = _solve(f, 0.0, 0.0, t1, 1e-13 * size)
        if root is not None:
            return i, root, size
    return None


def _slope(f, t: float, size: float) -> float | None:
    for h in (1e-6, 1e-4, 1e-2):
        s = (f(t + h) - f(t - h)) / (2 * h)
        if math.isfinite(s) and abs(s) > 1e-12 * size:
            return s
    return None


def _bands(line: _Line, k: int, i: int, root: float, name: str) -> list[tuple[Instance, str]]:
    """The midpoint of the band between kink k's zero and the nearest zero of each other kink argument,
    where the two lie within BAND of each other on the line."""
    from ..language.printing import to_text

    here = line.kinks(root)
    if here is None:
        return []
    out = []
    h = 1e-6
    up, down = line.kinks(root + h), line.kinks(root - h)
    if up is None or down is None:
        return []
    for b, other in enumerate(line.sampler.watched):
        if b == k:
            continue
        key = f"k{b}"
        vb = here.get(key)
        if vb is None or not vb.size:
            continue
        slopes = (up[key] - down[key]) / (2 * h)
        with np.errstate(all="ignore"):
            dist = np.where(np.abs(slopes) > 0, np.abs(vb / slopes), np.inf)
        j = int(np.argmin(dist))
        if not (0 < dist[j] < BAND):
            continue
        g = lambda t, j=j: line.entry(b, j, t)      # noqa: E731
        scale = max(abs(float(vb[j])), 1e-300)
        other_root = _solve(g, 0.0, root, root - vb[j] / slopes[j], 1e-6 * scale)
        if other_root is None or other_root == root:
            continue
        mid = (root + other_root) / 2
        out.append((line.at(mid), f"between the kinks of {name} and {to_text(other)}"))
    return out


def saturating_arguments(roots) -> list:
    """The arguments of the functions that flatten out far from 0 (the `saturates` column of
    rules/functions.toml: tanh, sigmoid): where every instance drawn saturates them (tanh(norm2(x + 2)^2)),
    no formula can be judged, since float64 rounds 1 - tanh(u)^2 to 0 while the truth is 1e-12."""
    from ..language.expr import walk
    from ..tables import functions

    out = []
    for root in roots:
        for n in walk(root):
            if n.op == "fn" and functions()[n.attr].saturates and n.args[0] not in out:
                out.append(n.args[0])
    return out


def place_informative(sampler, seen: list[Instance], nodes, target: float = 1.0, steps: int = 8,
                      count: int = 3) -> list[Instance]:
    """From each of the instances (one per set of dimension sizes, at most `count`): an instance where the
    nodes (saturating functions' arguments) are at most about `target` in absolute value, reached by steps
    down the gradient of their largest entry over the movable names (finite differences), each step as
    long as a linear model says and halved until it helps. [] where it cannot be reached (the names are
    bound by assumptions, the nodes do not move)."""
    from .interpret import compile_probe

    moves = movable(sampler)
    if not moves or not seen or not nodes:
        return []
    probe = compile_probe({f"u{i}": node for i, node in enumerate(nodes)}, sampler.dim_scalars)

    def size(inst):
        try:
            with np.errstate(all="ignore"):
                values = probe(**inst.arrays)
        except Exception:  # noqa: BLE001 — not defined here: no step there
            return math.inf
        top = 0.0
        for v in values.values():
            v = np.asarray(v, dtype=float)
            if not np.all(np.isfinite(v)):
                return math.inf
            top = max(top, float(np.max(np.abs(v))) if v.size else 0.0)
        return top

    out, sizes_seen = [], []
    for base in seen:
        if len(out) >= count:
            break
        if base.dims in sizes_seen:
            continue
        sizes_seen.append(base.dims)
        inst, current = base, size(base)
        for _ in range(steps):
            if current <= 1.5 * target:
                break
            grad = _gradient(inst, moves, size, current)
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grad.values()))
            if not (norm > 0 and math.isfinite(norm)):
                break
            t = (current - target) / norm
            for _ in range(30):
                trial = _moved(inst, moves, {k: -t * g / norm for k, g in grad.items()})
                value = size(trial)
                if value < current:
                    inst, current = trial, value
                    break
                t /= 2
            else:
                break
        if current <= 1.5 * target and inst is not base:
            out.append(inst)
    return out


def _moved(inst: Instance, moves: dict, step: dict) -> Instance:
    arrays = dict(inst.arrays)
    for name, d in step.items():
        v = np.asarray(inst.arrays[name], dtype=float)
        with np.errstate(all="ignore"):
            new = v * np.exp(d) if moves[name] == "mul" else v + d
        arrays[name] = float(new) if new.ndim == 0 else new
    return Instance(arrays, dict(inst.dims), inst.scale)


def _gradient(inst: Instance, moves: dict, size, at: float, h: float = 1e-6) -> dict:
    """Central differences of `size` over every entry of the movable names (log-entries for positive ones)."""
    grad = {}
    for name in moves:
        v = np.asarray(inst.arrays[name], dtype=float)
        g = np.zeros(v.shape)
        for idx in np.ndindex(v.shape):
            e = np.zeros(v.shape)
            e[idx] = h
            up = size(_moved(inst, moves, {name: e}))
            down = size(_moved(inst, moves, {name: -e}))
            g[idx] = (up - down) / (2 * h) if math.isfinite(up) and math.isfinite(down) else 0.0
        if moves[name] == "sym" and g.ndim == 2:
            g = (g + g.T) / 2
        grad[name] = g
    return grad


__all__ = ["place", "movable", "EPSILONS", "saturating_arguments", "place_informative"]
