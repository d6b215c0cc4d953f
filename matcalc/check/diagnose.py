"""What a wrong claim got wrong: the usual mistakes, each a relation between the claim and the truth.

Tried in turn, cheapest and most specific first: the other layout (a transpose), a sign, a constant or
dimension factor (2, 1/2, m, 1/m), a missing or an extra term (against the summands of the simplified
answer, expanded), `*` written for `.*` or the reverse, a transpose inside, an assumption the user did
not state (symmetric A, sum(y) = 1), a chain-rule factor dropped (step(.) of a ReLU), and last a scalar
factor that varies. Each relation is tested on the instances' true values, never on matcalc's word alone.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..engine.derive import derive as derive_expression
from ..engine.derive import kind_of, prepare
from ..engine.simplify import Simplifier
from ..errors import MatcalcError
from ..language import expr as E
from ..language.expr import Node
from ..language.printing import to_text_bounded as to_text   # a large claim in its named form, never inlined
from .checker import (
    OTHER_LAYOUT,
    SEED,
    Case,
    Checker,
    factor_words,
    finite,
    number_text,
    shape_phrase,
    specs,
)
from .truth import relative_error
from .verdict import ASSUMPTION, WRONG

TOLERANCE = 1e-6   # relations between a wrong claim and the truth are judged at finite differences' accuracy


def _error(a, b) -> float:
    return relative_error(a, b)


def _shape_diagnosis(ck: Checker) -> str:
    """Name the derivative's shape in both layouts next to the claim's."""
    f, x = ck.root, ck.x
    what = kind_of(f, x).split("-by-")[0]
    den, num = ck.describe_shape("denominator"), ck.describe_shape("numerator")
    layouts = (f"{den} in denominator layout" + (f", {num} in numerator layout" if num != den else " (in either layout)"))
    return (f"your answer is {shape_phrase(ck.claim.shape)}, which cannot be the derivative: the derivative "
            f"of the {what} {ck.expression} with respect to {ck.wrt} ({shape_phrase(x.shape)}) is {layouts}.")


def _diagnose(ck: Checker, cases: list[Case], claim_layout: str, right_values: bool):
    """The first of the usual mistakes that explains the claim's values: (kind, status, text, rescue)."""
    other = OTHER_LAYOUT[ck.layout]
    expected = ck.expected_text()
    general = f" matcalc's answer is {expected}." if expected else ""
    if claim_layout != ck.layout:
        # the claim's shape is the other layout's
        if right_values:
            return ("transpose", WRONG, _layout_text(ck, claim_layout), None)
        found = _relations(ck, cases, claim_layout)
        layout_note = (f" Your answer is also laid out as the {claim_layout}-layout answer "
                       f"({shape_phrase(ck.claim.shape)}); in {ck.layout} layout the derivative is "
                       f"{ck.describe_shape(ck.layout)}.")
        if found and found[1] == ASSUMPTION:
            # not right even then: the layout is wrong too
            return ("transpose", WRONG, _layout_text(ck, claim_layout).rstrip(".") + "; besides, " + found[2],
                    None)
        if found:
            kind, status, text, rescue = found
            return kind, status, text + layout_note, rescue
        return ("transpose", WRONG, "your answer is wrong in value as well as in layout:" + layout_note + general,
                None)
    square = ck.den_shape[0] == ck.den_shape[1] and ck.den_shape != E.SCALAR and not ck.x.is_scalar
    if square and ck.matches(ck.claim, other, cases):
        return ("transpose", WRONG, _layout_text(ck, other, square=True), None)
    found = _relations(ck, cases, claim_layout)
    if found:
        return found
    return (None, WRONG, "your answer does not agree with the derivative, and it is none of the usual "
            "mistakes (sign, transpose, factor, missing term, .* for *, an unstated assumption)." + general,
            None)


