"""Where an expression is defined, read from its structure — so the checker draws names as widely as it may.

A checker that draws every name under a `log` positive never sees a ReLU switch off in
`log(1 + relu(W*x))`, and then a claim missing its `step(W*x)` factor passes. So the sampler restricts a
name only where the expression is undefined without it: the argument of `log` or `sqrt` needs nothing of
its names when it is positive for every real input (`1 + relu(..)`, `1 + x.^2`, `exp(..)`) or positive
except on a set of measure zero (`x'*x`, `abs(x)`, `norm2(x)`), which random instances never hit.

The reasoning is a small sign lattice over the DAG; what each function guarantees is the `range` column
of rules/functions.toml, so the code names no function:

    POSITIVE  > 0 everywhere                NONNEG_AE  >= 0, zero only on a null set
    NONNEG    >= 0, zero on an open set      None       nothing known

It is conservative: anything it cannot show leaves the names restricted, as before.
"""

from __future__ import annotations

from fractions import Fraction

from .. import budget as _budget
from ..language.expr import Node, add, mul, num, transpose, walk
from ..language.functions import AbstractRow
from ..language.functions import row as function_row
from ..tables import functions, operators

POSITIVE, NONNEG_AE, NONNEG = "positive", "nonnegative-ae", "nonnegative"
_RANK = {POSITIVE: 3, NONNEG_AE: 2, NONNEG: 1, None: 0}
_BY_RANK = {v: k for k, v in _RANK.items()}


def _weakest(signs) -> str | None:
    return _BY_RANK[min(_RANK[s] for s in signs)]


def _sum_sign(signs: list) -> str | None:
    """A sum of nonnegative terms is positive if one term is, zero-free a.e. if one term is."""
    if any(s is None for s in signs):
        return None
    return _BY_RANK[max(_RANK[s] for s in signs)]


def _product_sign(signs: list) -> str | None:
    """An entrywise product of nonnegative factors: as weak as its weakest factor."""
    if any(s is None for s in signs):
        return None
    return _weakest(signs)


