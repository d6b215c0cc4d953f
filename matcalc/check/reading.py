"""Reading a user's text with every rewrite checked by the numbers.

A LaTeX sum over indices (`\\sum_{ij} W_{ij} x_j y_i`) becomes a matrix expression (`y'*W*x`) by the
engine's index-to-matrix rewriter (engine/index_matrix.py). Before the checker or the library uses such
a rewrite, both forms are evaluated on a random instance with distinct sizes: equal, or an error —
a rewrite is right or refused, never different. `to_matrix` here is the library's `matcalc.to_matrix`;
`read_input` is the engine's, with this conversion for the sums it meets.
"""

from __future__ import annotations

from ..engine.derive import read_input as read_unchecked
from ..engine.index_matrix import convert
from ..errors import MatcalcError
from ..language.index import IndexExpr
from ..language.shapes import elaborate_many


def to_matrix(text: str, shapes: dict | None = None, free: tuple[str, ...] | None = None) -> str:
    """The matcalc matrix expression whose entries are the index expression `text`: `a_i*b_j` -> `a*b'`,
    `sum_k A_ik*B_kj` -> `A*B`, `delta_ij` -> `I`, `s_i*(delta_ik - s_k)` -> `diag(s) - s*s'`,
    `sum_i a_i*b_i` -> `a'*b`, `x_i*y_i` -> `x .* y`. The result's rows are indexed by the first free
    index and its columns by the second (`free`, or else alphabetical order). NoMatrixForm (a
    MatcalcError) where none exists; the result is checked numerically against the index expression
    before it is returned."""
    ix, order, result = convert(text, shapes, free)
    _check(ix, result, order, shapes)
    return result


def read_input(expression: str, input: str = "auto") -> str:
    """ASCII passes through; LaTeX is translated, its index sums through the checked to_matrix."""
    return read_unchecked(expression, input, to_matrix)


def _check(ix: IndexExpr, result: str, order: tuple, shapes: dict | None):
    """Both forms on one random instance with distinct sizes: equal, or an error (never a wrong rewrite)."""
    import numpy as np    # the numbers are imported where a sum is read: plain ASCII text needs none of them

    from ..compile.codegen import evaluate
    from ..compile.index_eval import index_values
    from . import numeric

    declared = dict(shapes or {})
    for name, shp in ix.names.items():
        declared.setdefault(name, tuple(d for d in shp if d != 1))
    try:
        typed, _ = elaborate_many(result, declared)
    except MatcalcError as e:
        raise MatcalcError(f"internal: the matrix form {result!r} of {ix.text!r} does not type: {e}") from None
    root = typed.root
    roots = [root] + [ix.leaves[k] for k in ix.leaves]
    sizes = numeric.dimension_sizes(roots + list(typed.names.values()), start=1)
    names = dict(typed.names)
    inst = numeric.sample(root, names, rng=np.random.default_rng(7), sizes=sizes, dim_scalars=typed.dims,
                          extra_roots=roots[1:])
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k not in env})
    got = np.asarray(evaluate(root, typed.dims, env), dtype=float)
    axes = [n for n in got.shape if n != 1] if got.ndim == 2 and len(order) == 1 else list(got.shape)
    ranges = {i: n for i, n in zip(order, axes)}
    want = index_values(ix, order, shapes, env, ranges)
    if got.shape != want.shape:
        got = got.reshape(want.shape) if got.size == want.size else got
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-9):
        raise MatcalcError(f"internal: the rewrite {result!r} of {ix.text!r} does not agree with it numerically; "
                           "please report this")
