"""Claims written as differentials, `dF = -inv(X)*dX*inv(X)`, judged by the numbers.

Why a judge of its own: a differential claim holds for every direction dX, and its truth needs no
layout and no matrix form (it is how the differential method states a matrix function's derivative).
The claim is evaluated with a random direction V in place of dX and compared with central differences
of the original expression along V, (F(X + hV) - F(X - hV)) / 2h, measured at two step sizes so the
tolerance knows how well the truth itself is known; on instances drawn as for any claim (distinct
sizes, the assumptions honoured), several directions each.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..compile.codegen import evaluate
from ..engine.forward import differential
from ..errors import MatcalcError, ParseError, ShapeError
from ..language.expr import shape_text
from ..language.shapes import elaborate_many
from . import numeric
from .verdict import CORRECT, SHAPE, UNDECIDED, WRONG, Verdict

INSTANCES = 3
DIRECTIONS = 2
TOLERANCE = 1e-6

_LHS = re.compile(r"^\s*d\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*=(?!=)\s*(.+)$", re.S)
_D_OF = re.compile(r"(?<![A-Za-z0-9_])d([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_(])")


def read_differential(line: str) -> tuple[str, list[str], str] | None:
    """(A, the names whose differentials the right side holds, RHS) for `dA = ...`; else None
    (`dL/dz = ...` is a derivative, not a differential)."""
    m = _LHS.match(line)
    if not m or "/" in line.split("=", 1)[0]:
        return None
    rhs = m.group(2).strip()
    return m.group(1), list(dict.fromkeys(_D_OF.findall(rhs))), rhs


def split_differential(claim: str, wrt: str) -> str | None:
    """The right side of `dF = ...` when it holds d`wrt` (so `df = ...` is a differential, not an
    abbreviation or an equation); else None."""
    read = read_differential(claim)
    return read[2] if read is not None and wrt in read[1] else None


def verify_differential(expression: str, wrt: str, claim: str, shapes=None, assume=()) -> Verdict:
    rhs = split_differential(claim, wrt)
    if rhs is None:
        raise MatcalcError(f"not a differential claim: write it as dF = ... in d{wrt}")
    ours = differential(expression, wrt, shapes, assume)
    typed, a = ours.typed, ours.assumptions
    declared = {n: node.shape for n, node in typed.names.items()}
    declared[ours.dx.attr] = typed.names[wrt].shape
    base = dict(expression=expression, wrt=wrt, claim=claim, expected=ours.text,
                assumptions=list(a.texts), expected_shape=shape_text(typed.root.shape))
    try:
        _, (node,) = elaborate_many(expression, _spec(declared), (rhs,), targets=[typed.root.shape])
    except ParseError as err:
        raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
    except ShapeError as err:
        return Verdict(ok=False, status=SHAPE, kind="shape", max_relative_error=math.inf, counterexample=None,
                       instances=0, claim_shape="?", **base,
                       diagnosis=f"your differential does not fit: {err}; d{wrt} is {shape_text(typed.names[wrt].shape)} "
                                 f"and dF must be {shape_text(typed.root.shape)} like the expression")
    base["claim_shape"] = shape_text(node.shape)
    errors, sizes = [], []
    rng = np.random.default_rng(20240611)
    for k in range(INSTANCES):
        sample_sizes = numeric.dimension_sizes([typed.root, node, *typed.names.values()], start=k)
        inst = numeric.sample(typed.root, typed.names, a, rng, sizes=sample_sizes, dim_scalars=typed.dims)
        env = dict(inst.env)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        sizes.append({d: v for d, v in inst.dims.items()})
        for _ in range(DIRECTIONS):
            err = _error(typed, wrt, node, ours.dx.attr, env, rng)
            if err is not None:
                errors.append(err)
    if not errors:
        return Verdict(ok=False, status=UNDECIDED, kind=None, max_relative_error=math.inf, counterexample=None,
                       instances=0, **base, diagnosis="no verdict: the expression could not be measured")
    scrutiny, usual = "", max(errors) < TOLERANCE
    if usual:
        extra, scrutiny = _scrutinize(typed, wrt, node, ours, a)
        errors += extra
    worst = max(errors)
    evidence = dict(max_relative_error=worst, instances=INSTANCES, sizes=sizes, scrutiny=scrutiny,
                    witness="central differences along random directions", tolerance=TOLERANCE)
    if worst < TOLERANCE:
        return Verdict(ok=True, status=CORRECT, kind=None, counterexample=None, **base, **evidence,
                       diagnosis=f"your differential agrees with the expression's along {len(errors)} random "
                                 f"directions on {INSTANCES} random instances and {len(extra)} chosen ones.")
    kind, why = _diagnose(typed, wrt, node, ours, rng, a)
    if not why and usual:
        why = ("your differential agrees on the usual random instances but not on those drawn wider or across "
               "a kink of relu/abs/step/sign: it holds only where some argument keeps its sign; ")
    return Verdict(ok=False, status=WRONG, kind=kind, counterexample=None, **base, **evidence,
                   diagnosis=f"{why}the differential is {ours.text}.")


SEED = 20240611
CANDIDATES = 24          # cheap instances searched for a disagreement once the usual ones agree
SUSPECTS = 4             # of those, how many get the truth measured


def _scrutinize(typed, wrt, node, ours, assumptions) -> tuple[list[float], str]:
    """More instances for a claim that agreed on the usual ones, as checker.Checker.scrutinize does:
    candidates at 0.1×–10× spread drawn to see both sides of every kink (relu, abs, step, sign), far
    kinks sought at 30×–3000×, and the truth measured (along a random direction) where the claim and
    matcalc's own differential differ most — matcalc's answer only chooses where to look. Each error is
    scaled to the tolerance its instance's truth allows (a saturated sigmoid is measured to 1e-5 only)."""
    from .instances import Sampler

    sampler = Sampler([typed.root], typed.names, assumptions, typed.dims, watch=[node, ours.node])
    roots = [typed.root, node, *typed.names.values()]
    dname = ours.dx.attr
    rng = np.random.default_rng(SEED + 17)
    candidates = []
    for inst in sampler.spread(roots, SEED, CANDIDATES):
        env = dict(inst.arrays)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        candidates.append((inst, env, rng.standard_normal(np.shape(env[wrt]))))

    def gap(candidate) -> float:
        _, env, v = candidate
        local = dict(env)
        local[dname] = v
        with np.errstate(all="ignore"):
            try:
                mine = np.asarray(evaluate(ours.node, typed.dims, local), dtype=float)
                theirs = np.asarray(evaluate(node, typed.dims, local), dtype=float)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                return math.inf
        if mine.shape != theirs.shape and theirs.size != 1:
            return math.inf
        if not (np.all(np.isfinite(mine)) and np.all(np.isfinite(theirs))):
            return math.inf
        return float(np.abs(mine - theirs).max() / max(np.abs(mine).max(), 1e-300))

    chosen = sorted(candidates, key=lambda c: -gap(c))[:SUSPECTS]
    for inst in sampler.across_kinks([c[0] for c in candidates], roots, SEED):
        env = dict(inst.arrays)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        chosen.append((inst, env, rng.standard_normal(np.shape(env[wrt]))))
    errors = []
    for _, env, v in chosen:
        got, truth, coarse = _values(typed, wrt, node, dname, env, np.asarray(v, dtype=float))
        if not np.all(np.isfinite(truth)):
            continue
        size = max(np.abs(truth).max(), 1e-300)
        noise = np.abs(truth - coarse).max() / size
        if noise > 1e-4:
            continue
        err = math.inf if not np.all(np.isfinite(got)) else float(np.abs(got - truth).max() / size)
        errors.append(err * TOLERANCE / max(TOLERANCE, 10 * noise))
    near = _near_kinks(sampler, typed, wrt, node, ours, [c[0] for c in candidates], gap, rng)
    errors += near
    text = (f"also checked on {len(errors)} instances chosen from {len(candidates)} candidates at 0.1×–10× "
            f"spread where it and matcalc's differential differ most"
            + (f", {len(near)} of them placed at the kinks (each kink argument at ±1e-3, ±1e-6 and ±3e-9 of its "
               f"size, and between kinks that nearly coincide)" if near else ""))
    return errors, text + sampler.kinks_seen([c[0] for c in candidates + chosen])


