"""What the user may assume, and what it means to the engine and to the numeric checks.

An assumption does two jobs: it becomes a rewrite rule (`sum(y) = 1` rewrites `sum(y)` to 1;
`A symmetric` rewrites `A'` to `A`) and it tells the random-instance generator what to draw (a
probability vector, a symmetric or positive-definite matrix, positive entries), so that a claim true
only under the assumption is tested where the assumption holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import AssumptionError, MatcalcError
from ..language import expr as E
from .simplify import Rule, assumption_rule

FORMS = (
    "sum(y) = 1  (y a probability or one-hot vector)",
    "Y one-hot / rowsum(Y) = 1  (each row of Y sums to 1)",
    "A symmetric",
    "X invertible",
    "X positive definite",
    "x > 0",
    "y in {-1, 1}",
    "y in {0, 1}  (binary labels: y .* y = y)",
    "Q orthogonal  (Q'*Q = Q*Q' = I)",
    "D diagonal",
    "LHS = RHS  (any identity between expressions over the same names)",
)

_PROPERTY = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(?:is\s+)?(symmetric|invertible|nonsingular|positive[ -]definite|"
    r"pd|spd|one[- ]?hot|a probability vector|probability|stochastic|positive|orthogonal|diagonal)\s*$",
    re.IGNORECASE)
_POSITIVE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*>\s*0\s*$")
_PM_ONE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+\{\s*-1\s*,\s*\+?1\s*\}\s*$", re.IGNORECASE)
_BINARY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+\{\s*0\s*,\s*1\s*\}\s*$", re.IGNORECASE)
_ROWSUM = re.compile(r"^\s*rowsum\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*=\s*1\s*$")
_SUM_ONE = re.compile(r"^\s*sum\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*=\s*1\s*$")


@dataclass
class Assumptions:
    texts: list[str] = field(default_factory=list)
    symmetric: set[str] = field(default_factory=set)
    invertible: set[str] = field(default_factory=set)
    positive_definite: set[str] = field(default_factory=set)
    positive: set[str] = field(default_factory=set)
    sums_to_one: set[str] = field(default_factory=set)   # a vector summing to 1, or rows of a matrix
    one_hot: set[str] = field(default_factory=set)       # ... and one-hot, not merely summing to 1
    probability: set[str] = field(default_factory=set)   # ... and a probability vector (entries >= 0)
    plus_minus_one: set[str] = field(default_factory=set)
    binary: set[str] = field(default_factory=set)        # entries 0 or 1 (one-hot vectors are too)
    orthogonal: set[str] = field(default_factory=set)
    diagonal: set[str] = field(default_factory=set)
    equations: list[tuple[str, str]] = field(default_factory=list)
    rules: tuple[Rule, ...] = ()

    def expressions(self) -> tuple[str, ...]:
        return tuple(side for eq in self.equations for side in eq)


def parse_assumptions(texts) -> Assumptions:
    """Recognise each text (no expression is typed yet: `bind` does that with the shapes)."""
    a = Assumptions()
    for text in texts or ():
        if not isinstance(text, str) or not text.strip():
            raise AssumptionError(f"an assumption is a text such as 'sum(y) = 1'; got {text!r}")
        a.texts.append(text.strip())
        m = _PROPERTY.match(text)
        if m:
            name, prop = m.group(1), m.group(2).lower().replace("-", " ")
            if prop == "symmetric":
                a.symmetric.add(name)
            elif prop in ("invertible", "nonsingular"):
                a.invertible.add(name)
            elif prop in ("positive definite", "pd", "spd"):
                a.positive_definite.add(name)
                a.symmetric.add(name)
                a.invertible.add(name)
            elif prop == "positive":
                a.positive.add(name)
            elif prop == "orthogonal":
                a.orthogonal.add(name)
                a.invertible.add(name)
            elif prop == "diagonal":
                a.diagonal.add(name)
                a.symmetric.add(name)
            else:
                a.sums_to_one.add(name)
                (a.one_hot if prop.startswith("one") else a.probability).add(name)
            continue
        m = _POSITIVE.match(text)
        if m:
            a.positive.add(m.group(1))
            continue
        m = _PM_ONE.match(text)
        if m:
            a.plus_minus_one.add(m.group(1))
            continue
        m = _BINARY.match(text)
        if m:
            a.binary.add(m.group(1))
            continue
        m = _ROWSUM.match(text) or _SUM_ONE.match(text)
        if m:
            a.sums_to_one.add(m.group(1))
            continue
        if text.count("=") == 1 and "==" not in text:
            lhs, rhs = (s.strip() for s in text.split("="))
            if lhs and rhs:
                a.equations.append((lhs, rhs))
                continue
        raise AssumptionError(f"cannot read the assumption {text!r}; the forms understood are:\n  "
                              + "\n  ".join(FORMS))
    return a


def bind(a: Assumptions, names: dict[str, E.Node], extra_nodes: list[E.Node]) -> Assumptions:
    """Turn the recognised assumptions into rewrite rules over the typed names."""
    rules: list[Rule] = []
    mentioned = (a.symmetric | a.invertible | a.positive_definite | a.positive | a.sums_to_one
                 | a.plus_minus_one | a.binary | a.orthogonal | a.diagonal)
    for name in sorted(mentioned):
        if name not in names:
            raise AssumptionError(f"the assumption about {name!r} names nothing in the expression")
    for name in sorted(a.symmetric):
        node = names[name]
        if node.shape[0] != node.shape[1]:
            raise AssumptionError(f"{name} is {E.shape_text(node.shape)}: only a square matrix can be symmetric")
        if not node.is_scalar:
            rules.append(assumption_rule(f"{name} symmetric", f"assumption: {name} symmetric",
                                         E.transpose(node), node))
    for name in sorted(a.sums_to_one):
        node = names[name]
        if node.is_vector:
            lhs = E.fn("sum", node, E.SCALAR)
            rules.append(assumption_rule(f"sum({name}) = 1", f"assumption: sum({name}) = 1", lhs, E.num(1)))
        elif not node.is_scalar:
            lhs = E.mul(node, E.ones(node.shape[1]))
            rules.append(assumption_rule(f"rows of {name} sum to 1", f"assumption: {name}*1 = 1", lhs,
                                         E.ones(node.shape[0])))
        else:
            raise AssumptionError(f"{name} is a scalar; 'sums to 1' is about a vector or the rows of a matrix")
    for name in sorted(a.plus_minus_one):
        node = names[name]
        if node.is_scalar:
            rules.append(assumption_rule(f"{name}^2 = 1", f"assumption: {name} in {{-1, 1}}",
                                         E.power(node, 2), E.num(1)))
        else:
            rules.append(assumption_rule(f"{name} .* {name} = 1", f"assumption: {name} in {{-1, 1}}",
                                         E.epow(node, 2), E.bcast(E.num(1), node.shape)))
    for name in sorted(a.binary | a.one_hot):
        node = names[name]
        source = f"assumption: {name} {'one-hot' if name in a.one_hot else 'in {0, 1}'}"
        if node.is_scalar:
            rules.append(assumption_rule(f"{name}^2 = {name}", source, E.power(node, 2), node))
        else:
            rules.append(assumption_rule(f"{name} .* {name} = {name}", source, E.epow(node, 2), node))
    for name in sorted(a.orthogonal):
        node = names[name]
        if node.shape[0] != node.shape[1] or node.is_scalar:
            raise AssumptionError(f"{name} is {E.shape_text(node.shape)}: only a square matrix can be orthogonal")
        source = f"assumption: {name} orthogonal"
        n = node.shape[0]
        rules.append(assumption_rule(f"{name}'*{name} = I", source, E.mul(E.transpose(node), node), E.eye(n)))
        rules.append(assumption_rule(f"{name}*{name}' = I", source, E.mul(node, E.transpose(node)), E.eye(n)))
        rules.append(assumption_rule(f"inv({name}) = {name}'", source, E.apply("inv", node), E.transpose(node)))
    for name in sorted(a.diagonal):
        node = names[name]
        if node.shape[0] != node.shape[1] or node.is_scalar:
            raise AssumptionError(f"{name} is {E.shape_text(node.shape)}: only a square matrix is diagonal")
        rules.append(assumption_rule(f"diag(diag({name})) = {name}", f"assumption: {name} diagonal",
                                     E.apply("diag", E.apply("diagvec", node)), node))
    for name in sorted(a.positive):
        node = names[name]
        rules.append(assumption_rule(f"{name} > 0", f"assumption: {name} > 0",
                                     E.fn("abs", node, node.shape), node))
        rules.append(assumption_rule(f"{name} > 0", f"assumption: {name} > 0",
                                     E.fn("sign", node, node.shape), E.bcast(E.num(1), node.shape)))
        rules.append(assumption_rule(f"{name} > 0", f"assumption: {name} > 0",
                                     E.fn("step", node, node.shape), E.bcast(E.num(1), node.shape)))
    it = iter(extra_nodes)
    for lhs_text, rhs_text in a.equations:
        lhs, rhs = next(it), next(it)
        if not _names_in(lhs) and _names_in(rhs):
            lhs, rhs, lhs_text, rhs_text = rhs, lhs, rhs_text, lhs_text  # `1 = sum(y)` is `sum(y) = 1`
        _check_equation(lhs_text, rhs_text, lhs, rhs)
        if lhs.shape != rhs.shape and not rhs.is_scalar:
            raise AssumptionError(f"{lhs_text} = {rhs_text}: the sides have shapes "
                                  f"{E.shape_text(lhs.shape)} and {E.shape_text(rhs.shape)}")
        if lhs.shape != rhs.shape:
            rhs = E.bcast(rhs, lhs.shape)
        if lhs.op == "fn" and lhs.attr == "sum" and lhs.args[0].op == "sym" and rhs.op == "num" and rhs.attr == 1:
            a.sums_to_one.add(lhs.args[0].attr)
        rules.append(assumption_rule(f"{lhs_text} = {rhs_text}", f"assumption: {lhs_text} = {rhs_text}", lhs, rhs))
    a.rules = tuple(rules)
    return a


def _names_in(node: E.Node) -> bool:
    return any(n.op == "sym" for n in E.walk(node))


def _occurs(lhs: E.Node, rhs: E.Node) -> bool:
    """Whether the rewrite lhs -> rhs would find lhs again in what it wrote: as a subexpression, or
    as consecutive factors of a product (`A*B = B*A*B`)."""
    k = len(lhs.args)
    for n in E.walk(rhs):
        if n is lhs:
            return True
        if lhs.op == "mul" and n.op == "mul" and any(n.args[i:i + k] == lhs.args for i in range(len(n.args) - k + 1)):
            return True
    return False


def _check_equation(lhs_text: str, rhs_text: str, lhs: E.Node, rhs: E.Node) -> None:
    """An equation becomes the rewrite left -> right, applied to a fixpoint: refuse one that says
    nothing, contradicts itself, or would rewrite forever."""
    stated = f"{lhs_text} = {rhs_text}"
    if not _names_in(lhs) and not _names_in(rhs):
        if lhs is rhs:
            raise AssumptionError(f"the assumption '{stated}' mentions no name and says nothing")
        raise AssumptionError(f"contradictory assumption '{stated}': it mentions no name, and its sides "
                              f"are different constants")
    if lhs is rhs:
        raise AssumptionError(f"the assumption '{stated}' says nothing: both sides are the same")
    if _occurs(lhs, rhs):
        raise AssumptionError(
            f"circular assumption '{stated}': it is used as the rewrite {lhs_text} -> {rhs_text}, and the "
            f"right side contains {lhs_text} again, so the rewrite would never end; "
            + (f"for a skew-symmetric {lhs_text}, write {lhs_text}' = -{lhs_text}"
               if rhs is E.neg(E.transpose(lhs)) else "state it with the simpler side on the right"))


__all__ = ["FORMS", "Assumptions", "MatcalcError", "bind", "parse_assumptions"]