def _layout_text(ck: Checker, claim_layout: str, square: bool = False) -> str:
    """'this is the numerator-layout answer; in denominator layout it is …'."""
    expected = ck.expected_text()
    if square:
        return (f"this is the {claim_layout}-layout answer, the transpose of the derivative; in {ck.layout} "
                f"layout it is {expected}.")
    return (f"this is the {claim_layout}-layout answer ({shape_phrase(ck.claim.shape)}); in {ck.layout} "
            f"layout it is {expected} ({ck.describe_shape(ck.layout)}).")


EDIT_NODES = 300   # a claim larger than this (a deep network's, through definitions) is not searched edit by edit


def _relations(ck: Checker, cases: list[Case], layout: str):
    """Try each relation between the claim and the truth, cheapest and most specific first."""
    values = ck.den_values(ck.claim, cases, layout)
    truth = [c.truth for c in cases]
    large = len(E.walk(ck.claim)) > EDIT_NODES     # one edit at a time over a large claim costs a plan each
    for test in (_zero_claim, _sign_or_factor, _missing_factor, _terms, _hadamard, _inner_transpose, _assumption,
                 _inner_sign, _varying_factor, _difference):
        if large and test in (_hadamard, _inner_transpose, _inner_sign):
            continue
        found = test(ck, cases, layout, values, truth)
        if found:
            return found
    return None


def _zero_claim(ck, cases, layout, values, truth):
    """A claim of 0 (or one that is zero on every instance) against a derivative that is not — often a
    derivative too small to notice, such as 1e-7*x'*A*x's."""
    if not all(finite(v) and not np.any(v) for v in values):
        return None
    size = max(float(np.max(np.abs(t))) for t in truth)
    return ("missing term", WRONG, f"your answer is zero, but the derivative is not (entries up to {size:.2g} "
            f"on these instances); the derivative is {ck.expected_text()}.", None)


def _difference(ck, cases, layout, values, truth):
    """What the claim lacks, as one expression: matcalc's answer minus the claim, simplified — named as
    a missing term when it is short and accounts exactly for the gap (`(x - a)'*A*(x - a)` claimed as
    `(A + A')*x` lacks `-(A + A')*a`)."""
    if ck.derivation is None:
        return None
    den_claim = ck.claim if layout == "denominator" else E.transpose(ck.claim)
    try:
        gap = ck.simplifier(E.sub(ck.derivation.denominator, den_claim))
    except (MatcalcError, RecursionError, ValueError):
        return None
    text = to_text(ck.in_layout(gap))
    if E.is_zero(gap) or len(text) > 60:
        return None
    gap_values = ck.den_values(gap, cases, "denominator")
    if not _all_close([v + g for v, g in zip(values, gap_values)], truth):
        return None
    own = set(_term_candidates(ck.simplifier, den_claim))
    if all(E.neg(t) in own or ck.simplifier(E.neg(t)) in own for t in _summands(gap)):
        extra = to_text(ck.in_layout(ck.simplifier(E.neg(gap))))
        return ("extra term", WRONG, f"your answer has {extra} too many: the derivative is your answer minus "
                f"{extra}, which is {ck.expected_text()}.", None)
    return ("missing term", WRONG, f"your answer is missing {text}: the derivative is your answer plus {text}, "
            f"which is {ck.expected_text()}.", None)


def _inner_sign(ck, cases, layout, values, truth):
    """A sign slip inside a nested factor: one term of an inner sum with the wrong sign (`1 + tanh(z).^2`
    where the derivative has `1 - tanh(z).^2`)."""
    edits = []
    for path, node in _occurrences(ck.claim):
        if node.op == "fn" and path and len(node.args) == 1:
            flipped = E.fn(node.attr, E.neg(node.args[0]), node.shape)
            edits.append((path, flipped, to_text(node), to_text(flipped)))
        if node.op != "add" or not path:
            continue
        for i, term in enumerate(node.args):
            flipped = E.add(*(E.neg(t) if j == i else t for j, t in enumerate(node.args)))
            edits.append((path, flipped, to_text(node), to_text(flipped)))
    for changed, (old, new) in _variants(ck, edits):
        if ck.matches(changed, layout, cases):
            return ("sign", WRONG, f"a sign is wrong inside your answer: {old} should be {new}; the derivative "
                    f"is {ck.expected_text() or to_text(changed)}.", None)
    return None


