"""Claims in vec/Kronecker form, `kron(B', A)` for ∂vec(AXB)/∂vec(X)', judged by the numbers.

Why a judge of its own: the claim is a matrix with size(F)·size(X) entries, and each of them is a
partial derivative ∂vec(F)_i/∂vec(X)_j. The truth is measured entry by entry from the ORIGINAL
expression by central differences along every column-major coordinate of X (two step sizes, so the
tolerance knows how well the truth itself is known), on instances of distinct sizes; the claim is
evaluated on the same instances. Nothing of matcalc's own Jacobian enters the verdict: it is only
printed as the expected answer, and its own disagreement with the truth would be a note.

The mistakes people make with this form get names: the other layout (the transpose), a sign or a
factor, a missing commutation matrix (the Jacobian of dX' where the function has dX), and the
Kronecker factors in the wrong order — which is the Jacobian of the row-major vec (rows stacked).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import numpy as np

from ..compile.codegen import evaluate
from ..compile.runtime import commutation
from ..engine.kronecker import kronecker
from ..errors import MatcalcError, ParseError, ShapeError
from ..language.dims import size_of
from ..language.expr import Node, shape_text
from ..language.shapes import elaborate_many
from . import numeric
from .checker import expression_dims, factor_words, syntax_names
from .verdict import CORRECT, SHAPE, UNDECIDED, WRONG, Verdict

INSTANCES = 3
TOLERANCE = 1e-6
SEED = 20241202
CANDIDATES = 24          # cheap instances searched for a disagreement once the first ones agree
SUSPECTS = 4             # of those, how many get the truth measured
MAX_ENTRIES = 40_000            # size(F)·size(X) on the instances drawn (they are small)

_KRONECKER_WORDS = re.compile(r"(?<![A-Za-z0-9_])(kron|vec|unvec|K)\s*\(")


def is_kronecker_claim(claim: str) -> bool:
    """A claim that writes kron(…), vec(…) or K(m, n): a vec/Kronecker Jacobian."""
    return bool(_KRONECKER_WORDS.search(claim))


def _spec(shape) -> tuple:
    r, c = shape
    return () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)


def _column_major(a, shape) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, order="F") if a.ndim == 2 else a.reshape(-1)


def _truth(typed, wrt: str, env: dict, h: float) -> np.ndarray:
    x0 = np.asarray(env[wrt], dtype=float)
    flat = _column_major(x0, None)
    cols = []
    for k in range(flat.size):
        e = np.zeros(flat.size)
        e[k] = h

        def f(step):
            local = dict(env)
            moved = flat + step
            local[wrt] = moved.reshape(x0.shape, order="F") if x0.ndim == 2 else (
                moved if x0.ndim == 1 else float(moved[0]))
            return _column_major(evaluate(typed.root, typed.dims, local), None)

        with np.errstate(all="ignore"):
            cols.append((f(e) - f(-e)) / (2 * h))
    return np.array(cols).T


def _claim_value(node: Node, typed, env: dict, rows: int, cols: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        try:
            value = np.asarray(evaluate(node, typed.dims, env), dtype=float)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return np.full((rows, cols), np.nan)
    if value.ndim < 2:                            # a row (1×n) or a column (n×1) comes back 1-D
        value = value.reshape((rows, cols)) if value.size == rows * cols else np.full((rows, cols), np.nan)
    return value


def _claim_node(expression: str, declared: dict, claim: str, want) -> Node:
    """The claim typed; an identity it leaves unsized (`kron(x', I)`) takes the size the Jacobian's shape
    asks for, or else the other layout's (so the diagnosis can say so); a claim that has neither is typed on
    its own and its shape reported."""
    for shape in (want, (want[1], want[0])):
        try:
            _, (node,) = elaborate_many(expression, declared, (claim,), targets=(shape,))
        except ShapeError:
            continue
        if node.shape == shape:
            return node
    _, (node,) = elaborate_many(expression, declared, (claim,))
    return node


def verify_kronecker(expression: str, wrt: str, claim: str, shapes=None, assume=(),
                     layout: str = "numerator") -> Verdict:
    ours = kronecker(expression, wrt, shapes, assume, layout)
    typed = ours.typed
    x = typed.names[wrt]
    declared = {n: _spec(node.shape) for n, node in typed.names.items()}
    base = dict(expression=expression, wrt=wrt, claim=claim, layout=layout, expected=ours.text,
                assumptions=list(ours.differential.assumptions.texts), expected_shape=shape_text(ours.shape))
    known = set(typed.names) | expression_dims(typed)
    unknown = sorted(syntax_names(claim) - known)
    if unknown:
        raise MatcalcError(f"in the claim: {', '.join(repr(n) for n in unknown)} "
                           f"{'does' if len(unknown) == 1 else 'do'} not appear in the expression {expression!r} "
                           f"(its names: {', '.join(sorted(typed.names))}; its sizes: "
                           f"{', '.join(sorted(known - set(typed.names))) or 'none'})")
    try:
        node = _claim_node(expression, declared, claim, ours.shape)
    except ParseError as err:
        raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
    except ShapeError as err:
        return Verdict(ok=False, status=SHAPE, kind="shape", max_relative_error=math.inf, counterexample=None,
                       instances=0, claim_shape="?", **base,
                       diagnosis=f"your Jacobian does not fit: {err}")
    base["claim_shape"] = shape_text(node.shape)
    want = ours.shape
    other = (want[1], want[0])
    if node.shape != want and not (node.is_scalar and want == (1, 1)):
        if node.shape == other and layout == "numerator":
            kind, why = "transpose", (f"your Jacobian is {shape_text(node.shape)}, the shape of the denominator "
                                      f"layout: in numerator layout {ours.label} is {shape_text(want)}. ")
        elif node.shape == other:
            kind, why = "transpose", (f"your Jacobian is {shape_text(node.shape)}, the shape of the numerator layout "
                                      f"(∂vec(F)/∂vec({wrt})', the form of Magnus & Neudecker; give --layout "
                                      f"numerator): in denominator layout {ours.label} is {shape_text(want)}, its "
                                      f"transpose. ")
        else:
            kind, why = "shape", (f"your Jacobian is {shape_text(node.shape)}; {ours.label} has one row per entry "
                                  f"of vec(F) and one column per entry of vec({wrt}) in numerator layout (the other "
                                  f"way round in denominator layout): {shape_text(want)} here. ")
        return Verdict(ok=False, status=SHAPE if kind == "shape" else WRONG, kind=kind, max_relative_error=math.inf,
                       counterexample=None, instances=0, **base, diagnosis=f"{why}It is {ours.text}.")
    rng = np.random.default_rng(SEED)
    measured: list[Measured] = []
    for k in range(INSTANCES):
        sample_sizes = numeric.dimension_sizes([typed.root, node, *typed.names.values()], start=k)
        inst = numeric.sample(typed.root, typed.names, ours.differential.assumptions, rng, sizes=sample_sizes,
                              dim_scalars=typed.dims)
        env = dict(inst.env)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        m = _measure(typed, wrt, layout, node, env, inst.dims)
        if m is not None:                              # not measurable here: never counted as agreement
            measured.append(m)
    if not measured:
        return Verdict(ok=False, status=UNDECIDED, kind=None, max_relative_error=math.inf, counterexample=None,
                       instances=0, **base, diagnosis="no verdict: the expression could not be measured on the "
                                                      "instances drawn")
    scrutiny = ""
    first = len(measured)
    if all(m.agrees for m in measured):
        extra, scrutiny = _scrutinize(ours, node, typed, wrt, layout)
        measured += extra
    worst = max(m.error for m in measured)
    evidence = dict(max_relative_error=worst, instances=len(measured), sizes=[dict(m.dims) for m in measured],
                    tolerance=TOLERANCE, scrutiny=scrutiny,
                    witness="central differences along every entry of the variable (column-major vec)")
    notes = _engine_notes(ours, measured, layout)
    if all(m.agrees for m in measured):
        return Verdict(ok=True, status=CORRECT, kind=None, counterexample=None, notes=notes, **base, **evidence,
                       diagnosis=f"your Jacobian equals the measured one entry by entry on {len(measured)} random "
                                 f"instances of distinct sizes.")
    kind, why = _diagnose(measured, x.shape, typed.root.shape, layout)
    if not why and all(m.agrees for m in measured[:first]):
        why = ("your Jacobian agrees on the usual random instances but not on those drawn wider or across a "
               "kink of relu/abs/step/sign: it holds only where some argument keeps its sign. ")
    return Verdict(ok=False, status=WRONG, kind=kind, counterexample=None, notes=notes, **base, **evidence,
                   diagnosis=f"{why}{ours.label} is {ours.text}.")


class Measured(NamedTuple):
    """One instance: the claim's value, the measured truth, where, and how well the truth is known."""

    got: np.ndarray
    truth: np.ndarray
    env: dict
    dims: dict
    noise: float          # |truth at h=1e-6 - truth at h=1e-5| / size: an upper estimate of its error

    @property
    def error(self) -> float:
        if not np.all(np.isfinite(self.got)):
            return math.inf
        return float(np.abs(self.got - self.truth).max() / max(np.abs(self.truth).max(), 1e-300))

    @property
    def agrees(self) -> bool:
        """Equal to within 1e-6 of the derivative's size, or within what the truth itself is known to
        (a saturated sigmoid at 10× spread is measured to 1e-5 only)."""
        return self.error < max(TOLERANCE, 10 * self.noise)


