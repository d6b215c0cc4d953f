"""matcalc trees written as SymPy matrix expressions (the other half of sympy_bridge.py): each matcalc
operation as SymPy's (tr → Trace, inv → Inverse, `.*` → HadamardProduct, a function applied to a matrix
→ applyfunc, softmax → exp(z)*(1'*exp(z))^-1, ...). A scalar-valued product such as x'*A*x is a 1×1
MatMul in SymPy, as SymPy writes it; as a factor of a matrix product it is placed where a dimension of
the chain is 1 (`a*(x'*y)*b'`), else it becomes the scalar Trace(x'*A*x). SymPy is imported inside the
functions: the command line does not load it.
"""

from __future__ import annotations

from ..errors import UnsupportedError


def _is_matrix(e) -> bool:
    return bool(getattr(e, "is_Matrix", False))


def to_sympy(node, symbols: dict | None = None):
    """The matcalc tree `node` as a SymPy expression; `symbols` maps names to the SymPy objects to use
    (from from_sympy), others are made: MatrixSymbol(name, rows, cols), Symbol for a scalar, a Symbol
    for each named dimension."""
    return _Writer(symbols or {})(node)


class _Writer:
    def __init__(self, symbols: dict):
        self.symbols = symbols
        self.dim_symbols = {}
        for obj in symbols.values():
            for d in getattr(obj, "shape", ()):
                for s in getattr(d, "free_symbols", ()):
                    self.dim_symbols.setdefault(s.name, s)
        self.memo = {}

    def __call__(self, root):
        from .nodes import walk

        for n in walk(root):
            self.memo[n] = self.write(n)
        return self.memo[root]

    def dim(self, d):
        import sympy as sp

        if isinstance(d, int):
            return sp.Integer(d)
        from .dims import dim_factors

        whole, names = dim_factors(d)
        out = sp.Integer(whole)
        for n in names:
            out *= self.dim_symbols.setdefault(n, sp.Symbol(n))
        return out

    def write(self, n):
        import sympy as sp
        from sympy.matrices.expressions import (
            HadamardPower,
            HadamardProduct,
            Identity,
            KroneckerProduct,
            MatrixSymbol,
            OneMatrix,
            ZeroMatrix,
        )

        a = [self.memo[c] for c in n.args]
        op = n.op
        if op == "sym":
            obj = self.symbols.get(n.attr)
            if obj is not None:
                return obj
            if n.is_scalar:
                return sp.Symbol(n.attr)
            return MatrixSymbol(n.attr, self.dim(n.shape[0]), self.dim(n.shape[1]))
        if op == "num":
            return sp.Rational(n.attr.numerator, n.attr.denominator)
        if op == "eye":
            return Identity(self.dim(n.shape[0]))
        if op == "ones":
            return OneMatrix(self.dim(n.shape[0]), self.dim(n.shape[1]))
        if op == "zero":
            return ZeroMatrix(self.dim(n.shape[0]), self.dim(n.shape[1]))
        if op == "add":
            if n.is_scalar and any(_is_matrix(t) for t in a) and not all(_is_matrix(t) for t in a):
                a = [_scalar(t) for t in a]
            out = a[0]
            for t in a[1:]:
                out = out + t
            return out
        if op == "mul":
            return self._product(n, a)
        if op == "T":
            return a[0].T
        if op == "pow":
            return a[0] ** sp.Rational(n.attr.numerator, n.attr.denominator)
        if op == "epow":
            p = sp.Rational(n.attr.numerator, n.attr.denominator)
            return a[0] ** p if not _is_matrix(a[0]) else HadamardPower(a[0], p)
        if op == "had":
            scalars = [t for t, c in zip(a, n.args) if c.is_scalar]
            mats = [t for t, c in zip(a, n.args) if not c.is_scalar]
            out = HadamardProduct(*mats) if len(mats) > 1 else mats[0] if mats else sp.S.One
            for s in scalars:
                out = s * out
            return out
        if op == "bcast":
            return self._broadcast(n, a[0])
        if op == "fn":
            return self._function(n, a[0])
        if op == "kron":
            return KroneckerProduct(a[0], a[1])
        raise UnsupportedError(f"SymPy has no matrix expression for matcalc's {op} (vec, unvec and the "
                               f"commutation matrix K are matcalc's own): the result cannot be written in SymPy")

    def _product(self, n, a):
        chain = [t for t, c in zip(a, n.args) if not c.is_scalar]
        scalars = [t for t, c in zip(a, n.args) if c.is_scalar and not _is_matrix(t)]
        one_by_one = [t for t, c in zip(a, n.args) if c.is_scalar and _is_matrix(t)]
        if one_by_one:
            if not chain:
                chain = one_by_one
            else:
                at = _unit_boundary(chain)
                if at is None:
                    scalars += [_scalar(t) for t in one_by_one]
                else:
                    chain = chain[:at] + one_by_one + chain[at:]
        out = None
        for t in scalars + chain:
            out = t if out is None else out * t
        return out

    def _broadcast(self, n, a):
        from sympy.matrices.expressions import OneMatrix

        rows, cols = (self.dim(d) for d in n.shape)
        c = n.args[0]
        if c.is_scalar:
            if _is_matrix(a):
                return OneMatrix(rows, 1) * a * OneMatrix(1, cols)
            return a * OneMatrix(rows, cols)
        if c.shape[0] == 1:                   # a row repeated over the rows
            return OneMatrix(rows, 1) * a
        return a * OneMatrix(1, cols)          # a column repeated over the columns

    def _function(self, n, a):
        import sympy as sp
        from sympy.matrices.expressions import (
            Determinant,
            DiagMatrix,
            DiagonalOf,
            HadamardPower,
            Inverse,
            OneMatrix,
            Trace,
        )

        name, arg = n.attr, n.args[0]
        elementwise = {"exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
                       "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "tanh": sp.tanh, "sqrt": sp.sqrt,
                       "abs": sp.Abs, "sign": sp.sign, "sigmoid": lambda t: 1 / (1 + sp.exp(-t)),
                       "relu": lambda t: sp.Max(t, 0), "step": lambda t: sp.Heaviside(t, 0)}
        if name in elementwise:
            f = elementwise[name]
            if not _is_matrix(a):
                return f(a)
            d = sp.Dummy("d")
            return a.applyfunc(sp.Lambda(d, f(d)))
        rows, cols = (self.dim(d) for d in arg.shape)
        if name == "sum":
            if not _is_matrix(a):
                return a
            out = a if arg.shape[0] == 1 else OneMatrix(1, rows) * a
            return out if arg.shape[1] == 1 else out * OneMatrix(cols, 1)
        if name == "tr":
            return Trace(a) if _is_matrix(a) and not arg.is_scalar else a
        if name == "det":
            return Determinant(a) if _is_matrix(a) and not arg.is_scalar else a
        if name == "logdet":
            return sp.log(Determinant(a) if _is_matrix(a) and not arg.is_scalar else a)
        if name == "inv":
            return Inverse(a) if _is_matrix(a) else 1 / a
        if name == "norm2":
            if not _is_matrix(a):
                return sp.Abs(a)
            return (a.T * a) ** sp.S.Half if arg.shape[1] == 1 else sp.sqrt(Trace(a.T * a))
        if name == "norm1":
            if not _is_matrix(a):
                return sp.Abs(a)
            d = sp.Dummy("d")
            out = a.applyfunc(sp.Lambda(d, sp.Abs(d)))
            out = out if arg.shape[0] == 1 else OneMatrix(1, rows) * out
            return out if arg.shape[1] == 1 else out * OneMatrix(cols, 1)
        if name == "diag":
            return DiagMatrix(a)
        if name == "diagvec":
            return DiagonalOf(a)
        if name in ("softmax", "logsumexp"):
            e = a.applyfunc(sp.exp)
            total = OneMatrix(1, rows) * e
            return e * total ** -1 if name == "softmax" else sp.log(total)
        if name in ("softmax_rows", "logsumexp_rows"):
            e = a.applyfunc(sp.exp)
            totals = e * OneMatrix(cols, 1)
            if name == "logsumexp_rows":
                return totals.applyfunc(sp.log)
            return DiagMatrix(HadamardPower(totals, -1)) * e
        raise UnsupportedError(f"matcalc's {name} has no SymPy form here")


def _scalar(t):
    """A 1×1 SymPy matrix expression as a scalar: its trace (its only entry)."""
    if not _is_matrix(t):
        return t
    from sympy.matrices.expressions import Trace

    return Trace(t)


def _unit_boundary(chain):
    """Where in a matrix product a 1×1 factor fits: before a factor with one row, after one with one
    column (None: nowhere)."""
    if chain[0].shape[0] == 1:
        return 0
    for i, t in enumerate(chain):
        if t.shape[1] == 1:
            return i + 1
    return None


__all__ = ["to_sympy"]