def _all_close(values, targets) -> bool:
    return all(_error(v, t) < TOLERANCE for v, t in zip(values, targets))


def _ratios(values, targets) -> list[float] | None:
    """k_i with values_i = k_i * targets_i on every instance (a scalar multiple), else None. Both are
    scaled by the target's size first, so huge or tiny derivatives do not overflow the fit."""
    ks = []
    for v, t in zip(values, targets):
        v, t = np.asarray(v, dtype=float), np.asarray(t, dtype=float)
        if v.shape != t.shape or not (finite(v) and finite(t)):
            return None
        size = float(np.max(np.abs(t))) if t.size else 0.0
        if size == 0.0:
            return None
        v, t = v / size, t / size
        k = float(np.sum(v * t)) / float(np.sum(t * t))
        if abs(k) < 1e-12 or _error(v / k, t) >= TOLERANCE:
            return None
        ks.append(k)
    return ks or None


def _same(ks: list[float]) -> bool:
    return all(abs(k - ks[0]) <= 1e-6 * abs(ks[0]) for k in ks)


def _factor(ks: list[float], dims: list[dict]):
    """What a list of per-instance ratios is: ('constant', k), ('dimension', d, power, rest), or
    ('varying', ks) — a dimension when the ratio follows one dimension's size across instances
    (`dims`: each instance's dimension sizes)."""
    if _same(ks):
        return ("constant", ks[0])
    for d in sorted({d for sizes in dims for d in sizes}):
        sizes = [float(each.get(d, math.nan)) for each in dims]
        for power in (1, -1):
            rest = [k / (n ** power) for k, n in zip(ks, sizes)]
            if _same(rest):
                return ("dimension", d, power, rest[0])
    names = sorted({d for sizes in dims for d in sizes})
    for a in names:
        for b in names:
            if a == b:
                continue
            rest = [k * each.get(b, math.nan) / each.get(a, math.nan) for k, each in zip(ks, dims)]
            if _same(rest) and abs(rest[0] - 1) < 1e-6:
                return ("ratio", a, b)
    return ("varying", ks)


def _factor_text(ck: Checker, f) -> str:
    """A ratio in words: 'off by a factor of 2: it is twice', 'off by a factor of m: the batch mean's 1/m'."""
    if f[0] == "constant":
        k = f[1]
        sign = "has the wrong sign and " if k < 0 else ""
        return f"{sign}is off by a factor of {number_text(abs(k))}: it is {factor_words(k)} what it should be"
    if f[0] == "dimension":
        _, d, power, rest = f
        factor = d if power == 1 else f"1/{d}"
        if abs(rest - 1) > 1e-6:
            factor = f"{number_text(rest)}*{factor}"
        why = ""
        if d in ck.typed.dims or d in ck.user_dims():
            why = (f": the batch mean's 1/{d} is missing" if power == 1
                   else f": the batch mean's 1/{d} is applied twice")
        meaning = ck.dim_phrase(d)
        return f"is off by a factor of {factor}{why}" + (f" ({meaning})" if meaning != d else "")
    if f[0] == "ratio":
        _, a, b = f
        return (f"is off by a factor of {a}/{b}: it has 1/{b} where the derivative has 1/{a} "
                f"({ck.dim_phrase(b)}; {ck.dim_phrase(a)})")
    shown = ", ".join(number_text(k) for k in f[1])
    return (f"is off by a scalar factor that changes from instance to instance ({shown}): a scalar factor "
            f"is missing or extra")


def _ratio_words(f) -> str:
    """'2 times', 'm times', '1/m times': a factor from _factor, as a multiplier."""
    if f[0] == "constant":
        return f"{number_text(f[1])} times"
    _, d, power, rest = f
    factor = d if power == 1 else f"1/{d}"
    return (f"{number_text(rest)}*{factor}" if abs(rest - 1) > 1e-6 else factor) + " times"