def _measure(typed, wrt, layout, node, env, dims) -> Measured | None:
    """The claim against the truth on one instance, or None where the truth is not known well."""
    fine = _truth(typed, wrt, env, 1e-6)
    if fine.size > MAX_ENTRIES or not np.all(np.isfinite(fine)):
        return None
    coarse = _truth(typed, wrt, env, 1e-5)
    noise = float(np.abs(fine - coarse).max() / max(np.abs(fine).max(), 1e-300))
    if noise > 1e-4:
        return None
    truth = fine if layout == "numerator" else fine.T
    return Measured(_claim_value(node, typed, env, *truth.shape), truth, env, dims, noise)


def _scrutinize(ours, node, typed, wrt, layout) -> tuple[list, str]:
    """More instances for a claim that agreed on the first ones, as checker.Checker.scrutinize does for
    matrix claims: candidates at 0.1×–10× spread drawn to see both sides of every kink (relu, abs, step),
    far kinks sought at 30×–3000×, and the truth measured where the claim and matcalc's own Jacobian
    differ most (matcalc's answer only chooses where to look; the truth decides)."""
    from .instances import Sampler

    a = ours.differential.assumptions
    sampler = Sampler([typed.root], typed.names, a, typed.dims, watch=[node, ours.numerator])
    roots = [typed.root, node, *typed.names.values()]
    candidates = sampler.spread(roots, SEED, CANDIDATES)

    def env_of(inst):
        env = dict(inst.arrays)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        return env

    def gap(inst) -> float:
        env = env_of(inst)
        mine = np.asarray(_claim_value(ours.node, typed, env, *_expected(ours, env)), dtype=float)
        theirs = np.asarray(_claim_value(node, typed, env, *_expected(ours, env)), dtype=float)
        if not (np.all(np.isfinite(mine)) and np.all(np.isfinite(theirs))):
            return math.inf
        return float(np.abs(mine - theirs).max() / max(np.abs(mine).max(), 1e-300))

    chosen = sorted(candidates, key=lambda i: -gap(i))[:SUSPECTS]
    chosen += sampler.across_kinks(candidates, roots, SEED)
    extra = []
    for inst in chosen:
        got = _measure(typed, wrt, layout, node, env_of(inst), inst.dims)
        if got is not None:
            extra.append(got)
    near = _near_kinks(sampler, candidates, typed, wrt, layout, node, env_of, gap)
    extra += near
    text = (f"also checked on {len(extra)} instances chosen from {len(candidates)} candidates at 0.1×–10× "
            f"spread where it and matcalc's Jacobian differ most"
            + (f", {len(near)} of them placed at the kinks (each kink argument at ±1e-3, ±1e-6 and ±3e-9 of its "
               f"size, and between kinks that nearly coincide)" if near else ""))
    return extra, text + sampler.kinks_seen(candidates + chosen)


