"""What a wrong gradient function got wrong: the claim's mistakes, and those only code makes.

A function has no formula to edit, so each mistake is a relation between its values and the truth on
the instances, or between its values and a mutant of matcalc's own answer evaluated there:
- the claim's relations, from diagnose.py: the other layout, a sign, a constant or batch factor, a
  chain-rule factor dropped, a term missing or twice, an assumption the code relies on;
- mutants of matcalc's answer: a transpose toggled on a square factor (`A2 @ g` for `A2.T @ g`),
  a relu mask dropped, of another layer or inverted, a sign flipped inside, a row softmax whose sums
  NumPy broadcast along the wrong axis (`np.sum(e, axis=1)` without keepdims, square Z);
- the NumPy traps shown by the result's shape: (n, 1) or (1, n) for (n,), one number from `np.sum`
  without `axis`, a sum over the wrong axis, a broadcast that made an n×n matrix of an n-vector.
Every relation is tested on the instances' values, never assumed from a shape alone.
"""

from __future__ import annotations

import numpy as np

from ...compile.codegen import compile_nodes
from ...engine.domain import kink_arguments
from ...errors import MatcalcError
from ...language import expr as E
from ..checker import OTHER_LAYOUT, shape_phrase
from ...engine.derive import prepare
from ..checker import SEED, Case, specs
from ..diagnose import (
    TOLERANCE,
    _all_close,
    _assumable,
    _assumption_text,
    _dimensional,
    candidate_assumptions,
    _occurrences,
    _replace_at,
    _sign_or_factor,
    _summands,
    _terms,
    _varying_factor,
    _zero_claim,
)
from ..verdict import ASSUMPTION, WRONG

STAND_IN = "‹mutant›"      # a value of a mutant computed here in NumPy, fed to the plan of the rest


def said_of_code(text: str) -> str:
    """The claim's words (diagnose.py), said of the function."""
    return text.replace("your answer", "your function's result").replace("Your answer", "Your function's result")


