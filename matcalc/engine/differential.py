"""The derivation written by the differential method (矩阵求导术; Magnus & Neudecker): df = tr(G' dZ).

Why a second reading of the same walk: the adjoint steps say "∂f/∂Z = G"; a reader taught the
differential method writes the same fact as "df = tr(G' dZ)" and moves from one Z to the next by a
differential rule (d log(s) = ds ./ s, ds = (diag(s) - s*s') dz, d(W*x) = dW*x), until the last line is
df = tr(G' dX), from which ∂f/∂X = G is read off. Each adjoint step of the engine is one such line:
the differential of f is invariant, only the quantity it is written in changes, and the rule that
changes it is the rule the adjoint step used (the tables of rules/ serve both readings). For a scalar
quantity the line is df = g dz, for a column vector df = g' dz (the trace of a 1×1 matrix).

Only scalar functions are written this way; the differential of a matrix-valued function
(dF = A dX B) is not derived yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..language import expr as E
from ..language.expr import Node
from ..language.printing import to_text_bounded


@dataclass(frozen=True)
class DifferentialStep:
    """One line: df written in the differential of `target`, with the rule that got there."""

    text: str            # "df = tr(x*(s - y)'*dW)"
    rule: str
    source: str
    gradient: Node | None = None     # G of df = tr(G' dZ)
    target: Node | None = None       # Z
    continued: bool = False          # the same differential, G rewritten (simplified, an assumption)
    whole: bool = True               # df is tr(G' dZ) exactly: every path from f to the variable passes Z;
                                     # otherwise the line is one term of df, written "+ …"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _wrapped(text: str) -> str:
    """`text` safe to multiply by a differential: parentheses around a top-level sum or elementwise product."""
    depth = 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and (text.startswith((" + ", " - ", ".*", "./"), k)):
            return f"({text})"
    return text


def differential_of(target: Node, show) -> str:
    """`dW` for a name (or an abbreviation), `d log(s)` for a function call, `d(W*x)` otherwise."""
    text = show(target)
    if _NAME.fullmatch(text):
        return f"d{text}"
    if target.op == "fn":
        return f"d {text}"
    return f"d({text})"


def _transposed(node: Node) -> Node:
    """G' as a reader writes it: a product's factors reversed and each transposed, a sum kept whole
    ((s - y)' rather than s' - y')."""
    if node.op == "mul":
        return E.mul(*(_transposed(f) for f in reversed(node.args)))
    if node.op in ("add", "had") and not node.is_scalar:
        return Node("T", (node,), None, (node.shape[1], node.shape[0]))
    return E.transpose(node)


def df_text(gradient: Node, target: Node, show) -> str:
    """The right side of df = tr(G' dZ), written as a reader of the method writes it."""
    dz = differential_of(target, show)
    if target.is_scalar:
        return f"{_wrapped(show(gradient))}*{dz}" if not E.is_one(gradient) else dz
    gt = _transposed(gradient)
    if target.shape[1] == 1:                              # a column: tr(g' dz) = g' dz
        return f"{_wrapped(show(gt))}*{dz}"
    if target.shape[0] == 1:                              # a row: tr(G' dz) = dz G'
        return f"{dz}*{_wrapped(show(gt))}"
    if E.is_identity(gt):
        return f"tr({dz})"
    return f"tr({_wrapped(show(gt))}*{dz})"


def differential_steps(derivation, show=None) -> list[DifferentialStep]:
    """The derivation's adjoint steps as differentials of f (scalar functions, first order)."""
    if derivation.order != 1 or not derivation.typed.root.is_scalar:
        from ..errors import UnsupportedError

        raise UnsupportedError("the differential method writes df = tr(G' dX) for a scalar function (first "
                               "order); this derivative is of a non-scalar function or of second order")
    show = show or to_text_bounded
    root, x = derivation.typed.root, derivation.typed.names[derivation.wrt]
    out: list[DifferentialStep] = []
    target, whole = None, True
    for step in derivation.steps:
        if step.kind in ("result", "layout") or step.node is None:
            continue
        if step.target_node is not None:
            target = step.target_node
            whole = separates(root, target, x)
        elif target is None:
            continue
        rest = "" if whole else " + …"
        lead = "df =" if step.target_node is not None else "   ="
        out.append(DifferentialStep(f"{lead} {df_text(step.node, target, show)}{rest}", step.rule, step.source,
                                    step.node, target, continued=step.target_node is None, whole=whole))
    return out


def separates(root: Node, z: Node, x: Node) -> bool:
    """Whether every path from `root` down to `x` passes through `z` (then df = tr(G' dZ) is all of df).
    In x'*A*x the node x' does not: x is reached through the right factor too."""
    if z is x or z is root:
        return True
    seen: set[int] = set()
    stack = [root]
    while stack:                              # iterative: deep expressions are allowed
        n = stack.pop()
        if n is x:
            return False
        if id(n) in seen or n is z:
            continue
        seen.add(id(n))
        stack.extend(n.args)
    return True
