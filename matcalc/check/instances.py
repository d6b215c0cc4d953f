"""Random instances for the checker: every name drawn as widely as the expression allows, assumptions
drawn exactly as stated.

Why each choice:
- Dimensions get distinct sizes (3, 4, 5, 2, …), so a missing transpose changes a shape or a value.
- A name is drawn positive only where the expression is undefined otherwise (matcalc/domain.py): in
  `log(1 + relu(W*x))` nothing is, so the ReLU switches off on some entries and a missing step() shows.
- Arguments of relu, abs, step, sign and norm1 are kept clear of 0 (finite differences must not
  straddle a kink), and a set of instances is checked for both signs of each.
- Assumptions are honoured exactly: `y one-hot` is a unit vector e_k, `sum(y) = 1` any vector summing to
  1 (a probability vector only where a log needs it), `A symmetric` and `A' = A` a symmetric matrix,
  `y in {-1, 1}` signs, `X positive definite` an SPD matrix. An equation the sampler cannot construct is
  checked on each instance and reported as not honoured, never silently ignored.
- `scale` widens or narrows the free values (the scrutiny a disagreeing claim gets draws at 0.1× … 10×).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..budget import BudgetExceeded, check_allocation
from ..budget import check as budget_check
from ..engine.assumptions import Assumptions
from ..engine.domain import kink_arguments, positive_needs, tie_arguments
from ..language import expr as E
from ..language.expr import Node, walk
from .abstract import draw_functions, positive_bases
from .numeric import SIZES, _domains, structured

# Where a kink (relu, abs, step, sign) the usual spread never crossed is sought: `relu(x + 100000)` needs
# some x < -100000, `step(norm2(x) - 1e-3)` in a claim an x of norm below 1e-3, and a claim that is wrong
# only there must not pass for want of looking that far (or that close).
FAR_SCALES = (30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6, 1e7, 1e8, 0.03, 1e-2, 3e-3, 1e-3, 3e-4,
              1e-4, 1e-5, 1e-6)

SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)   # the spreads a scrutiny's candidates are drawn at, in turn

KINK_MARGIN = 1e-3      # arguments of relu/abs/step/sign stay this far from 0 (relative to the scale)
MAX_CHECK_SIZE = 12     # the checker never draws a dimension larger than this, whatever was declared


@dataclass(eq=False)
class Instance:
    """Values for every name (and dimension scalars such as m), the dimension sizes, the scale used."""

    arrays: dict
    dims: dict
    scale: float = 1.0


def array_shape(shape, dims: dict) -> tuple:
    """The NumPy shape of a matcalc shape: () scalar, (n,) vector or row, (r, c) matrix."""
    r, c = (E.size_of(d, dims) for d in shape)
    if shape[0] == 1 and shape[1] == 1:
        return ()
    if shape[1] == 1:
        return (r,)
    if shape[0] == 1:
        return (c,)
    return (r, c)


def dimension_sizes(roots, start: int = 0) -> dict[str, int]:
    """A distinct small size for each dimension name, shifted by `start` so instances differ."""
    names: list[str] = []
    for root in roots:
        budget_check("sizing the instances")
        for n in walk(root):
            for d in E.dimension_names(n.shape):
                if d not in names:
                    names.append(d)
    return {d: SIZES[(i + start) % len(SIZES)] for i, d in enumerate(names)}


def _equation_kind(lhs: Node, rhs: Node) -> tuple[str, str] | None:
    """An equation the sampler can construct: (kind, name) for X' = X, X' = -X, x'*x = 1, norm2(x) = 1."""
    for a, b in ((lhs, rhs), (rhs, lhs)):
        if a.op == "sym" and b.op == "T" and b.args[0] is a:
            return "symmetric", a.attr
        if a.op == "sym" and b.op == "mul" and b.args[0].op == "num" and b.args[0].attr == -1 \
                and len(b.args) == 2 and b.args[1].op == "T" and b.args[1].args[0] is a:
            return "skew", a.attr
        if b.op == "num" and b.attr == 1:
            if a.op == "fn" and a.attr == "norm2" and a.args[0].op == "sym":
                return "unit", a.args[0].attr
            if a.op == "mul" and len(a.args) == 2 and a.args[1].op == "sym" and a.args[0] is E.transpose(a.args[1]):
                return "unit", a.args[1].attr
    return None