def np_shape(shape, dims: dict, fixed=()) -> str:
    """A NumPy shape with the dimension names where they are unambiguous: (n, 1), (m,), (64, 10)."""
    by_size: dict[int, list[str]] = {}
    for d, n in dims.items():
        by_size.setdefault(n, []).append(d)
    parts = [by_size[n][0] if n in by_size and len(by_size[n]) == 1 and n not in fixed else str(n) for n in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _fixed(ck) -> set[int]:
    return {d for node in ck.typed.names.values() for d in node.shape if isinstance(d, int) and d != 1}


def _matches(ck, node, cases, values) -> bool:
    """Whether a mutant of matcalc's answer (denominator layout) has the function's values."""
    try:
        got = ck.den_values(node, cases, "denominator")
    except (MatcalcError, ValueError, TypeError, RecursionError):
        return False
    return _all_close(values, got)


def _matches_on_scale(ck, node, part, cases, values) -> bool:
    """Like _matches, with errors measured against the size of `part` (the matrix a sum runs over): a sum
    that is 0 by structure (the rows of S - Y) is met by a value of 1e-17, which relative_error would
    measure against the 1e-17 of the mutant itself."""
    try:
        got = ck.den_values(node, cases, "denominator")
        parts = ck.values(part, cases)
    except (MatcalcError, ValueError, TypeError, RecursionError):
        return False
    for v, g, p in zip(values, got, parts):
        v, g, p = (np.asarray(a, dtype=float) for a in (v, g, p))
        if v.shape != g.shape or not (np.all(np.isfinite(v)) and np.all(np.isfinite(g))):
            return False
        scale = max(float(np.max(np.abs(g))) if g.size else 0.0, float(np.max(np.abs(p))) if p.size else 0.0)
        if scale == 0.0 or float(np.max(np.abs(v - g))) > TOLERANCE * scale:
            return False
    return True


def code_diagnosis(ck, cases):
    """(kind, status, text, rescue) for a function whose values disagree with the derivative.

    A relation that holds on every instance explains the function best. A function right on some
    instances and wrong on others (only on square shapes, only for a batch of 2, only on its later calls,
    only close to a kink) is diagnosed on those others, saying which they are; an unstated assumption
    or a factor that varies are the weakest explanations, tried last."""
    values = [np.asarray(v, dtype=float) for v in ck.den_values(ck.claim, cases, ck.layout)]
    truth = [np.asarray(c.truth, dtype=float) for c in cases]
    if any(v.shape != t.shape for v, t in zip(values, truth)):
        found = _shape_trap(ck, cases, values, truth)
    else:
        found = value_mistake(ck, cases, values, truth, STRONG)
        wrong = [i for i, (c, v) in enumerate(zip(cases, values)) if not c.ref.error(v) < c.ref.tol]
        if found is None and 0 < len(wrong) < len(cases):
            sub = [cases[i] for i in wrong]
            found = value_mistake(ck, sub, [values[i] for i in wrong], [truth[i] for i in wrong],
                                  STRONG + (_varying_factor,))
            where = _which(ck, cases, wrong)
            head = f"right on {len(cases) - len(wrong)} of the {len(cases)} instances but wrong on {where}"
            if found is None:
                found = (None, WRONG, head + f": there it is none of the usual mistakes; the derivative is "
                         f"{ck.expected_text()}.", None)
            else:
                found = (found[0], found[1], head + "; there " + found[2], found[3])
        elif found is None:
            found = value_mistake(ck, cases, values, truth, WEAK)
    if found is None:
        expected = ck.expected_text()
        return (None, WRONG, "your function's result does not agree with the derivative, and it is none of the usual "
                "mistakes (sign, transpose, factor, missing term or mask, an unstated assumption, a NumPy "
                "shape or broadcasting trap)." + (f" matcalc's answer is {expected}." if expected else ""), None)
    kind, status, text, rescue = found
    return kind, status, said_of_code(text), rescue


def _which(ck, cases, wrong: list[int]) -> str:
    """Which instances a function is wrong on, in words."""
    bad = [cases[i] for i in wrong]
    good = [c for i, c in enumerate(cases) if i not in wrong]
    shared = ck.shared or {}
    if all(any(c.inst is e for e in shared.get("equal", ())) for c in bad):
        return (f"the {len(bad)} with every dimension of one size (a square shape, "
                f"{'; '.join(', '.join(f'{d}={n}' for d, n in c.dims.items()) for c in bad)})")
    if all(any(c.inst is e for e in shared.get("near", ())) for c in bad):
        return f"the {len(bad)} drawn close to the kinks (values at {', '.join(f'{c.inst.scale:g}×' for c in bad)} the usual spread)"
    if all(c.inst.scale > 1 for c in bad) and all(c.inst.scale <= 1 for c in good):
        return f"the other {len(bad)}, all with larger values ({', '.join(f'{c.inst.scale:g}×' for c in bad)} the usual spread)"
    if all(c.inst.scale < 1 for c in bad) and all(c.inst.scale >= 1 for c in good):
        return f"the other {len(bad)}, all with smaller values ({', '.join(f'{c.inst.scale:g}×' for c in bad)} the usual spread)"
    apart = []
    for d in sorted({d for c in cases for d in c.dims}):
        w = {c.dims.get(d) for c in bad}
        if not w & {c.dims.get(d) for c in good}:
            apart.append(f"{d} = {' or '.join(str(n) for n in sorted(w))}")
    if apart:
        return f"the {len(bad)} with {', '.join(apart)} (sizes no other instance had)"
    if ck.run is not None:
        calls = [ck.run.call_number(c.arrays) for c in bad]
        if min(calls) > max(ck.run.call_number(c.arrays) for c in good):
            return f"its later calls (from call {min(calls)} on; it was right on the calls before)"
    return f"{len(bad)} of them (sizes {'; '.join(', '.join(f'{d}={n}' for d, n in c.dims.items()) for c in bad[:3])})"


# ================================================================ right shape, wrong values


def _square_layout(ck, cases, layout, values, truth):
    square = not ck.x.is_scalar and all(v.ndim == 2 and v.shape[0] == v.shape[1] for v in values)
    if square and _all_close([v.T for v in values], truth):
        return ("layout", WRONG, f"this is the {OTHER_LAYOUT[layout]}-layout answer, the transpose of the derivative; "
                f"in {layout} layout it is {ck.expected_text()}.", None)
    return None


def value_mistake(ck, cases, values, truth, tests=None):
    """The first relation (of `tests`, in order) that the function's values bear to the truth."""
    for test in tests or STRONG + WEAK:
        found = test(ck, cases, ck.layout, values, truth)
        if found:
            return found
    return None


def _dropped_factor(ck, cases, layout, values, truth):
    """matcalc's answer with one elementwise (or scalar) factor dropped: a relu mask forgotten (mask), or
    another chain-rule factor (missing factor)."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    for path, node in _occurrences(den):
        if node.op == "fn" and node.attr == "step" and not node.is_scalar:
            # the mask is the whole factor there (the gradient of sum(relu(x + 3)) is step(x + 3))
            whole = E.ones(node.shape[0]) if node.shape[1] == 1 else E.mul(E.ones(node.shape[0]),
                                                                             E.transpose(E.ones(node.shape[1])))
            drops = [(node, whole)]
        elif node.op == "had":
            drops = [(a, E.hadamard(*(b for j, b in enumerate(node.args) if j != i))) for i, a in enumerate(node.args)]
        elif node.op == "mul":
            drops = [(a, E.mul(*(b for j, b in enumerate(node.args) if j != i))) for i, a in enumerate(node.args)
                     if (a.is_scalar and a.op != "num" and not _assumable(a) and not _dimensional(ck, a))
                     or (a.op == "fn" and a.attr == "diag" and not _assumable(a))]
        else:
            continue
        for factor, rest in drops:
            try:
                changed = _replace_at(den, path, rest)
            except (MatcalcError, ValueError, TypeError):
                continue
            if changed.shape != den.shape or not _matches(ck, changed, cases, values):
                continue
            if factor.op == "fn" and factor.attr == "step":
                arg = ck.show(factor.args[0])
                return ("mask", WRONG, f"the relu mask {ck.show(factor)} is missing: your function passes the gradient "
                        f"through every unit, also where {arg} is negative, where the chain rule multiplies by "
                        f"{ck.show(factor)} (`* ({arg} > 0)`); the derivative is {ck.expected_text()}.", None)
            how = "elementwise factor" if node.op == "had" else "factor"
            return ("missing factor", WRONG, f"your answer is missing the {how} {ck.show(factor)} that the chain rule "
                    f"multiplies in; the derivative is {ck.expected_text()}.", None)
    return None


def _code_assumption(ck, cases, layout, values, truth):
    """Right only under an assumption not stated: the function is right on instances drawn under it —
    the checker's usual ones, and one at the sizes and spread of each instance where it was wrong (a
    function wrong only on square shapes, or on its later calls, is not 'right if sum(a) = 1' for
    being right on three new instances of other sizes)."""
    bad = [c for c, v in zip(cases, values) if not c.ref.error(v) < c.ref.tol]
    for text in candidate_assumptions(ck.typed.names, exclude=set(ck.typed.dims), given=ck.assumptions.texts,
                                      roots=[ck.root], variable=ck.wrt):
        try:
            _, a = prepare(ck.expression, specs(ck.typed.names), ck.assume + text.split(" and "))
            sub = ck.cases(a, seed=SEED + 101)
            sampler = ck.sampler(a)
            for k, c in enumerate(bad[:6]):
                inst = sampler.draw(np.random.default_rng(SEED + 211 + k), dict(c.dims), c.inst.scale)
                ref = ck.witness.reference(inst.arrays) if inst is not None else None
                if ref is None:
                    sub = []
                    break
                sub.append(Case(inst.arrays, inst.dims, ref, inst))
        except MatcalcError:
            continue
        if sub and ck.matches(ck.claim, layout, sub):
            return ("assumption", ASSUMPTION, _assumption_text(ck, text), text)
    return None


def _mask_swap(ck, cases, layout, values, truth):
    """A relu mask of another layer (step(Z1) where step(Z2) is due), or inverted (Z < 0)."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    steps = [n for n in E.walk(den) if n.op == "fn" and n.attr == "step"]
    others = kink_arguments([ck.root]) + [s.args[0] for s in steps]
    for s in steps:
        arg = s.args[0]
        candidates = [a for a in others if a is not arg and a.shape == arg.shape] + [E.neg(arg)]
        for a in dict.fromkeys(candidates):
            try:
                changed = E.substitute(den, {s: E.apply("step", a)})
            except (MatcalcError, ValueError, TypeError):
                continue
            if not _matches(ck, changed, cases, values):
                continue
            if a is candidates[-1]:
                return ("mask", WRONG, f"the relu mask is inverted: your function keeps the units where "
                        f"{ck.show(arg)} < 0 and drops those where it is positive ({ck.show(s)} is due); the derivative "
                        f"is {ck.expected_text()}.", None)
            return ("mask", WRONG, f"the relu mask is of the wrong layer: your function multiplies by "
                    f"{ck.show(E.apply('step', a))} where the derivative has {ck.show(s)}; the derivative is "
                    f"{ck.expected_text()}.", None)
    return None


