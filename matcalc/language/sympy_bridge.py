"""SymPy matrix expressions in and out: `from_sympy` reads one as matcalc text with its shapes, `to_sympy`
writes a matcalc tree (a derived result) as a SymPy matrix expression.

In: MatrixSymbol (shapes from its rows and columns: whole numbers, symbols, products of them), Symbol
(a scalar, or a dimension used as a number, as `k*y` with y k×1), numbers, MatMul, MatAdd, Mul, Add,
Pow, Transpose, Inverse, MatPow (whole powers of a square matrix; any power of a 1×1 one), Trace,
Determinant, HadamardProduct, HadamardPower, Identity, ZeroMatrix, OneMatrix, DiagMatrix, DiagonalOf,
DiagonalMatrix, KroneckerProduct, the elementwise functions applied with `applyfunc` (their Lambda
bodies read as elementwise arithmetic: `Lambda(d, tan(d)**2 + 1)` is `tan(X).^2 + 1`), and scalar
functions of scalars. The tree is walked by its classes: nothing is sympified, printed and re-read,
or evaluated. What has no matcalc reading (an index expression `x[i, 0]`, a Sum, a symbolic exponent,
a matrix square root) is an UnsupportedError saying which part.

Out: `to_sympy` (sympy_writer.py) writes each matcalc operation as SymPy's.

SymPy is imported inside the functions here: it is a core dependency, but the command line does not
load it unless a SymPy object is handed over.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import MatcalcError, ShapeError, UnsupportedError
from .sympy_writer import _is_matrix, to_sympy  # noqa: F401  (to_sympy: the other way, re-exported)

ADD, MUL, UNARY, POSTFIX, ATOM = 1, 2, 3, 4, 5

# matcalc's elementwise functions and SymPy's (by the SymPy class name)
_FUNCTIONS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin",
              "acos": "arccos", "atan": "arctan", "tanh": "tanh", "Abs": "abs", "sign": "sign",
              "Heaviside": "step"}
_RESERVED = {"I", "K", "ones", "vec", "unvec", "kron", "delta", "sum", "tr", "det", "logdet", "inv", "norm1",
             "norm2", "diag", "softmax", "logsumexp", "softmax_rows", "logsumexp_rows", "exp", "log", "sin", "cos",
             "tan", "arcsin", "arccos", "arctan", "tanh", "sigmoid", "relu", "step", "sqrt", "abs", "sign"}
MAX_NODES = 20_000          # a SymPy tree larger than this is refused before it is walked in full


def is_sympy(obj) -> bool:
    """A SymPy object (sympy.Basic), found without importing SymPy: if it is not loaded, there is none."""
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(obj, sympy.Basic)


@dataclass(frozen=True)
class FromSympy:
    """A SymPy expression read into matcalc: `text` in matcalc's language, `shapes` declaring every name
    (a MatrixSymbol's rows and columns), `symbols` the SymPy objects by name (kept for to_sympy)."""

    text: str
    shapes: dict = field(default_factory=dict)
    symbols: dict = field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def typed(self):
        """The expression typed with its shapes (language/shapes.py)."""
        from .shapes import elaborate

        return elaborate(self.text, dict(self.shapes))


def from_sympy(expr, shapes=None, also=()) -> FromSympy:
    """Read a SymPy matrix (or scalar) expression: `from_sympy(a.T*X*b)` is `a'*X*b` with a, b k×1 and X
    k×k. `shapes` may add or confirm shapes, as for matcalc.derive; the sizes of the SymPy objects in
    `also` (the variable) are read first. The text is type-checked before it is returned (a ShapeError
    names the product that does not fit)."""
    if isinstance(expr, FromSympy):
        return expr
    if not is_sympy(expr):
        raise TypeError(f"from_sympy reads a SymPy expression, got {type(expr).__name__}")
    reader = _Reader()
    text = reader.read(expr, also)
    out = FromSympy(text, merge_shapes(reader.shapes, shapes), dict(reader.symbols))
    out.typed  # noqa: B018  (a shape error surfaces here, naming the product)
    return out


def merge_shapes(found: dict, declared) -> dict:
    out = dict(found)
    for name, spec in dict(declared or {}).items():
        if name in out and _spec_text(out[name]) != _spec_text(spec):
            raise ShapeError(f"{name} is {_spec_text(out[name])} in the SymPy expression but declared "
                             f"{_spec_text(spec)}")
        out.setdefault(name, spec)
    return out


def _spec_text(spec) -> str:
    if isinstance(spec, str):
        return spec.replace(" ", "") or "scalar"
    return ",".join(str(d) for d in spec) or "scalar"


def reading(expression, wrt, shapes=None):
    """For the library's entry points: (text, wrt name, shapes, FromSympy or None) of an expression given
    as text or as SymPy, and `wrt` given as a name or a SymPy symbol. A SymPy `wrt` that the expression
    does not mention is declared (its derivative is zero), as SymPy's .diff answers."""
    source = None
    if isinstance(expression, FromSympy) or is_sympy(expression):
        source = from_sympy(expression, shapes, (wrt,) if is_sympy(wrt) else ())
        expression, shapes = source.text, dict(source.shapes)
    if is_sympy(wrt):
        name, spec, obj = _wrt_name(wrt)
        if source is not None and name in source.symbols and source.symbols[name] != obj:
            raise MatcalcError(f"wrt {name} is not the {name} of the expression (another shape or kind)")
        if name not in (shapes or {}) and not (source is not None and name in source.symbols):
            shapes = dict(shapes or {})
            shapes[name] = spec
        if source is not None and name not in source.symbols:
            source = FromSympy(source.text, source.shapes, {**source.symbols, name: obj})
        wrt = name
    return expression, wrt, shapes, source


def _wrt_name(wrt):
    import sympy as sp
    from sympy.matrices.expressions.matexpr import MatrixSymbol

    if isinstance(wrt, MatrixSymbol):
        reader = _Reader()
        reader.read(wrt)
        return wrt.name, reader.shapes[wrt.name], wrt
    if isinstance(wrt, sp.Symbol):
        _check_name(wrt.name)
        return wrt.name, (), wrt
    raise MatcalcError(f"wrt must be a name, a MatrixSymbol or a Symbol, got the SymPy {type(wrt).__name__} "
                       f"{_short(wrt)}")


def _short(obj) -> str:
    text = str(obj)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 100 or name.startswith("_"):
        raise UnsupportedError(f"the SymPy name {name!r} is not a matcalc name (letters, digits and _, starting "
                               f"with a letter); rename the symbol")
    if name in _RESERVED:
        raise UnsupportedError(f"the SymPy symbol {name!r} has the name of a matcalc function; rename it")
    return name


# ---------------------------------------------------------------- SymPy -> matcalc text


class _Reader:
    def __init__(self):
        self.shapes: dict[str, tuple] = {}
        self.symbols: dict[str, object] = {}
        self.dims: dict[str, object] = {}

    def read(self, expr, also=()) -> str:
        """The text of `expr`; first the sizes of every matrix in it (and in `also`), so that a symbol
        that is a dimension anywhere (k in MatrixSymbol('x', k, 1)) reads as that size (k*x)."""
        import sympy as sp

        for root in (*also, expr):
            for count, e in enumerate(sp.preorder_traversal(root)):
                if count > MAX_NODES:
                    raise MatcalcError(f"the SymPy expression has more than {MAX_NODES:,} parts; matcalc reads "
                                       f"smaller ones")
                if _is_matrix(e) and hasattr(e, "shape"):
                    for d in e.shape:
                        self._dim(d, e)
        for root in also:
            self.text(root)
        return self.text(expr)[0]

    # (text, precedence) of each SymPy object
    def text(self, e, elementwise=None):
        import sympy as sp
        from sympy.matrices.expressions import (
            Determinant,
            DiagMatrix,
            DiagonalMatrix,
            DiagonalOf,
            HadamardPower,
            HadamardProduct,
            Identity,
            Inverse,
            KroneckerProduct,
            MatAdd,
            MatMul,
            MatPow,
            MatrixSymbol,
            OneMatrix,
            Trace,
            Transpose,
            ZeroMatrix,
        )
        from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
        from sympy.matrices.expressions.matexpr import MatrixElement

        if elementwise is not None and e in elementwise:
            return elementwise[e]                  # the array an applyfunc body's variable stands for
        if isinstance(e, MatrixSymbol):
            return self._matrix_symbol(e), ATOM
        if isinstance(e, sp.Symbol):
            return self._scalar_symbol(e), ATOM
        if isinstance(e, sp.Number) or e in (sp.pi, sp.E):
            return _number(e)
        if isinstance(e, (Identity, ZeroMatrix, OneMatrix)):
            return self._constant_matrix(e)
        if isinstance(e, (MatMul, sp.Mul)):
            return self._product(e, elementwise)
        if isinstance(e, (MatAdd, sp.Add)):
            return self._sum(e.args, elementwise)
        if isinstance(e, Transpose):
            return self.wrap(e.args[0], POSTFIX, elementwise) + "'", POSTFIX
        if isinstance(e, Inverse):
            return self._inverse(e.args[0], elementwise)
        if isinstance(e, MatPow):
            return self._matrix_power(e, elementwise)
        if isinstance(e, sp.Pow):
            return self._power(e.base, e.exp, elementwise)
        if isinstance(e, Trace):
            return f"tr({self.read_in(e.args[0], elementwise)})", ATOM
        if isinstance(e, Determinant):
            return f"det({self.read_in(e.args[0], elementwise)})", ATOM
        if isinstance(e, HadamardProduct):
            return " .* ".join(self.wrap(a, POSTFIX, elementwise) for a in e.args), MUL
        if isinstance(e, HadamardPower):
            return self._elementwise_power(e.base, e.exp, elementwise)
        if isinstance(e, DiagMatrix):
            v = e.args[0]
            inner = self.read_in(v, elementwise)
            return (f"diag({inner})" if v.shape[1] == 1 else f"diag(({inner})')"), ATOM
        if isinstance(e, DiagonalOf):
            return f"diag({self.read_in(e.args[0], elementwise)})", ATOM
        if isinstance(e, DiagonalMatrix):
            return f"{self.wrap(e.args[0], MUL, elementwise)} .* I", MUL
        if isinstance(e, KroneckerProduct):
            parts = [self.read_in(a, elementwise) for a in e.args]
            out = parts[-1]
            for p in reversed(parts[:-1]):
                out = f"kron({p}, {out})"
            return out, ATOM
        if isinstance(e, ElementwiseApplyFunction):
            return self._applyfunc(e, elementwise)
        if isinstance(e, sp.Max) and len(e.args) == 2 and sp.S.Zero in e.args:
            other = e.args[0] if e.args[1] == 0 else e.args[1]
            return f"relu({self.read_in(other, elementwise)})", ATOM
        if isinstance(e, sp.Function) and type(e).__name__ in _FUNCTIONS:
            return self._function(e, elementwise)
        if isinstance(e, (MatrixElement, sp.Sum, sp.Indexed)):
            raise UnsupportedError(f"{_short(e)} is an index expression: from_sympy reads matrix expressions "
                                   f"(matcalc.to_matrix reads index notation such as sum_k A_ik*B_kj)")
        raise UnsupportedError(f"matcalc has no reading of the SymPy {type(e).__name__} {_short(e)}")

    def read_in(self, e, elementwise=None) -> str:
        return self.text(e, elementwise)[0]

    def wrap(self, e, need: int, elementwise=None) -> str:
        text, prec = self.text(e, elementwise)
        return text if prec >= need else f"({text})"

    def _matrix_symbol(self, e) -> str:
        name = _check_name(e.name)
        rows, cols = (self._dim(d, e) for d in e.shape)
        spec = () if (rows, cols) == (1, 1) else (rows,) if cols == 1 else (rows, cols)
        self._declare(name, spec, e)
        return name

    def _scalar_symbol(self, e) -> str:
        name = _check_name(e.name)
        if name in self.dims:           # a dimension used as a number (k*y): no shape of its own
            return name
        self._declare(name, (), e)
        return name

    def _declare(self, name, spec, obj):
        if name in self.symbols and self.symbols[name] != obj:
            raise MatcalcError(f"two different SymPy symbols are both named {name!r} ({_short(self.symbols[name])} "
                               f"and {_short(obj)}); rename one")
        if name in self.dims and spec != ():
            raise MatcalcError(f"{name!r} is both a dimension and a matrix name")
        self.symbols[name] = obj
        self.shapes[name] = spec

    def _dim(self, d, where):
        import sympy as sp

        if isinstance(d, sp.Integer) or isinstance(d, int):
            if int(d) < 1:
                raise ShapeError(f"{_short(where)} has a dimension {d}: sizes are at least 1")
            return int(d)
        if isinstance(d, sp.Symbol):
            name = _check_name(d.name)
            if self.shapes.get(name) == ():
                raise MatcalcError(f"{name!r} is both a scalar and a dimension in the SymPy expression; a dimension "
                                   f"used as a number is read as the size (k*y), so the scalar needs another name")
            self.dims[name] = d
            return name
        if isinstance(d, sp.Mul) and all(isinstance(f, (sp.Symbol, sp.Integer)) for f in d.args):
            from .dims import dim_product

            return dim_product(*(self._dim(f, where) for f in d.args))
        raise UnsupportedError(f"{_short(where)} has the size {d}: matcalc's sizes are whole numbers, names and "
                               f"products of them (k*m), not {type(d).__name__}s")

    def _dim_text(self, d, where) -> str:
        return str(self._dim(d, where))

    def _constant_matrix(self, e):
        from sympy.matrices.expressions import Identity, ZeroMatrix

        rows, cols = (self._dim_text(d, e) for d in e.shape)
        if isinstance(e, Identity):
            return ("1", ATOM) if rows == "1" else (f"I({rows})", ATOM)
        if rows == cols == "1":
            unit, prec = "1", ATOM
        elif cols == "1":
            unit, prec = f"ones({rows})", ATOM
        elif rows == "1":
            unit, prec = f"ones({cols})'", POSTFIX
        else:
            unit, prec = f"ones({rows})*ones({cols})'", MUL
        if isinstance(e, ZeroMatrix):
            return (f"0*{unit}", MUL) if unit != "1" else ("0", ATOM)
        return unit, prec

    def _product(self, e, elementwise):
        import sympy as sp

        factors = list(e.args)
        coefficient = sp.S.One
        rest, below = [], []
        for f in factors:
            if isinstance(f, sp.Number):
                coefficient *= f
            elif isinstance(f, sp.Pow) and not _is_matrix(f) and f.exp.is_Number and f.exp < 0:
                below.append(f.base ** -f.exp)
            else:
                rest.append(f)
        if coefficient.is_Number and coefficient < 0:
            inner, _ = self._product_text(-coefficient, rest, below, elementwise)
            return "-" + inner if not inner[0] == "-" else f"-({inner})", UNARY
        return self._product_text(coefficient, rest, below, elementwise)

    def _product_text(self, coefficient, rest, below, elementwise):
        import sympy as sp

        parts = []
        if coefficient != 1 or not rest:
            if isinstance(coefficient, sp.Rational) and coefficient.q != 1:
                parts.append(f"({coefficient.p}/{coefficient.q})")
            else:
                parts.append(_number(coefficient)[0])
        text = parts[0] if parts else ""
        previous_array = False
        for f in rest:
            t = self.wrap(f, POSTFIX, elementwise)
            # inside an elementwise function's body, two factors that are both arrays multiply entry by entry
            array = elementwise is not None and _mentions(f, elementwise)
            if not text:
                text = t
            else:
                text += (" .* " if array and previous_array else "*") + t
            previous_array = previous_array or array
        if below:
            array = elementwise is not None and any(_mentions(f, elementwise) for f in below)
            den = [self.wrap(f, POSTFIX, elementwise) for f in below]
            joined = den[0] if len(den) == 1 else "(" + (" .* " if array else "*").join(den) + ")"
            text = f"{text}{' ./ ' if array else '/'}{joined}"
        return text, MUL

    def _sum(self, terms, elementwise):
        import sympy as sp

        out = []
        for t in terms:
            negative = (isinstance(t, sp.Number) and t < 0) or (
                t.is_Mul or type(t).__name__ == "MatMul") and isinstance(t.args[0], sp.Number) and t.args[0] < 0
            if negative and out:
                text = self.wrap(-t, MUL, elementwise)
                out.append(f" - {text}")
            else:
                text = self.wrap(t, ADD, elementwise) if not out else self.wrap(t, MUL, elementwise)
                out.append(text if not out else f" + {text}")
        return "".join(out), ADD

    def _inverse(self, m, elementwise):
        if _is_one_by_one(m):
            return self.wrap(m, POSTFIX, elementwise) + "^-1", POSTFIX
        return f"inv({self.read_in(m, elementwise)})", ATOM

    def _matrix_power(self, e, elementwise):
        base, p = e.args
        p = _exponent(p, e)
        if _is_one_by_one(base):
            return self._power(base, p, elementwise)
        if p.denominator != 1:
            raise UnsupportedError(f"{_short(e)}: a fractional power of a matrix (a matrix root) has no matcalc "
                                   f"reading; matcalc's X^k is a whole power")
        k = int(p)
        if k == 0:
            return f"I({self._dim_text(base.shape[0], e)})", ATOM
        inner = self.wrap(base, POSTFIX, elementwise) if k > 0 else f"inv({self.read_in(base, elementwise)})"
        return (inner if abs(k) == 1 else f"{inner}^{abs(k)}"), POSTFIX

    def _power(self, base, p, elementwise):
        p = _exponent(p, base)
        if elementwise is not None or (_is_matrix(base) and not _is_one_by_one(base)):
            return self._elementwise_power(base, p, elementwise)
        if p == Fraction(1, 2):
            return f"sqrt({self.read_in(base, elementwise)})", ATOM
        return f"{self.wrap(base, POSTFIX, elementwise)}^{_exponent_text(p)}", POSTFIX

    def _elementwise_power(self, base, p, elementwise):
        p = _exponent(p, base)
        if p == Fraction(1, 2):
            return f"sqrt({self.read_in(base, elementwise)})", ATOM
        if p == -1:
            return f"1 ./ {self.wrap(base, POSTFIX, elementwise)}", MUL
        return f"{self.wrap(base, POSTFIX, elementwise)}.^{_exponent_text(p)}", POSTFIX

    def _function(self, e, elementwise):
        if len(e.args) != 1:
            if type(e).__name__ == "log" and len(e.args) == 2:       # log(x, b) = log(x)/log(b)
                return f"log({self.read_in(e.args[0], elementwise)})/log({self.read_in(e.args[1], elementwise)})", MUL
            if type(e).__name__ == "Heaviside" and len(e.args) == 2:     # H(0) differs from step's 0 at one point
                return f"step({self.read_in(e.args[0], elementwise)})", ATOM
            raise UnsupportedError(f"{_short(e)}: matcalc reads {type(e).__name__} of one argument")
        name = _FUNCTIONS[type(e).__name__]
        return f"{name}({self.read_in(e.args[0], elementwise)})", ATOM

    def _applyfunc(self, e, elementwise):
        import sympy as sp

        f, m = e.function, e.expr
        if not isinstance(f, sp.Lambda):
            name = getattr(f, "__name__", type(f).__name__)
            if name not in _FUNCTIONS:
                raise UnsupportedError(f"{_short(e)}: matcalc has no elementwise {name}")
            return f"{_FUNCTIONS[name]}({self.read_in(m, elementwise)})", ATOM
        (var,) = f.variables
        body = dict(elementwise or {})
        body[var] = self.text(m, elementwise)
        return self.text(f.expr, body)


def _mentions(e, elementwise) -> bool:
    """Whether `e` (inside an applyfunc body) depends on the entry variable: it is then an array."""
    return any(v in elementwise for v in getattr(e, "free_symbols", ()))


def _is_one_by_one(e) -> bool:
    return _is_matrix(e) and tuple(e.shape) == (1, 1)


def _exponent(p, where) -> Fraction:
    import sympy as sp

    if isinstance(p, (int, Fraction)):
        return Fraction(p)
    if isinstance(p, sp.Rational):
        return Fraction(int(p.p), int(p.q))
    if isinstance(p, sp.Float):
        return Fraction(str(float(p)))
    raise UnsupportedError(f"{_short(where)} has the exponent {_short(p)}: matcalc's exponents are numbers "
                           f"(a symbolic exponent x.^i can be written exp(i*log(x)) where x > 0)")


def _exponent_text(p: Fraction) -> str:
    if p.denominator == 1:
        return str(p.numerator)
    return f"({p.numerator}/{p.denominator})"


def _number(e):
    import sympy as sp

    if e == sp.E:
        return "exp(1)", ATOM
    if isinstance(e, sp.Integer):
        return (str(int(e)), ATOM) if e >= 0 else (str(int(e)), UNARY)
    if isinstance(e, sp.Rational):
        text = f"{abs(e.p)}/{e.q}"
        return (f"-{text}", UNARY) if e < 0 else (text, MUL)
    value = float(e)
    if value != value or value in (float("inf"), float("-inf")):
        raise MatcalcError(f"the number {_short(e)} is not finite")
    text = format(abs(value), ".17g")
    if "e" not in text and "." not in text:
        text += ".0"
    text = text.replace("e+", "e")
    return (f"-{text}", UNARY) if value < 0 else (text, ATOM)


__all__ = ["from_sympy", "to_sympy", "FromSympy", "is_sympy", "reading"]