def _sign_or_factor(ck, cases, layout, values, truth, varying: bool = False):
    """claim = k * derivative, k a constant (-1: a sign error) or a dimension such as m or 1/m.

    A factor that varies otherwise is weak evidence (any c*x is a multiple of a gradient along x),
    so it is tried last, by _varying_factor."""
    ks = _ratios(values, truth)
    if ks is None:
        return None
    expected = ck.expected_text()
    f = _factor(ks, [c.dims for c in cases])
    if (f[0] == "varying") != varying or (f[0] == "constant" and abs(f[1] - 1) < 1e-6):
        return None
    if f[0] == "constant" and abs(f[1] + 1) < 1e-6:
        return ("sign", WRONG, f"the sign is wrong: your answer is the negative of the derivative, "
                f"which is {expected}.", None)
    return ("factor", WRONG, f"your answer {_factor_text(ck, f)}; the derivative is {expected}.", None)


def _varying_factor(ck, cases, layout, values, truth):
    """The weakest relation, tried last: a scalar factor that changes from instance to instance."""
    return _sign_or_factor(ck, cases, layout, values, truth, varying=True)


def _term_relation(values, target, own, other, cases=None):
    """How a sum differs from the target by one term: ('extra' | 'sign' | 'missing' | 'twice' |
    'factor', term[, factor]).

    own: (term, values) of the checked side's summands; other: the reference side's summands."""
    if len(own) >= 2:
        for term, tv in own:
            if _all_close([v - x for v, x in zip(values, tv)], target):
                return "extra", term
            if _all_close([v - 2 * x for v, x in zip(values, tv)], target):
                return "sign", term
        if cases is not None:
            for term, tv in own:
                # the term should be k times what it is: target - (values - term) = k * term
                ks = _ratios([t - v + x for t, v, x in zip(target, values, tv)], tv)
                if ks and not (_same(ks) and abs(ks[0] - 1) < 1e-6):
                    f = _factor([1 / k for k in ks], [c.dims for c in cases])
                    if f[0] != "varying":
                        return "factor", term, f
    if len(other) >= 2:
        for term, tv in other:
            if _all_close([v + x for v, x in zip(values, tv)], target):
                return "missing", term
            if _all_close([v - x for v, x in zip(values, tv)], target):
                return "twice", term
    return None


TERM_KINDS = {"extra": "extra term", "twice": "extra term", "sign": "sign", "missing": "missing term",
              "factor": "factor"}


def _term_candidates(s: Simplifier, node: Node) -> list[Node]:
    """The summands of a sum as written and as expanded (one term may be a product of sums)."""
    out = []
    for t in _summands(node) + _summands(s.expand(node)):
        if t not in out:
            out.append(t)
    return out


def _terms(ck, cases, layout, values, truth):
    """A term missing, one too many, with the wrong sign or factor, against the sums' terms."""
    if ck.derivation is None:
        return None
    expected = ck.expected_text()
    s = ck.simplifier
    den_claim = ck.claim if layout == "denominator" else s(E.transpose(ck.claim))
    own = [(t, ck.den_values(t, cases, "denominator")) for t in _term_candidates(s, den_claim)]
    other = [] if E.is_zero(ck.claim) else \
        [(t, ck.den_values(t, cases, "denominator")) for t in _term_candidates(s, ck.derivation.denominator)]
    if len(_summands(den_claim)) < 2:
        own = [(t, v) for t, v in own if t is not den_claim] if len(own) > 1 else own
    found = _term_relation(values, truth, own, other, cases)
    if found is None:
        return None
    how, term = found[0], found[1]
    shown = _show(ck, term)
    if how == "missing":
        return "missing term", WRONG, _missing_text(ck, term, expected), None
    text = {"extra": f"your answer has an extra term, {shown}, that the derivative does not have",
            "sign": f"the term {shown} has the wrong sign",
            "twice": f"your answer has the term {shown} twice",
            "factor": f"the term {shown} " + (_factor_text(ck, found[2]) if how == "factor" else "")}[how]
    return TERM_KINDS[how], WRONG, f"{text}; the derivative is {expected}.", None