def _answer_transpose(ck, cases, layout, values, truth):
    """matcalc's answer with a transpose toggled on one square factor (`A2 @ g` for `A2.T @ g`). A toggle
    that merges two terms (A + A' into 2*A) is the symmetry assumption, left to the assumption test."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    try:
        terms = len(_summands(ck.simplifier.expand(den)))
    except (MatcalcError, RecursionError):
        return None
    for path, node in _occurrences(den):
        if node.is_scalar or node.shape[0] != node.shape[1] or not path \
                or node.op in ("eye", "zero", "num", "bcast") or (node.op == "fn" and node.attr == "diag"):
            continue
        toggled = E.transpose(node)
        try:
            changed = _replace_at(den, path, toggled)
            if changed is den or changed.shape != den.shape:
                continue
            if len(_summands(ck.simplifier.expand(changed))) < terms:
                continue
        except (MatcalcError, ValueError, TypeError, RecursionError):
            continue
        if _matches(ck, changed, cases, values):
            return ("transpose", WRONG, f"a transpose is wrong: your function uses {ck.show(toggled)} where the "
                    f"derivative has {ck.show(node)}; the derivative is {ck.expected_text()}.", None)
    return None


def _answer_sign(ck, cases, layout, values, truth):
    """matcalc's answer with one term of an inner sum (or a function's argument) of the other sign."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    for path, node in _occurrences(den):
        if not path:
            continue
        edits = []
        if node.op == "fn":
            edits.append(E.apply(node.attr, E.neg(node.args[0])))
        if node.op == "add":
            edits += [E.add(*(E.neg(t) if j == i else t for j, t in enumerate(node.args))) for i in range(len(node.args))]
        for new in edits:
            try:
                changed = _replace_at(den, path, new)
            except (MatcalcError, ValueError, TypeError):
                continue
            if changed.shape == den.shape and _matches(ck, changed, cases, values):
                return ("sign", WRONG, f"a sign is wrong inside: your function computes {ck.show(new)} where the "
                        f"derivative has {ck.show(node)}; the derivative is {ck.expected_text()}.", None)
    return None