def _is_gram(factors: tuple[Node, ...]) -> bool:
    """u'*u, x'*A'*A*x: a product equal to its own transpose factor by factor, with an even number of
    factors — a sum of squares, so >= 0 and zero only where a vector vanishes."""
    n = len(factors)
    return n % 2 == 0 and all(transpose(factors[i]) is factors[n - 1 - i] for i in range(n // 2))


def _constant_value(t: Node):
    """c for the constant c, c*ones(n) or a broadcast c; else None."""
    if t.op == "num":
        return t.attr
    if t.op == "ones":
        return Fraction(1)
    if t.op == "bcast" and t.args[0].op == "num":
        return t.args[0].attr
    if t.op == "mul" and len(t.args) == 2 and t.args[0].op == "num" and t.args[1].op == "ones":
        return t.args[0].attr
    return None


def _bounded_difference(args, signs) -> str | None:
    """c - k*f(u) with f's values in [0, U] (the `upper` column) and k*U <= c: `1 - sigmoid(u)` >= 0."""
    room = sum((v for v in map(_constant_value, args) if v is not None), Fraction(0))
    for t, sign in zip(args, signs):
        if _constant_value(t) is not None or sign is not None:
            continue                                     # a constant, or a term already known >= 0
        if not (t.op == "mul" and len(t.args) == 2 and t.args[0].op == "num" and t.args[0].attr < 0
                and t.args[1].op == "fn"):
            return None
        row = function_row(t.args[1].attr)
        if row.upper is None or row.range not in (POSITIVE, NONNEG, NONNEG_AE):
            return None
        room += t.args[0].attr * Fraction(row.upper)
    return NONNEG if room >= 0 else None


class SignAnalysis:
    """The sign of every node of some roots, given the names known positive (assumptions)."""

    def __init__(self, positive_names=(), probability_names=()):
        self.positive = set(positive_names) | set(probability_names)
        self._memo: dict[Node, str | None] = {}

    def __call__(self, root: Node) -> str | None:
        for node in walk(root):
            if node not in self._memo:
                self._memo[node] = self._sign(node)
        return self._memo[root]

    def _sign(self, node: Node) -> str | None:
        op, args = node.op, node.args
        arg_signs = [self._memo.get(a) for a in args]
        if op == "sym":
            return POSITIVE if node.attr in self.positive else None
        if op == "num":
            return POSITIVE if node.attr > 0 else NONNEG if node.attr == 0 else None
        if op == "ones":
            return POSITIVE
        if op in ("eye", "zero"):
            return NONNEG
        if op in ("T", "bcast"):
            return arg_signs[0]
        if op == "add":
            return _sum_sign(arg_signs) or _bounded_difference(args, arg_signs)
        if op == "had":
            return _product_sign(arg_signs)
        if op == "mul":
            if node.is_scalar and _is_gram(args):
                return NONNEG_AE
            return _product_sign(arg_signs)
        if op in ("pow", "epow"):
            return self._power_sign(arg_signs[0], Fraction(node.attr))
        if op == "vpow":                       # x.^p, any real p: positive where the base is
            return arg_signs[0] if arg_signs[0] in (POSITIVE, NONNEG_AE) else None
        if op == "fn":
            return self._function_sign(node.attr, arg_signs[0])
        return None

    @staticmethod
    def _power_sign(base: str | None, p: Fraction) -> str | None:
        if base == POSITIVE:
            return POSITIVE
        if p.denominator == 1 and p.numerator % 2 == 0:
            return NONNEG_AE if base in (None, NONNEG_AE) else NONNEG if p > 0 else None
        if base == NONNEG_AE:
            return NONNEG_AE
        if base == NONNEG and p > 0:
            return NONNEG
        return None

    @staticmethod
    def _function_sign(name: str, arg: str | None) -> str | None:
        rng = function_row(name).range
        if rng == "of-argument":
            return arg
        if rng == NONNEG_AE and arg == NONNEG:
            return NONNEG          # abs(relu(x)) is zero wherever relu(x) is
        return None if rng == "real" else rng


class _Rows:
    """`table[name]`: a function's row, a declared abstract function's too."""

    def __getitem__(self, name: str):
        return function_row(name)


def positive_needs(roots, positive_names=(), probability_names=()) -> set[str]:
    """The names that must be drawn positive for the roots to be defined: the names under a `log` or
    `sqrt` whose argument is not positive (a.e.) by structure — and not behind a function whose values
    are positive anyway (log(softmax(W*x)) needs neither W nor x positive)."""
    signs = SignAnalysis(positive_names, probability_names)
    table = _Rows()
    need: set[str] = set()
    for root in roots:
        _budget.check("finding the domains")
        for node in walk(root):
            if not (node.op == "fn" and table[node.attr].domain == "positive") and not positive_base(node):
                continue
            if signs(node.args[0]) in (POSITIVE, NONNEG_AE):
                continue
            stack = [node.args[0]]
            while stack:
                n = stack.pop()
                if n.op == "sym":
                    need.add(n.attr)
                elif not (n.op == "fn" and (table[n.attr].range == POSITIVE or isinstance(table[n.attr], AbstractRow))
                          ) and signs(n) != POSITIVE:     # an abstract f under a log: the checker draws it > 0
                    stack.extend(n.args)
    return need


def kinked_functions() -> tuple[str, ...]:
    """The functions whose derivative jumps somewhere: the rows of rules/functions.toml with a `kink`."""
    return tuple(name for name, row in functions().items() if row.kink)


def kink_of(node: Node) -> Node | None:
    """The kink argument of one call, from its row's `kink` column (an expression in its argument x, and y
    for a second one): `x` for relu(W*x + b) gives W*x + b; None for a function without a kink."""
    if node.op != "fn":
        return None
    text = function_row(node.attr).kink.strip()
    if not text or text == "tie":          # a tie of two entries is no sign change (tie_arguments)
        return None
    if text == "x":
        return node.args[0]
    if text == "difference" and len(node.args) > 1:     # max(a, b): a - b
        return add(node.args[0], mul(num(-1), node.args[1]))
    from .adjoint import instantiate

    env = {"x": node.args[0]}
    if len(node.args) > 1:
        env["y"] = node.args[1]
    arg = node.args[0]
    return instantiate(text, env, {"m": arg.shape[0], "c": arg.shape[1]})


def kink_arguments(roots) -> list[Node]:
    """The kink arguments of every piecewise call in the roots — every row of rules/functions.toml with a
    `kink` (relu, abs, step, sign and norm1 with "x"; max(a, b) and min(a, b) with "difference", a - b):
    where a derivative jumps at 0, so instances must see both signs of them (a missing step() shows only
    where the ReLU is off), stay clear of 0, and are placed next to them (check/kinks.py)."""
    out: list[Node] = []
    seen: set[int] = set()           # nodes are hash-consed: one identity per expression
    for root in roots:
        _budget.check("finding the kinks")
        for node in walk(root):
            k = kink_of(node)
            if k is not None and id(k) not in seen:
                seen.add(id(k))
                out.append(k)
    return out


def tie_arguments(roots) -> list[Node]:
    """The arguments of functions whose row says `kink = "tie"` (max(X), min(X), ismax): their derivative
    jumps where two entries tie for the maximum or the minimum, so instances keep the two largest
    entries, and the two smallest, apart."""
    out: list[Node] = []
    for root in roots:
        for node in walk(root):
            if node.op == "fn" and function_row(node.attr).kink == "tie" and node.args[0] not in out:
                out.append(node.args[0])
    return out


def positive_base(node: Node) -> bool:
    """An operation whose operand must be positive to be defined (x.^p for a symbol p: operators.toml's
    `domain` column), read for its first operand."""
    if node.op in ("fn", "sym", "num"):
        return False
    row = operators().get((node.op, "base"))
    return row is not None and row.domain == "positive"


KINKED = kinked_functions   # the old list of names, now read from the rows (a function, so it is never stale)

__all__ = ["SignAnalysis", "positive_needs", "kink_arguments", "kink_of", "kinked_functions", "tie_arguments",
           "positive_base", "POSITIVE", "NONNEG_AE", "NONNEG"]