PLACED = 6      # of the instances placed at the kinks, how many (at most) get the truth measured


def _near_kinks(sampler, typed, wrt, node, ours, seen, gap, rng) -> list[float]:
    """Instances placed at the kinks of the expression, of matcalc's differential and of the claim
    (check/kinks.py), the truth measured exactly there (autograd, confirmed by finite differences at steps
    that do not straddle the kink) where the claim and matcalc's differential differ."""
    from .kinks import place
    from .truth import Witness

    placed = []
    for inst, _ in place(sampler, seen, SEED):
        env = dict(inst.arrays)
        env.update({d: v for d, v in inst.dims.items() if d not in env})
        placed.append((inst, env, rng.standard_normal(np.shape(env[wrt]))))
    gaps = [gap(c) for c in placed]
    chosen = [c for g, c in sorted(zip(gaps, placed), key=lambda p: -min(p[0], 1e300)) if not g < 1e-9][:PLACED]
    witness = Witness(typed.root, wrt, typed.dims)
    errors = []
    for inst, env, v in chosen + placed[:1]:
        ref = witness.reference(inst.arrays)
        if ref is None:
            continue
        x_nd = np.ndim(env[wrt])
        truth = np.tensordot(np.asarray(v, dtype=float), ref.value, axes=(list(range(x_nd)), list(range(x_nd))))
        local = dict(env)
        local[ours.dx.attr] = v
        with np.errstate(all="ignore"):
            try:
                got = np.asarray(evaluate(node, typed.dims, local), dtype=float)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                got = np.full(np.shape(truth), np.nan)
        got = np.broadcast_to(got, np.shape(truth)) if got.size == 1 else got.reshape(np.shape(truth))
        size = max(float(np.abs(truth).max()) if np.size(truth) else 0.0, ref.floor, 1e-300)
        errors.append(math.inf if not np.all(np.isfinite(got)) else float(np.abs(got - truth).max() / size))
    return errors