def _row_softmax_variants(Z):
    """softmax_rows as NumPy code gets it wrong with the row sums (and maxima) of shape (m,) instead of
    (m, 1): broadcast along the rows, so entry (i, j) meets row j's value (only a square Z runs)."""
    e_right_shift = np.exp(Z - Z.max(axis=1, keepdims=True))
    e_plain = np.exp(Z - Z.max())
    e_wrong_shift = np.exp(Z - Z.max(axis=1))
    return [e_right_shift / e_right_shift.sum(axis=1), e_plain / e_plain.sum(axis=1),
            e_wrong_shift / e_wrong_shift.sum(axis=1)]


def _broadcast_rows(ck, cases, layout, values, truth):
    """A broadcast that hides a wrong shape: a row softmax divided by its row sums without keepdims."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    for node in E.walk(den):
        if not (node.op == "fn" and node.attr == "softmax_rows" and node.shape[0] == node.shape[1]):
            continue
        stand = E.sym(STAND_IN, node.shape)
        try:
            plan = compile_nodes({"v": E.substitute(den, {node: stand})}, ck.dim_scalars)
            args = ck.values(node.args[0], cases)
            with np.errstate(all="ignore"):
                variants = [_row_softmax_variants(np.asarray(z, dtype=float)) for z in args]
                for k in range(3):
                    got = [plan(**{**c.arrays, STAND_IN: v[k]})["v"] for c, v in zip(cases, variants)]
                    if _all_close(values, got):
                        m = E.dim_text(node.shape[0])
                        return ("broadcast", WRONG, f"a broadcast hides a wrong shape: your function's row softmax "
                                f"divides entry (i, j) by row j's sum instead of row i's — `np.sum(e, axis=1)` without "
                                f"keepdims=True is an {m}-vector, which NumPy broadcasts along the rows of the square "
                                f"{m}×{m} array without an error; keepdims=True (an ({m}, 1) column) was meant. The "
                                f"derivative is {ck.expected_text()}.", None)
        except (MatcalcError, ValueError, TypeError, KeyError):
            continue
    return None


STRONG = (_square_layout, _zero_claim, _sign_or_factor, _dropped_factor, _mask_swap, _terms, _answer_transpose,
          _broadcast_rows, _answer_sign)
WEAK = (_code_assumption, _varying_factor)


# ================================================================ the wrong shape


def _consequence(wrt: str, want: tuple, got: tuple, dims: dict, fixed) -> str:
    try:
        both = np.broadcast_shapes(want, got)
    except ValueError:
        return f" (an update {wrt} - lr*g raises: the shapes do not broadcast)"
    if both != want:
        return f" (an update {wrt} - lr*g would silently have shape {np_shape(both, dims, fixed)})"
    return ""


def _column_sum(den):
    """matcalc's answer as c*M*ones(n), a sum over one axis of M: (scalars, M) or None."""
    if den.op != "mul" or den.args[-1].op != "ones":
        return None
    scalars = [a for a in den.args if a.is_scalar]
    chain = [a for a in den.args[:-1] if not a.is_scalar]
    if not chain:
        return None
    return scalars, E.mul(*chain)


