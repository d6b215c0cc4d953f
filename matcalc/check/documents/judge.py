"""Judging a link `b = c` of a document: random instances, both sides measured, the mistake named.

An instance fixes every dimension (distinct sizes, drawn again for each instance), every free symbol (normal
values; symmetric, positive-definite, positive, one-hot or {0, 1} where the text says so), every abstract
function (a random smooth function: `l`, an entrywise `\\phi` with its `\\phi'`, the `u` and `v` of a
quotient rule) and every free index (all the index values the case allows, a few of them). Everything is
seeded by the names involved, never by hash or set order, so every process prints the same.

Two sides are equal when they differ by < 1e-7 of their size on every instance; a difference > 1e-4 of
it on some instance is a counterexample; between, nothing is said (UNREAD).
"""

from __future__ import annotations

import itertools

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad

from .model import Var
from .walker import Walker, stable_seed

EQUAL, DIFFER = 1e-7, 1e-4
INSTANCES = 4
SIZES = (3, 4, 5, 2, 6, 7, 8, 9, 10, 11, 12)


class Instance:
    def __init__(self, k: int, seed: int = 0):
        self.k, self.seed = k, seed
        self.sizes: dict = {}
        self.arrays: dict = {}
        self.scale = (1.0, 0.6, 1.6, 0.3, 2.5, 1.0)[k % 6]

    def size(self, d) -> int:
        if isinstance(d, int):
            return d
        if d.default == "1" and not d.named:
            return 1
        if d not in self.sizes:
            used = set(self.sizes.values())
            order = SIZES[self.k % 4:] + SIZES[:self.k % 4]
            self.sizes[d] = next((s for s in order if s not in used), 2 + len(self.sizes))
        return self.sizes[d]

    def rng(self, *parts):
        return np.random.default_rng(stable_seed(self.seed, self.k, *parts))

    def array(self, key, shape, props, walker: Walker):
        base = self._base(key, shape, frozenset(props), walker)
        if walker.eps is not None and (walker.vary is None or key in walker.vary):
            base = base + walker.eps * self.rng("d", key, shape).normal(size=shape)
        return base

    def _base(self, key, shape, props, walker):
        hot = next((p for p in props if p.startswith("onehot:")), None)
        if hot is not None:
            letter = hot.split(":", 1)[1]
            n = shape[0] if shape[1] == 1 else shape[1]
            out = np.zeros(shape)
            if letter in walker.idx:
                at = walker.idx[letter]
            else:
                at = int(self.rng("hot", key).integers(n))
            if shape[1] == 1:
                out[at % n, 0] = 1.0
            else:
                out[0, at % n] = 1.0
            return out
        ck = (key, shape, props)
        if ck in self.arrays:
            return self.arrays[ck]
        r = self.rng(key, shape)
        a = r.normal(size=shape) * self.scale
        if "onehot-rows" in props:
            a = np.eye(shape[1])[r.integers(shape[1], size=shape[0])]
        elif "onehot" in props:
            n = shape[0] * shape[1]
            a = np.zeros(n)
            a[r.integers(n)] = 1.0
            a = a.reshape(shape)
        elif "binary" in props:
            a = r.integers(0, 2, size=shape).astype(float)
        elif "spd" in props and shape[0] == shape[1]:
            b = r.normal(size=shape)
            a = b @ b.T + shape[0] * np.eye(shape[0])
        elif "posdet" in props and shape[0] == shape[1]:
            a = np.eye(shape[0]) * 2.0 + 0.4 * r.normal(size=shape)
        elif "symmetric" in props and shape[0] == shape[1]:
            a = a + a.T
        elif "positive" in props or "probability" in props:
            a = np.abs(a) + 0.2
        self.arrays[ck] = a
        return a

    def _params(self, key, n=5):
        r = self.rng("fn", key)
        return r.normal(size=n) * np.array([1.0, 0.7, 1.0, 0.5, 0.3][:n]) + np.array([0.0, 1.0, 0.0, 0.0, 0.0][:n])

    def abstract(self, key, x):
        a, b, c, d, e = self._params(key)
        return a * anp.sin(b * x + c) + d * x + e * x * x

    def abstract_prime(self, key, x):
        return elementwise_grad(lambda t: self.abstract(key, t))(x)

    def abstract_scalar(self, key, vals):
        total = 0.0
        for m, v in enumerate(vals):
            flat = anp.reshape(v, (-1,))
            n = flat.shape[0]
            r = self.rng("fn", key, m, n)
            c, p = r.normal(size=n), r.normal(size=n)
            q = r.normal(size=(n, n)) * 0.3
            total = total + anp.sum(c * anp.sin(flat + p)) + anp.dot(flat, anp.dot(q, flat)) * 0.5
        return anp.reshape(total, (1, 1))

    def implicit(self, key, t):
        a, b, c, d, _ = self._params("implicit:" + key)
        return a * anp.sin(b * t + c) + d * anp.exp(0.3 * t) + 2.5 + abs(a) + abs(d) * 3