def _spec(declared: dict) -> dict:
    """Resolved shapes as declarations: (r, 1) a column (r,), (1, 1) a scalar, else (r, c)."""
    out = {}
    for name, (r, c) in declared.items():
        out[name] = () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)
    return out


def _values(typed, wrt, node, dname, env, v, h=1e-6):
    x0 = np.asarray(env[wrt], dtype=float)

    def f(t):
        local = dict(env)
        local[wrt] = x0 + t * v
        return np.asarray(evaluate(typed.root, typed.dims, local), dtype=float)

    with np.errstate(all="ignore"):
        truth = (f(h) - f(-h)) / (2 * h)
        coarse = (f(10 * h) - f(-10 * h)) / (20 * h)
        local = dict(env)
        local[dname] = v
        try:
            got = np.asarray(evaluate(node, typed.dims, local), dtype=float)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            got = np.full(truth.shape, np.nan)
    got = np.broadcast_to(got, truth.shape) if got.size == 1 else got.reshape(truth.shape)
    return got, truth, coarse


def _error(typed, wrt, node, dname, env, rng) -> float | None:
    x0 = np.asarray(env[wrt], dtype=float)
    v = rng.standard_normal(x0.shape)
    got, truth, coarse = _values(typed, wrt, node, dname, env, v)
    if not np.all(np.isfinite(truth)):
        return None                               # not measurable here: never counted as agreement
    size = max(np.abs(truth).max(), 1e-300)
    noise = np.abs(truth - coarse).max() / size   # how well the truth itself is known
    if noise > 1e-4:
        return None
    if not np.all(np.isfinite(got)):
        return math.inf
    return float(np.abs(got - truth).max() / size)


def _diagnose(typed, wrt, node, ours, rng, assumptions=None) -> tuple[str | None, str]:
    """A flipped sign, a constant factor, or dX' for dX, each seen on three directions of one instance
    (one direction alone would make any two scalars proportional); else no name for the mistake."""
    inst = numeric.sample(typed.root, typed.names, assumptions, rng, dim_scalars=typed.dims)
    env = dict(inst.env)
    env.update({d: v for d, v in inst.dims.items() if d not in env})
    x0 = np.asarray(env[wrt], dtype=float)
    dname = ours.dx.attr
    got, truth, flipped = [], [], []
    for _ in range(3):
        v = rng.standard_normal(x0.shape)
        g, t, _ = _values(typed, wrt, node, dname, env, v)
        got.append(g.ravel())
        truth.append(t.ravel())
        if x0.ndim == 2 and x0.shape[0] == x0.shape[1] > 1:      # the claim fed V' where it says dX
            local = dict(env)
            local[dname] = v.T
            with np.errstate(all="ignore"):
                gv = np.asarray(evaluate(node, typed.dims, local), dtype=float)
            flipped.append(np.broadcast_to(gv, t.shape).ravel() if gv.size == 1 else gv.ravel())
    g, t = np.concatenate(got), np.concatenate(truth)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(t))) or np.abs(t).max() == 0:
        return None, ""
    size = np.abs(t).max()
    if np.abs(g + t).max() < 1e-5 * size:
        return "sign", "your differential has the wrong sign; "
    k = float(g @ t / (t @ t))
    if abs(k) > 1e-12 and abs(k - 1) > 1e-6 and np.abs(g - k * t).max() < 1e-5 * size:
        return "factor", f"your differential is off by a factor of {k:.4g}; "
    if flipped:
        f = np.concatenate(flipped)
        if np.all(np.isfinite(f)) and np.abs(f - t).max() < 1e-5 * size:
            return "transpose", (f"your differential has d{wrt}' where it should have d{wrt} (and the other way "
                                 f"round): a transpose; ")
    return None, ""