def _shape_trap(ck, cases, values, truth):
    dims, fixed = cases[0].dims, _fixed(ck)
    v0, t0 = values[0], truth[0]
    # shapes shown as the user's code has them (numerator layout: the transpose of the checker's)
    flip = ck.layout == "numerator"
    got = np_shape(v0.T.shape if flip and v0.ndim == 2 else v0.shape, dims, fixed)
    want = np_shape(t0.T.shape if flip and t0.ndim == 2 else t0.shape, dims, fixed)
    wrt, expected = ck.wrt, ck.expected_text()
    layout, other = ck.layout, OTHER_LAYOUT[ck.layout]
    if all(v.ndim == 2 and t.ndim == 2 and v.shape == t.shape[::-1] for v, t in zip(values, truth)):
        flipped = [v.T for v in values]
        if _all_close(flipped, truth):
            return ("layout", WRONG, f"this is the {other}-layout answer ({shape_phrase(ck._wanted_shape(other))}, "
                    f"an array of shape {got}); in {layout} layout it is {expected} "
                    f"({ck.describe_shape(layout)}, shape {want}).", None)
        found = value_mistake(ck, cases, flipped, truth)
        note = f" It is also laid out as the {other}-layout answer (shape {got} where {want} is due)."
        if found:
            return found[0], found[1], found[2] + note, found[3]
        return ("layout", WRONG, f"your function's result is wrong in value as well as in layout:{note} The derivative "
                f"is {expected}.", None)
    if all(v.size == t.size and np.squeeze(v).shape == np.squeeze(t).shape for v, t in zip(values, truth)):
        reshaped = [v.reshape(t.shape) for v, t in zip(values, truth)]
        what = ("a column" if v0.ndim == 2 and v0.shape[1] == 1 else "a row" if v0.ndim == 2 and v0.shape[0] == 1
                else "an array")
        shape_words = (f"{what} of shape {got} where the gradient has shape {want}"
                       + (f", {wrt}'s shape" if t0.shape == np.shape(cases[0].arrays.get(wrt)) else "")
                       + _consequence(wrt, t0.shape, v0.shape, dims, fixed))
        if _all_close(reshaped, truth):
            how = "reshape(-1, 1), keepdims=True or [:, None]" if v0.ndim > t0.ndim else "a missing axis"
            return ("shape-n1", WRONG, f"the numbers are right, the shape is not: your function returns "
                    f"{shape_words}; {how} made it. The derivative is {expected}.", None)
        found = value_mistake(ck, cases, reshaped, truth)
        if found:
            return found[0], found[1], found[2] + f" Besides, it is {shape_words}.", found[3]
        return ("shape-n1", WRONG, f"your function returns {shape_words}, and its values are wrong as well; the "
                f"derivative is {expected}.", None)
    if all(v.size == 1 for v in values) and t0.size > 1:
        totals = [float(t.sum()) for t in truth]
        if all(abs(float(v.reshape(())) - s) <= TOLERANCE * max(float(np.abs(t).sum()), 1e-300)
               for v, s, t in zip(values, totals, truth)):
            axis = ""
            column = _column_sum(ck.derivation.denominator) if ck.derivation is not None else None
            if column is not None:
                n = ck.derivation.denominator.args[-1].shape[0]
                axis = f", np.sum(..., axis=0) over the {E.dim_text(n)} rows,"
            return ("sum-axis", WRONG, f"np.sum without axis: your function returns one number (the sum of every "
                    f"entry, {float(values[0].reshape(())):.3g} here) where the gradient is an array of shape {want}; "
                    f"the sum over one axis{axis} was meant. An update {wrt} - lr*g broadcasts the one number over "
                    f"every entry without an error. The derivative is {expected}.", None)
        return ("shape", WRONG, f"your function returns one number where the gradient is an array of shape {want} "
                f"({ck.describe_shape(layout)}); the derivative is {expected}.", None)
    if all(v.ndim == 1 and t.ndim == 1 for v, t in zip(values, truth)) and v0.size != t0.size:
        column = _column_sum(ck.derivation.denominator) if ck.derivation is not None else None
        if column is not None:
            scalars, M = column
            try:
                other_sum = E.mul(*scalars, E.transpose(M), E.ones(M.shape[0]))
                if _matches_on_scale(ck, other_sum, M, cases, values):
                    rows = ck.show(ck.simplifier(E.transpose(M)))
                    return ("sum-axis", WRONG, f"np.sum over the wrong axis: your function returns an array of shape "
                            f"{got}, the sum of each row of {rows} (axis=1), where the gradient is the {want} vector "
                            f"of its column sums (axis=0, over the {E.dim_text(M.shape[1])} rows); the derivative is "
                            f"{expected}.", None)
            except (MatcalcError, ValueError, TypeError):
                pass
        return ("shape", WRONG, f"your function returns an array of shape {got} where the gradient has shape {want} "
                f"({ck.describe_shape(layout)}); the derivative is {expected}.", None)
    if t0.ndim == 1 and v0.ndim == 2 and t0.shape[0] in v0.shape:
        diagonal = ""
        if v0.shape[0] == v0.shape[1] and _all_close([np.diag(v) for v in values], truth):
            diagonal = " Its diagonal is the gradient."
        n = np_shape(t0.shape, dims, fixed)[1:-2]
        return ("broadcast", WRONG, f"a broadcast hides a wrong shape: your function returns an array of shape {got} "
                f"where the gradient is the 1-D {want}: a column ({n}, 1) met a 1-D ({n},) array (x.reshape(-1, 1) "
                f"- y) and NumPy broadcast them into the matrix of every pair, without an error.{diagonal} Keep the "
                f"vectors 1-D (or both columns). The derivative is {expected}.", None)
    return ("shape", WRONG, f"your function returns an array of shape {got} where the gradient has shape {want} "
            f"({ck.describe_shape(layout)}){_consequence(wrt, t0.shape, v0.shape, dims, fixed)}; the derivative is "
            f"{expected}.", None)


