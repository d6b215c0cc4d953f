"""Derivatives with no matrix form, in index notation: ∂z/∂W for a vector z, ∂F/∂X for a matrix F.

Why this way: their derivative has three or four axes, which the matrix language cannot write, but an
entry can: the seed post's ∂z_i/∂W_kl = δ_ik x_l. The adjoint walk already knows the derivative as the
linear map G ↦ ∂ tr(G' F)/∂X (the adjoint of F's differential); entry (i, j) of F is that map applied
to the unit matrix E_ij, so its index form is the adjoint's entries with every entry of G replaced by
Kronecker deltas, G_ab = δ_ia δ_jb. The deltas then collapse against the sums they meet (index_print).

The result is checked against finite differences of every entry in tests/test_tensor_index.py.
"""

from __future__ import annotations

from ..errors import MatcalcError, UnsupportedError
from ..language import expr as E
from ..language.index_parse import IX
from ..language.index_print import _add, _axes, _Builder, _collapse, _factor, _mul, show
from .adjoint import _Walk
from .definitions import as_variable
from .derive import prepare, read_input
from .simplify import Simplifier, table_rules

FUNCTION_LETTERS = ("i", "j")
VARIABLE_LETTERS = ("k", "l")


class _UnitBuilder(_Builder):
    """Entries of an expression in which the seed G stands for the unit matrix E_ij."""

    def __init__(self, used: set, seed: E.Node, letters: tuple):
        super().__init__(used)
        self.seed, self.letters = seed, letters

    def entry(self, n, idx):
        if n is self.seed:                      # G_ab = delta_ia * delta_jb
            return _mul([IX("delta", f, a) for f, a in zip(self.letters, idx)])
        if not _written_entrywise(n) and any(m is self.seed for m in E.walk(n)):
            what = {"fn": f"{n.attr}(…)", "vec": "vec(…)", "unvec": "unvec(…)", "kron": "kron(…)"}.get(n.op, n.op)
            raise UnsupportedError(f"matcalc cannot write this derivative entry by entry: it goes through {what}; "
                                   f"--format kron writes it as the vec/Kronecker Jacobian")
        return super().entry(n, idx)


_ENTRYWISE_OPS = {"num", "sym", "eye", "ones", "zero", "T", "bcast", "add", "had", "epow", "pow", "mul"}


def _written_entrywise(n) -> bool:
    """Whether index_print writes n's entries itself (else it writes the entry of the matrix expression)."""
    if n.op == "fn":
        from ..language.functions import row

        r = row(n.attr)
        return r.kind in ("elementwise", "tomatrix") and getattr(r, "arity", 1) == 1
    return n.op in _ENTRYWISE_OPS


MAX_TERMS = 64      # products distributed over sums at most this far; beyond, the deltas stay as they are


def _expanded(n: IX):
    """A sum of signed products, each under its own sums: [(sign, factors, summed)], or None past MAX_TERMS.
    The deltas can only collapse against a sum they sit directly under, so sums are pushed into terms."""
    k, a = n.kind, n.args
    if k == "neg":
        inner = _expanded(a[0])
        return None if inner is None else [(-sign, fs, sm) for sign, fs, sm in inner]
    if k == "add":
        out = []
        for t in a:
            part = _expanded(t)
            if part is None:
                return None
            out.extend(part)
        return out if len(out) <= MAX_TERMS else None
    if k == "sum":
        inner = _expanded(a[1])
        return None if inner is None else [(sign, fs, sm + tuple(a[0])) for sign, fs, sm in inner]
    if k == "mul":
        out = [(1, [], ())]
        for factor in a:
            part = _expanded(factor)
            if part is None:
                return None
            out = [(s1 * s2, f1 + f2, m1 + m2) for s1, f1, m1 in out for s2, f2, m2 in part]
            if len(out) > MAX_TERMS:
                return None
        return out
    return [(1, [n], ())]


def _collapse_terms(n: IX) -> IX:
    """Each term's deltas collapsed against its sums: sum_m -inv(X)_mk*delta_im*delta_jn*inv(X)_ln
    -> -inv(X)_ik*inv(X)_lj."""
    terms = _expanded(n)
    if terms is None:
        return _collapse(n)
    out = []
    for sign, factors, summed in terms:
        product = _mul(factors) if factors else IX("num", 1)
        term = _collapse(IX("sum", summed, product) if summed else product)
        out.append(term if sign > 0 else IX("neg", term))
    return _add(out)


class HasMatrixForm(MatcalcError):
    """The derivative has at most two axes: matcalc derive writes it as a matrix (and --format index too)."""


def matrix_form_exists(f: E.Node, x: E.Node) -> bool:
    return len(_axes(f.shape)) + len(_axes(x.shape)) <= 2


def tensor_index(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto") -> str:
    """`df_i/dW_kl = delta_ik*x_l` for a vector- or matrix-valued expression whose derivative with
    respect to `wrt` has no matrix form (more than two axes)."""
    expression, shapes = as_variable(read_input(expression, input), wrt, shapes)
    typed, a = prepare(expression, shapes, assume)
    if wrt not in typed.names:
        raise MatcalcError(f"cannot differentiate with respect to {wrt!r}: it does not appear in {expression!r}")
    f, x = typed.root, typed.names[wrt]
    if matrix_form_exists(f, x):
        raise HasMatrixForm("this derivative has a matrix form: `matcalc derive ... --format index` writes it")
    f_axes, x_axes = len(_axes(f.shape)), len(_axes(x.shape))
    seed_name = next(n for n in ("G", "Gbar", "Gseed", "G_seed_") if n not in typed.names)
    seed = E.sym(seed_name, f.shape)
    simplifier = Simplifier(a.rules + table_rules())
    adjoint = _Walk(f, x, simplifier, None).run(seed)
    fi, xi = FUNCTION_LETTERS[:f_axes], VARIABLE_LETTERS[:x_axes]
    builder = _UnitBuilder(set(fi) | set(xi), seed, fi)
    body = show(_factor(_collapse_terms(builder.entry(adjoint, xi))))
    lhs = f"df{'_' + ''.join(fi) if fi else ''}/d{wrt}{'_' + ''.join(xi) if xi else ''}"
    return f"{lhs} = {body}"
