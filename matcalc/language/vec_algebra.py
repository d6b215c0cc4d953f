"""Kronecker products and commutation matrices applied to a vec, as the matrix products they stand for.

Why: (B' ⊗ A) vec(V) = vec(A V B), K(m,n) vec(V) = vec(V'), diag(vec(E)) vec(V) = vec(E .* V) and
vec(G)' vec(V) = sum(G .* V) (Magnus & Neudecker ch. 2 §4; Matrix Cookbook (520)). Read right to left,
these turn a Jacobian in vec/Kronecker form applied to a direction into the product a person writes, never
forming a (pq)×(mn) matrix. Three places use them: the Jacobian-vector product (kronecker.py), the code
generator's lowering row (rewrites.py), and `unvec` itself (expr.py), so that a gradient through
`kron(B', A)*vec(X)` prints as A'*(...)*B'.
"""

from __future__ import annotations

from . import expr as E
from .expr import Node


def as_shape(W: Node, shape) -> Node:
    """W with the same entries in column-major order, as a `shape` matrix (unvec(vec(W)))."""
    if W.shape == tuple(shape):
        return W
    return E.unvec(E.vec(W), *shape)


def kronecker_like(a: Node) -> bool:
    """A matrix `apply_jacobian` applies without forming it."""
    if a.op in ("kron", "comm", "eye") or (a.op == "fn" and a.attr == "diag" and a.args[0].op == "vec"):
        return True
    return a.op in ("add", "mul") and all(f.is_scalar or kronecker_like(f) for f in a.args)


def applied(n: Node) -> Node | None:
    """For a column J1*...*Jk*g whose J's are Kronecker-like (one at least a kron or K): the matrix M with
    vec(M) = n; else None."""
    if n.op != "mul" or n.shape[1] != 1 or n.args[-1].shape[1] != 1 or n.args[-1].is_scalar:
        return None
    chain = [a for a in n.args[:-1] if not a.is_scalar]
    if not chain or not all(kronecker_like(a) for a in chain) or \
            not any(m.op in ("kron", "comm") for a in chain for m in E.walk(a)):
        return None
    scalars = [a for a in n.args[:-1] if a.is_scalar]
    last = n.args[-1]
    M = apply_jacobian(E.mul(*chain), last.args[0] if last.op == "vec" else last)
    return E.mul(*scalars, M) if scalars else M


def apply_jacobian(J: Node, W: Node) -> Node:
    """M with vec(M) = J*vec(W), without forming J where it is a Kronecker product or a permutation.
    M comes in the shape natural to J's leftmost factor; callers reshape it (as_shape)."""
    from .functions import apply

    op = J.op
    if op == "add":
        parts = [apply_jacobian(t, W) for t in J.args]
        shape = parts[0].shape
        return E.add(*(as_shape(p, shape) for p in parts))
    if op == "mul":
        scalars = [a for a in J.args if a.is_scalar]
        chain = [a for a in J.args if not a.is_scalar]
        out = W
        for factor in reversed(chain):
            out = apply_jacobian(factor, out)
        return E.mul(*scalars, out) if scalars else out
    if op == "eye":
        return W
    if op == "zero":
        return E.zero((J.shape[0], 1))
    if op == "comm":                        # K(m,n) vec(V) = vec(V') for V m×n
        m, n = J.attr
        return E.transpose(as_shape(W, (m, n)))
    if op == "kron":                        # (P ⊗ Q) vec(V) = vec(Q V P')
        P, Q = J.args
        V = as_shape(W, (Q.shape[1], P.shape[1]))
        return E.mul(Q, V, E.transpose(P))
    if op == "fn" and J.attr == "diag" and J.args[0].op == "vec":   # diag(vec(E)) vec(V) = vec(E .* V)
        Em = J.args[0].args[0]
        return E.hadamard(Em, as_shape(W, Em.shape))
    if op == "T" and J.args[0].op == "vec":   # vec(G)' vec(V) = sum(G .* V)
        G = J.args[0].args[0]
        return apply("sum", E.hadamard(G, as_shape(W, G.shape)))
    if op == "vec" and W.is_scalar:          # vec(M) * s = vec(M*s)
        return E.mul(W, J.args[0])
    return E.mul(J, E.vec(W) if not W.is_scalar else W)