PLACED = 6      # of the instances placed at the kinks, how many (at most) get the truth measured


def _near_kinks(sampler, seen, typed, wrt, layout, node, env_of, gap) -> list:
    """Instances placed at the kinks of the expression, of matcalc's Jacobian and of the claim
    (check/kinks.py): the truth there is autograd's Jacobian, confirmed by finite differences at steps that
    do not straddle the kink; measured where the claim and matcalc's Jacobian differ."""
    from .kinks import place
    from .truth import Witness

    placed = [inst for inst, _ in place(sampler, seen, SEED)]
    gaps = [gap(inst) for inst in placed]
    chosen = [i for g, i in sorted(zip(gaps, placed), key=lambda p: -min(p[0], 1e300)) if not g < 1e-9][:PLACED]
    witness = Witness(typed.root, wrt, typed.dims)
    out = []
    for inst in chosen + placed[:1]:
        ref = witness.reference(inst.arrays)
        if ref is None:
            continue
        env = env_of(inst)
        x_nd = np.ndim(env[wrt])
        value = np.asarray(ref.value, dtype=float)            # the variable's axes, then the function's
        moved = np.moveaxis(value, tuple(range(x_nd)), tuple(range(value.ndim - x_nd, value.ndim)))
        f_size = int(np.prod(moved.shape[:value.ndim - x_nd], dtype=int))
        fine = moved.reshape((f_size, -1), order="F")        # ∂vec(F)/∂vec(X)': column-major on both sides
        truth = fine if layout == "numerator" else fine.T
        out.append(Measured(_claim_value(node, typed, env, *truth.shape), truth, env, inst.dims, 0.0))
    return out