def _missing_text(ck: Checker, term: Node, expected: str) -> str:
    """'missing the A'*x term', with the reason when the term is a transpose (x'*A*x's second x)."""
    shown = _show(ck, term)
    text = f"your answer is missing the term {shown}; the derivative is {expected}."
    transposed = sorted({n.args[0].attr for n in E.walk(term) if n.op == "T" and n.args[0].op == "sym"
                         and n.args[0].shape[0] == n.args[0].shape[1] and n.args[0].attr != ck.wrt})
    if transposed:
        name = transposed[0]
        text = (f"your answer is missing the {name}' term ({shown}): {ck.wrt} appears more than once in the "
                f"expression and each occurrence contributes a term; the derivative is {expected}.")
    return text


def _summands(node: Node) -> list[Node]:
    return list(node.args) if node.op == "add" else [node]


def _show(ck: Checker, den_term: Node) -> str:
    """A denominator-layout term printed in the user's layout."""
    return to_text(ck.in_layout(den_term))


def _occurrences(root: Node, limit: int = 400):
    """Every place in the claim read as a tree (a shared subexpression once per place it is written)."""
    stack = [((), root)]
    count = 0
    while stack and count < limit:
        path, node = stack.pop()
        count += 1
        yield path, node
        for i in range(len(node.args) - 1, -1, -1):
            stack.append((path + (i,), node.args[i]))


def _replace_at(root: Node, path: tuple, new: Node) -> Node:
    """The claim with the node at `path` replaced, rebuilt with the canonicalising constructors."""
    if not path:
        return new
    args = list(root.args)
    args[path[0]] = _replace_at(args[path[0]], path[1:], new)
    return E.rebuild(root, tuple(args))


def _variants(ck: Checker, edits):
    """Apply each (path, replacement, …) edit to the claim; keep those that still type and differ."""
    for path, new, *shown in edits:
        try:
            changed = _replace_at(ck.claim, path, new)
        except (MatcalcError, ValueError, TypeError):
            continue
        if changed is ck.claim or changed.shape != ck.claim.shape:
            continue
        yield changed, shown


def _hadamard(ck, cases, layout, values, truth):
    """`*` where `.*` was needed, or the reverse: swap one product and see whether the claim is right."""
    for changed, (old, new, op_new) in _variants(ck, _product_swaps(ck.claim)):
        if ck.matches(changed, layout, cases):
            op_old = "*" if op_new == ".*" else ".*"
            what = "an elementwise (Hadamard) product" if op_new == ".*" else "a matrix product"
            return ("hadamard", WRONG, f"Hadamard versus matrix product: {old} should be {new} — the "
                    f"derivative needs {what} ({op_new}) there, not {op_old}; the derivative is "
                    f"{ck.expected_text() or to_text(changed)}.", None)
    return None


def _product_swaps(claim: Node):
    """Each product in the claim with `*` replaced by `.*` or the reverse, where the shapes allow it."""
    for path, node in _occurrences(claim):
        if node.op == "mul":
            scalars = [a for a in node.args if a.is_scalar]
            chain = [a for a in node.args if not a.is_scalar]
            for i in range(len(chain) - 1):
                a, b = chain[i], chain[i + 1]
                if a.shape == b.shape:
                    had = E.hadamard(a, b)
                    yield (path, E.mul(*scalars, *chain[:i], had, *chain[i + 2:]),
                           to_text(E.mul(a, b)), to_text(had), ".*")
        elif node.op == "had" and not node.is_scalar and node.shape[0] == node.shape[1]:
            args = node.args
            for i in range(len(args)):
                for j in range(i + 1, len(args)):
                    rest = [a for k, a in enumerate(args) if k not in (i, j)]
                    for a, b in ((args[i], args[j]), (args[j], args[i])):
                        if a.op == "epow" or b.op == "epow":
                            continue
                        product = E.mul(a, b)
                        yield (path, E.hadamard(product, *rest) if rest else product,
                               to_text(E.hadamard(a, b)), to_text(product), "*")
        elif node.op == "epow" and node.attr == 2 and node.shape[0] == node.shape[1] and not node.is_scalar:
            yield path, E.mul(node.args[0], node.args[0]), to_text(node), to_text(E.mul(node.args[0], node.args[0])), "*"