# ================================================================ several gradients


def computed_from(ck, arrays: dict, altered: dict, value) -> bool:
    """Whether `value` is matcalc's answer evaluated with the inputs a call changed in place."""
    if ck.derivation is None:
        return False
    from ..checker import to_den

    try:
        (got,) = ck.den_values(ck.derivation.denominator, [{**arrays, **altered}], "denominator")
    except (MatcalcError, ValueError, TypeError):
        return False
    return _all_close([to_den(value, ck.layout == "numerator")], [got])


def wrong_order(checkers, judged, names) -> tuple[str, dict] | None:
    """The gradients right but in each other's places (a tuple (db, dW) for wrt (W, b), swapped keys)."""
    from ..checker import to_den

    wrong = [w for w in names if not judged[w][0].ok]
    placed = {}
    for i in wrong:
        ck = checkers[i]
        cases_i = judged[i][1][:3]
        keys = [ck.run._key(c.arrays) for c in cases_i]
        values = [to_den(ck.run.value(i, c.arrays, c.dims), ck.layout == "numerator") for c in cases_i]
        for j in names:
            if j == i:
                continue
            cases_j = judged[j][1][:3]
            if [ck.run._key(c.arrays) for c in cases_j] != keys:
                continue
            truth = [c.truth for c in cases_j]
            if all(np.shape(v) == np.shape(t) for v, t in zip(values, truth)) and _all_close(values, truth):
                placed[i] = j
                break
    if not wrong or set(placed) != set(wrong) or sorted(placed.values()) != sorted(wrong):
        return None
    where = "; ".join(f"what it returns for {i} is the gradient for {j}" for i, j in placed.items())
    return (f"the gradients are right but in the wrong places: {where}. The order asked for is "
            f"({', '.join(names)}): a tuple in that order, or a dict keyed by those names.", placed)


__all__ = ["code_diagnosis", "value_mistake", "wrong_order", "computed_from", "np_shape", "said_of_code"]