def _expected(ours, env) -> tuple[int, int]:
    r, c = _sizes(ours.shape, {k: v for k, v in env.items() if isinstance(v, int)})
    return r, c


def _engine_notes(ours, measured, layout) -> list[str]:
    notes = []
    for m in measured:
        if not m._replace(got=_claim_value(ours.node, ours.typed, m.env, *m.truth.shape)).agrees:
            notes.append("matcalc's own Kronecker Jacobian disagrees with the measured one here; its printed "
                         "answer is not trustworthy — please report it")
            break
    return notes


def _perm(m: int, n: int) -> np.ndarray:
    """K(m, n) as a matrix: K @ vec(A) = vec(A') for an m×n A."""
    return commutation(m, n)


def _sizes(shape, dims) -> tuple[int, int]:
    return tuple(int(size_of(d, dims)) for d in shape)


def _diagnose(measured, x_shape, f_shape, layout) -> tuple[str | None, str]:
    """Each candidate mistake must explain every instance."""
    def every(test) -> bool:
        return all(test(m.got, m.truth, m.dims) for m in measured)

    def close(a, b) -> bool:
        size = max(np.abs(b).max(), 1e-300)
        return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.abs(a - b).max() < 1e-5 * size

    def numerator(got, truth):
        return (got, truth) if layout == "numerator" else (got.T, truth.T)

    if every(lambda g, t, d: close(g, -t)):
        return "sign", "your Jacobian has the wrong sign. "
    ks = [float((m.got * m.truth).sum() / max((m.truth * m.truth).sum(), 1e-300)) for m in measured]
    if abs(ks[0] - 1) > 1e-6 and abs(ks[0]) > 1e-12 and every(lambda g, t, d: close(g, ks[0] * t)):
        k = ks[0]
        words = factor_words(k) if abs(abs(k) - 1) > 1e-3 else f"{abs(k):.8g} times"
        return "factor", f"your Jacobian is {words} the true one{' (and of the other sign)' if k < 0 else ''}. "
    if every(lambda g, t, d: g.shape[0] == g.shape[1] and close(g.T, t)):
        return "transpose", ("your Jacobian is the transpose: the other layout (numerator layout has one row per "
                             "entry of vec(F), denominator layout one row per entry of the variable). ")

    def row_major(g, t, d):
        m, n = _sizes(x_shape, d)
        r, c = _sizes(f_shape, d)
        G, T = numerator(g, t)
        if G.shape != (r * c, m * n) or (r * c == 1 and m * n == 1):
            return False
        return close(_perm(r, c).T @ G @ _perm(m, n), T) and not close(G, T)

    if every(row_major):
        return "transpose", ("your Jacobian stacks rows (the row-major vec, as numpy's reshape does): vec stacks "
                             "columns, which puts the Kronecker factors the other way round "
                             "(vec(A*X*B) = kron(B', A)*vec(X)). ")
    def missing_k(g, t, d):
        m, n = _sizes(x_shape, d)
        G, T = numerator(g, t)
        return G.shape[1] == m * n and (m > 1 and n > 1) and close(G @ _perm(m, n), T)

    if every(missing_k):
        return "missing factor", ("your Jacobian is the one for the transposed variable: a commutation matrix K(m, n) "
                                  "is missing on the right (vec(dX') = K(m, n) vec(dX)). ")

    return None, ""
