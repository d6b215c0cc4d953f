"""Shapes written under a step, the way the batched-MLP post annotates each factor:
`∂L/∂W3 = (1/m)*A2'*(S - Y)    [64×m · m×10 → 64×10]`. A reader sees which dimension a product
contracts and why a gradient keeps the variable's shape; scalar factors (1/m, lr) scale and are left out."""

from __future__ import annotations

from .expr import Node, shape_text


def _factors(node: Node) -> list[Node]:
    """A product's matrix factors, flattened, in order; scalars dropped."""
    if node.op == "mul":
        return [f for a in node.args for f in _factors(a)]
    return [] if node.is_scalar else [node]


def shape_note(node: Node) -> str:
    """`[a×b · b×c → a×c]` for a product of matrices; `[a×c]` for anything else."""
    factors = _factors(node) if node.op == "mul" else []
    if len(factors) >= 2:
        return "[" + " · ".join(shape_text(f.shape) for f in factors) + f" → {shape_text(node.shape)}]"
    return f"[{shape_text(node.shape)}]"