class Sampler:
    """Draws instances of the names of some roots (an expression and the claims about it)."""

    def __init__(self, roots, names: dict[str, Node], assumptions: Assumptions, dim_scalars=(),
                 equations: list[tuple[str, Node, Node]] = (), watch=(), probe=None):
        """`watch`: further roots (a claim) whose kinks must be seen from both sides, though the claim
        plays no part in where the expression is defined. `probe`: how the kink arguments are evaluated
        (a compiled plan; the guard passes its direct evaluator, which costs nothing to build)."""
        self.roots = list(roots)
        self.names = names
        self.a = assumptions
        self.dim_scalars = set(dim_scalars)
        need: dict[str, set[str]] = {}
        for root in self.roots:
            budget_check("finding the domains")
            for k, v in _domains(root).items():
                need.setdefault(k, set()).update(v)
        positive = positive_needs(self.roots, assumptions.positive,
                                  set(getattr(assumptions, "probability", ())))
        for k, v in need.items():
            v.discard("positive")
            if k in positive:
                v.add("positive")
        for k in positive:
            need.setdefault(k, set()).add("positive")
        self.need = need
        self.one_hot = set(getattr(assumptions, "one_hot", ()))
        self.constructed: dict[str, str] = {}
        self.checked: list[tuple[str, Node, Node]] = []
        for text, lhs, rhs in equations:
            kind = _equation_kind(lhs, rhs)
            if kind is not None and kind[1] in names:
                self.constructed[kind[1]] = kind[0]
            elif not (lhs.op == "fn" and lhs.attr == "sum" and lhs.args[0].op == "sym"):
                self.checked.append((text, lhs, rhs))
        self.kinks = kink_arguments(self.roots)
        known = set(names) | self.dim_scalars

        def evaluable(k):
            return all(n.attr in known for n in walk(k) if n.op == "sym")

        # a watched kink the instances cannot evaluate (a claim's abbreviation) is not watched
        self.watched = self.kinks + [k for k in kink_arguments(watch) if k not in self.kinks and evaluable(k)]
        self.ties = [t for t in tie_arguments(self.roots + list(watch)) if evaluable(t)]   # max(X): no two tie
        outputs = {f"k{i}": k for i, k in enumerate(self.watched)}
        outputs.update({f"t{i}": t for i, t in enumerate(self.ties)})
        outputs.update({f"l{i}": lhs for i, (_, lhs, _) in enumerate(self.checked)})
        outputs.update({f"r{i}": rhs for i, (_, _, rhs) in enumerate(self.checked)})
        if probe is None:
            from ..compile.codegen import compile_nodes as probe
        self._probe = probe(outputs, self.dim_scalars) if outputs else None
        self._functions = list(self.roots) + list(watch)      # the declared functions they call, drawn anew
        self._positive = positive_bases(self._functions)

    # ------------------------------------------------------------ drawing

    def draw(self, rng, sizes: dict, scale: float = 1.0, attempts: int = 8,
             near_one: float | None = None) -> Instance | None:
        """One instance at `scale`, clear of every kink; None if none could be found. `near_one` draws the
        free values as ±(1 + near_one·noise): where x.^1000000 is neither 0 nor infinite."""
        self._near_one = near_one
        sizes = {d: min(int(n), MAX_CHECK_SIZE) if isinstance(n, (int, np.integer)) else n
                 for d, n in sizes.items()}
        for _ in range(attempts):
            arrays = {}
            for name, node in self.names.items():
                if name in self.dim_scalars:
                    continue
                shape = array_shape(node.shape, sizes)
                check_allocation(int(np.prod(shape, dtype=np.int64)) if shape else 1, f"a random {name} {shape}")
                arrays[name] = self._draw(name, shape, node.shape, rng, scale)
            dims = dict(sizes)
            for name in self.dim_scalars:
                if name not in dims:
                    dims[name] = SIZES[len(dims) % len(SIZES)]
            for name, n in dims.items():
                if name not in arrays and name not in self.names or name in self.dim_scalars:
                    arrays[name] = n   # a plan may need a size no array implies (I, ones(p))
            arrays.update(draw_functions(self._functions, rng, self._positive))
            inst = Instance(arrays, dims, scale)
            if self._clear_of_kinks(inst):
                return inst
        return None

    def _probe_values(self, inst: Instance) -> dict | None:
        if self._probe is None:
            return {}
        with np.errstate(all="ignore"):
            try:
                return self._probe(**inst.arrays)
            except BudgetExceeded:
                raise                  # a limit the user set: said, never read as 'undefined here'
            except Exception:  # noqa: BLE001 — an instance the probe cannot evaluate is redrawn
                return None

    def _clear_of_kinks(self, inst: Instance) -> bool:
        values = self._probe_values(inst)
        if values is None:
            return False
        for i in range(len(self.kinks)):
            v = np.abs(np.asarray(values[f"k{i}"], dtype=float))
            if v.size and not np.all(np.isfinite(v)):
                return False
            if v.size and float(np.min(v)) < KINK_MARGIN * max(inst.scale, 1e-3):
                return False
        for i in range(len(self.ties)):
            v = np.sort(np.asarray(values[f"t{i}"], dtype=float).ravel())
            if not np.all(np.isfinite(v)):
                return False
            if v.size > 1 and min(v[-1] - v[-2], v[1] - v[0]) < KINK_MARGIN * max(inst.scale, 1e-3):
                return False       # a tie for the maximum (or the minimum): max has no derivative there
        return True

    def kink_signs(self, instances) -> list[tuple[Node, bool, bool]]:
        """For each kink argument (the expression's and the watched claim's): (argument, seen negative,
        seen positive) over the instances."""
        seen = [[False, False] for _ in self.watched]
        for inst in instances:
            values = self._probe_values(inst) or {}
            for i in range(len(self.watched)):
                v = np.asarray(values.get(f"k{i}", np.nan), dtype=float)
                seen[i][0] |= bool(np.any(v < 0))
                seen[i][1] |= bool(np.any(v > 0))
        return [(k, neg, pos) for k, (neg, pos) in zip(self.watched, seen)]

    def spread(self, roots, seed: int, count: int) -> list[Instance]:
        """Candidates for a scrutiny: `count` draws at 0.1×–10× the usual spread in turn, sizes shifted."""
        out = []
        for k in range(count):
            rng = np.random.default_rng(seed + 104729 + 7 * k)
            inst = self.draw(rng, dimension_sizes(roots, start=k % 4), SCALES[k % len(SCALES)], attempts=3)
            if inst is not None:
                out.append(inst)
        return out

    def across_kinks(self, seen: list[Instance], roots, seed: int, rounds: int = 1) -> list[Instance]:
        """Instances that show a side of a kink which the `seen` ones never did, sought at FAR_SCALES: a
        claim that differs from the derivative only beyond (or inside) it must not pass for want of
        looking. At most one instance per missing side."""
        found: list[Instance] = []
        for k, (_, neg, pos) in enumerate(self.kink_signs(seen)):
            if neg and pos:
                continue
            for j, scale in enumerate(FAR_SCALES * rounds):
                rng = np.random.default_rng(seed + 7 * k + 1009 * j)
                inst = self.draw(rng, dimension_sizes(roots, start=j), scale, attempts=2)
                if inst is None:
                    continue
                _, got_neg, got_pos = self.kink_signs([inst])[k]
                if (got_neg and not neg) or (got_pos and not pos):
                    found.append(inst)
                    break
        return found

    def kinks_seen(self, instances) -> str:
        """The evidence's words on the kinks over these instances: '' when there are none."""
        from ..language.printing import to_text_bounded as to_text

        sides = self.kink_signs(instances)
        if not sides:
            return ""
        unseen = [to_text(k) for k, neg, pos in sides if not (neg and pos)]
        if not unseen:
            return " (both signs of every relu/abs/step/sign argument seen)"
        return f" ({', '.join(unseen)} never changed sign on the instances)"

    def unhonoured(self, inst: Instance) -> list[str]:
        """The stated equations that this instance does not satisfy (the sampler could not build them)."""
        if not self.checked:
            return []
        values = self._probe_values(inst)
        out = []
        for i, (text, _, _) in enumerate(self.checked):
            if values is None:
                out.append(text)
                continue
            lhs, rhs = np.asarray(values[f"l{i}"], dtype=float), np.asarray(values[f"r{i}"], dtype=float)
            scale = max(1.0, float(np.max(np.abs(rhs))) if rhs.size else 1.0)
            if lhs.shape != rhs.shape and rhs.size != 1 or not np.allclose(lhs, rhs, atol=1e-9 * scale, rtol=1e-9):
                out.append(text)
        return out

    def _draw(self, name: str, shape: tuple, mshape, rng, scale: float):
        a, need = self.a, self.need.get(name, set())
        size = shape
        if name in a.plus_minus_one:
            return _shaped(rng.choice([-1.0, 1.0], size=size), size)
        if name in self.one_hot:
            return _one_hot(rng, size)
        special = structured(name, size, a, rng)   # {0, 1} entries, an orthogonal or diagonal matrix
        if special is not None:
            return special
        if name in a.sums_to_one:
            probability = "positive" in need or name in a.positive or name in getattr(a, "probability", ())
            return _sums_to_one(rng, size, probability)
        kind = self.constructed.get(name)
        if name in a.positive_definite:
            r = shape[0]
            B = rng.standard_normal((r, r))
            return B @ B.T / r + np.eye(r)
        positive = name in a.positive or "positive" in need
        square = len(shape) == 2 and shape[0] == shape[1]
        if square and (name in a.symmetric or kind == "symmetric"):
            B = rng.standard_normal(shape) * scale
            S = (B + B.T) / 2
            return np.abs(S) if positive else S
        if square and kind == "skew":
            B = rng.standard_normal(shape) * scale
            return (B - B.T) / 2
        if square and ({"invertible", "positive-determinant"} & need or name in a.invertible):
            r = shape[0]
            X = np.eye(r) * 1.5 + 0.4 * rng.standard_normal((r, r)) / np.sqrt(r)
            return np.abs(X) if positive else X
        if positive:
            return _shaped(rng.uniform(0.5, 1.5, size=size) * scale, size)
        near_one = getattr(self, "_near_one", None)
        if near_one:
            signs = 1.0 if positive else np.sign(rng.standard_normal(size))
            return _shaped(signs * (1.0 + near_one * rng.standard_normal(size)), size)
        spread = scale * (0.3 if need & {"unit", "conditioned"} else 1.0)
        if "unit" in need:
            spread = min(spread, 0.3)
        value = _shaped(rng.standard_normal(size) * spread, size)
        if kind == "unit" and size:
            value = value / np.linalg.norm(value)
        return value


def _shaped(value, size):
    return value if size else float(value)


def _one_hot(rng, size):
    if not size:
        return 1.0
    out = np.zeros(size)
    if len(size) == 1:
        out[rng.integers(size[0])] = 1.0
    else:
        out[np.arange(size[0]), rng.integers(size[1], size=size[0])] = 1.0
    return out


def _sums_to_one(rng, size, probability: bool):
    """A vector (or the rows of a matrix) summing to 1: a probability vector where positivity is needed,
    otherwise any real vector with that sum — which is all that `sum(y) = 1` says."""
    if not size:
        return 1.0
    if probability:
        p = rng.uniform(0.2, 1.0, size=size)
    else:
        p = rng.standard_normal(size)
    axis = -1
    total = p.sum(axis=axis, keepdims=True)
    if probability:
        return p / total
    n = size[-1]
    return p + (1.0 - total) / n


__all__ = ["Sampler", "Instance", "dimension_sizes", "array_shape", "MAX_CHECK_SIZE", "KINK_MARGIN"]