def _inner_transpose(ck, cases, layout, values, truth):
    """A transpose missing or extra on one square factor inside the claim (A for A'). A name the claim
    already writes both ways (A + A') is left to the assumption test: there the slip is symmetry."""
    plain = {n.attr for n in E.walk(ck.claim) if n.op == "sym"}
    both = {n.args[0].attr for n in E.walk(ck.claim) if n.op == "T" and n.args[0].op == "sym"} & {
        n.attr for p, n in _occurrences(ck.claim) if n.op == "sym" and not (p and _parent_is_transpose(ck.claim, p))}
    edits = []
    for path, node in _occurrences(ck.claim):
        if node.is_scalar or node.shape[0] != node.shape[1] or not path \
                or node.op in ("eye", "zero", "num", "bcast") or (node.op == "fn" and node.attr == "diag"):
            continue
        name = node.attr if node.op == "sym" else node.args[0].attr if node.op == "T" and node.args[0].op == "sym" \
            else None
        if name in both and name in plain:
            continue
        edits.append((path, E.transpose(node), to_text(node), to_text(E.transpose(node))))
    for changed, (old, new) in _variants(ck, edits):
        if ck.matches(changed, layout, cases):
            return ("transpose", WRONG, f"a transpose is wrong inside your answer: {old} should be {new}; "
                    f"the derivative is {ck.expected_text() or to_text(changed)}.", None)
    return None


def _parent_is_transpose(root: Node, path: tuple) -> bool:
    node = root
    for i in path[:-1]:
        node = node.args[i]
    return node.op == "T"