def assignments(letters: list, ranges: dict, inst: Instance, walker_u, case: list, limit: int = 3):
    """Up to `limit` values of the free indices (each in its range) where the case holds, drawn
    deterministically; every row of a cases block gets its turn (judge.py's caller adds those)."""
    if not letters:
        return [{}]
    sizes = [inst.size(walker_u.find(ranges[x])) for x in letters]
    total = 1
    for s in sizes:
        total *= s
    combos = []
    if total <= 400:
        combos = [dict(zip(letters, c)) for c in itertools.product(*[range(s) for s in sizes])]
    else:
        r = inst.rng("idx", *letters)
        combos = [dict(zip(letters, [int(r.integers(s)) for s in sizes])) for _ in range(200)]
    combos = [c for c in combos if all(_holds(c, cond) for cond in case)]
    if not combos:
        return []
    r = inst.rng("pick", *letters)
    picks = []
    # equal and distinct pairs both represented when the case allows
    for want_equal in (True, False):
        cands = [c for c in combos if (len(set(c.values())) < len(c)) == want_equal]
        if cands:
            picks.append(cands[int(r.integers(len(cands)))])
    while len(picks) < min(limit, len(combos)):
        c = combos[int(r.integers(len(combos)))]
        if c not in picks:
            picks.append(c)
        elif len(picks) >= len(combos):
            break
    return picks[:limit]


def _holds(values: dict, cond) -> bool:
    op, a, b = cond
    if a not in values or b not in values:
        return True
    return values[a] == values[b] if op == "=" else values[a] != values[b]


def relative(a, c) -> float:
    a, c = np.asarray(a, float), np.asarray(c, float)
    if a.shape != c.shape:
        return np.inf
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(c))):
        return np.nan
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(c), initial=0.0)))
    if scale < 1e-12:
        return 0.0
    return float(np.max(np.abs(a - c))) / scale


def diagnose(pairs, swapped=None, dims=None, head=None) -> tuple[str, str]:
    """(kind, words) for a link whose sides differ: `pairs` are (left, right) values on the instances."""
    if all(a.shape == c.shape[::-1] and a.shape != c.shape for a, c in pairs):
        if all(relative(a, c.T) < EQUAL for a, c in pairs):
            return "transpose", "the right side is the transpose of the left"
        return "shape", f"the sides have different shapes ({_dims(pairs[0][0])} against {_dims(pairs[0][1])})"
    if any(a.shape != c.shape for a, c in pairs):
        return "shape", f"the sides have different shapes ({_dims(pairs[0][0])} against {_dims(pairs[0][1])})"
    if all(np.all(np.abs(c) < 1e-12) for _, c in pairs):
        return "zero", "the right side is 0 where the left is not"
    if all(np.all(np.abs(a) < 1e-12) for a, _ in pairs):
        return "zero", "the left side is 0 where the right is not"
    if all(relative(a, -c) < EQUAL for a, c in pairs) and any(np.max(np.abs(a)) > 1e-12 for a, _ in pairs):
        return "sign", "the sign is wrong: the right side is minus the left"
    ratios = []
    for a, c in pairs:
        mask = np.abs(a) > 1e-9 * max(float(np.max(np.abs(a))), 1e-300)
        if not np.any(mask):
            ratios = None
            break
        r = c[mask] / a[mask]
        if np.max(r) - np.min(r) > 1e-6 * max(1.0, float(np.max(np.abs(r)))) or \
                not np.allclose(c[~mask], 0, atol=1e-9 * float(np.max(np.abs(a)))):
            ratios = None
            break
        ratios.append(float(np.mean(r)))
    if ratios:
        if max(ratios) - min(ratios) < 1e-6 * max(1.0, abs(max(ratios))):
            return "factor", f"off by a factor: the right side is {_factor(ratios[0])} the left"
        for name, sizes in (dims or {}).items():
            if all(abs(r - s) < 1e-6 * s for r, s in zip(ratios, sizes)):
                return "factor", f"off by a factor of {name}: the right side is {name} times the left"
            if all(abs(r * s - 1) < 1e-6 for r, s in zip(ratios, sizes)):
                return "factor", f"off by a factor of {name}: a 1/{name} is missing on the left, or extra on the right"
    if swapped:
        return "swapped indices", swapped
    worst = max(relative(a, c) for a, c in pairs)
    return "differ", f"the two sides differ (largest relative difference {worst:.2g})"


def _factor(r: float) -> str:
    for num, word in ((2, "twice"), (0.5, "half"), (-2, "-2 times"), (-0.5, "-1/2 times"), (4, "4 times"),
                      (0.25, "a quarter of")):
        if abs(r - num) < 1e-6:
            return word
    return f"{r:.4g} times"


def _dims(a) -> str:
    return "×".join(str(s) for s in np.shape(a))


__all__ = ["Instance", "assignments", "relative", "diagnose", "EQUAL", "DIFFER", "INSTANCES", "Var"]