def _missing_factor(ck, cases, layout, values, truth):
    """The derivative with one elementwise (or scalar) factor dropped — a chain-rule factor such as
    the ReLU's step(W1*x + b1) forgotten."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    for path, node in _occurrences(den):
        if node.op == "had":
            drops = [(a, E.hadamard(*(b for j, b in enumerate(node.args) if j != i)))
                     for i, a in enumerate(node.args)]
        elif node.op == "mul":
            drops = [(a, E.mul(*(b for j, b in enumerate(node.args) if j != i)))
                     for i, a in enumerate(node.args)
                     if (a.is_scalar and a.op != "num" and not _assumable(a) and not _dimensional(ck, a))
                     or (a.op == "fn" and a.attr == "diag" and not _assumable(a))]
        else:
            continue
        for factor, rest in drops:
            try:
                changed = _replace_at(den, path, rest)
            except (MatcalcError, ValueError, TypeError):
                continue
            if changed.shape != den.shape:
                continue
            if _all_close(values, ck.den_values(changed, cases, "denominator")):
                how = "elementwise factor" if node.op == "had" else "factor"
                return ("missing factor", WRONG, f"your answer is missing the {how} {to_text(factor)} that the "
                        f"chain rule multiplies in; the derivative is {ck.expected_text()}.", None)
    return None


def _assumable(factor: Node) -> bool:
    """sum(y), diag(Y*ones(c)): a factor that is 1 (or I) under an assumption a person forgets to state
    (sum(y) = 1, rows of Y summing to 1) — that is the diagnosis, not a dropped chain-rule factor."""
    names = {n.attr for n in E.walk(factor) if n.op == "sym"}
    shapes_only = all(n.op in ("sym", "ones", "T", "mul", "num") or (n.op == "fn" and n.attr in ("sum", "diag"))
                      for n in E.walk(factor))
    return len(names) == 1 and shapes_only and any(n.op == "fn" for n in E.walk(factor))


def _dimensional(ck, factor: Node) -> bool:
    """1/m: a factor made of dimension sizes is a factor on a term (the batch mean's), said as such."""
    return all(n.attr in ck.dim_scalars for n in E.walk(factor) if n.op == "sym")


SIGN_SENSITIVE = ("abs", "sign", "step", "relu", "norm1")


def candidate_assumptions(names: dict[str, Node], exclude=(), given=(), roots=(), variable=None) -> list[str]:
    """Assumptions a person often uses without saying so, for the names of an expression: a vector
    sums to 1, a square matrix is symmetric, the rows of a matrix sum to 1 (one-hot), and — for a
    name under abs, sign, step, relu or norm1 — that it is positive. `variable` (the one
    differentiated) gets only the last: a constraint on it would change the derivative's meaning."""
    out = []
    for name, node in names.items():
        if name in exclude or name == variable or node.is_scalar:
            continue
        if node.is_vector:
            out += [f"sum({name}) = 1", f"{name} one-hot", f"{name} in {{-1, 1}}"]
        elif node.shape[0] == node.shape[1]:
            out.append(f"{name} symmetric")
        else:
            out.append(f"{name} one-hot")
    square = [f"{name} symmetric" for name, node in names.items() if name not in exclude and name != variable
              and not node.is_scalar and node.shape[0] == node.shape[1]]
    if len(square) > 1:
        out.append(" and ".join(square))
    signed = {n.attr for root in roots for f in E.walk(root) if f.op == "fn" and f.attr in SIGN_SENSITIVE
              for n in E.walk(f.args[0]) if n.op == "sym"}
    out.extend(f"{name} > 0" for name in names if name in signed and name not in exclude)
    given_texts = {g.replace(" ", "") for g in given}
    return [c for c in out if c.replace(" ", "") not in given_texts]


def _assumption(ck, cases, layout, values, truth):
    """Right only under an assumption not stated: re-test the claim where a candidate holds."""
    for text in candidate_assumptions(ck.typed.names, exclude=set(ck.typed.dims), given=ck.assumptions.texts,
                                      roots=[ck.root], variable=ck.wrt):
        try:
            _, a = prepare(ck.expression, specs(ck.typed.names), ck.assume + text.split(" and "))
            sub = ck.cases(a, seed=SEED + 101)
        except MatcalcError:
            continue
        if ck.matches(ck.claim, layout, sub):
            return ("assumption", ASSUMPTION, _assumption_text(ck, text), text)
    return None


def _condition(text: str) -> str:
    """An assumption in words, for the sentence 'your answer is right only if …'."""
    if " and " in text:
        return " and ".join(_condition(t) for t in text.split(" and "))
    m = re.match(r"(\w+) symmetric", text)
    if m:
        return f"{m.group(1)} is symmetric ({m.group(1)}' = {m.group(1)})"
    if text.endswith("> 0"):
        name = text.split()[0]
        return f"every entry of {name} is positive ({text})"
    if text.endswith("one-hot"):
        name = text.split()[0]
        return f"{name} is one-hot (a single 1, the rest 0{', in each row' if name[:1].isupper() else ''})"
    if " in {" in text:
        name = text.split()[0]
        return f"every entry of {name} is -1 or 1 ({text})"
    name = text[4:text.index(")")]
    return f"sum({name}) = 1 ({name} a probability or one-hot vector)"


def _assumption_text(ck: Checker, text: str) -> str:
    """'right only if A is symmetric ... in general (A + A')*x'; with what to add to assume it."""
    m = re.match(r"(\w+) symmetric$", text)
    cond = _condition(text)
    expected = ck.expected_text()
    general = f"; in general the derivative is {expected}" if expected else ""
    missing = False
    if m and ck.derivation is not None:
        try:
            special = derive_expression(ck.expression, wrt=ck.wrt, shapes=specs(ck.typed.names),
                                        assume=ck.assume + [text], layout=ck.layout)
        except MatcalcError:
            special = None
        fewer = special is not None and len(_summands(ck.simplifier.expand(special.denominator))) < \
            len(_summands(ck.simplifier.expand(ck.derivation.denominator)))
        missing = fewer and f"{m.group(1)}'" in expected
    said = "' and '".join(text.split(" and "))
    if missing:
        return (f"missing the {m.group(1)}' term: your answer is right only if {cond}, which was not "
                f"assumed{general}. If it holds, say so: assume '{said}'.")
    return (f"your answer is right only if {cond}, which was not assumed{general}. "
            f"If it holds, say so: assume '{said}'.")
