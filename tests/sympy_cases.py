"""Every case of SymPy's own sympy/matrices/expressions/tests/test_derivatives.py (SymPy 1.14), built
with SymPy objects as that file builds them, in its order: (its test function, the expression, the
variable). The entrywise checks of that file (`expr[i, j].diff(A[m, n])`, `expr.rewrite(Sum)`) are in
ELEMENT_CASES: (the matrix expression, the variable, the entry of the expression, the entry of the
variable), since an entry is an index expression, not a matrix one.

What SymPy answers is not copied here: the tests ask SymPy's `.diff` itself.
"""

from __future__ import annotations

from sympy import KroneckerProduct, S, Rational, symbols  # noqa: F401
from sympy.functions.elementary.exponential import exp, log
from sympy.functions.elementary.miscellaneous import sqrt  # noqa: F401
from sympy.functions.elementary.trigonometric import cos, sin, tan  # noqa: F401
from sympy.matrices.expressions import hadamard_power
from sympy.matrices.expressions.determinant import Determinant
from sympy.matrices.expressions.hadamard import hadamard_product
from sympy.matrices.expressions.inverse import Inverse
from sympy.matrices.expressions.matadd import MatAdd
from sympy.matrices.expressions.matexpr import MatrixSymbol
from sympy.matrices.expressions.matmul import MatMul
from sympy.matrices.expressions.special import Identity, OneMatrix
from sympy.matrices.expressions.trace import Trace

i, j, k = symbols("i j k")
m, n = symbols("m n")
mu = symbols("mu")

X = MatrixSymbol("X", k, k)
x = MatrixSymbol("x", k, 1)
y = MatrixSymbol("y", k, 1)

A = MatrixSymbol("A", k, k)
B = MatrixSymbol("B", k, k)
C = MatrixSymbol("C", k, k)
D = MatrixSymbol("D", k, k)

a = MatrixSymbol("a", k, 1)
b = MatrixSymbol("b", k, 1)
c = MatrixSymbol("c", k, 1)
d = MatrixSymbol("d", k, 1)

I = Identity(k)  # noqa: E741

CASES = [
    # test_matrix_derivative_by_scalar
    ("by_scalar", A, i),
    ("by_scalar", A * (X + B) * c, i),
    ("by_scalar", x, i),
    ("by_scalar", x.T * y, i),
    ("by_scalar", x * x.T, i),
    ("by_scalar", x + y, i),
    ("by_scalar", hadamard_power(x, 2), i),
    ("by_scalar", hadamard_power(x, i), i),
    ("by_scalar", hadamard_product(x, y), i),
    ("by_scalar", hadamard_product(i * OneMatrix(k, 1), x, y), i),
    ("by_scalar", i * x, i),
    ("by_scalar", sin(i) * A * B * x, i),
    ("by_scalar", x.applyfunc(sin), i),
    ("by_scalar", Trace(i**2 * X), i),
    ("by_scalar", 2 * mu * x, x),
    # test_one_matrix
    ("one_matrix", MatMul(x.T, OneMatrix(k, 1)), x),
    # test_matrix_derivative_non_matrix_result
    ("non_matrix_result", A, A),
    ("non_matrix_result", A.T, A),
    ("non_matrix_result", 2 * A, A),
    ("non_matrix_result", MatAdd(A, A), A),
    ("non_matrix_result", A + B, A),
    # test_matrix_derivative_trivial_cases
    ("trivial_cases", X, A),
    # test_matrix_derivative_with_inverse
    ("with_inverse", a.T * Inverse(X) * b, X),
    ("with_inverse", Determinant(Inverse(X)), X),
    ("with_inverse", Trace(A * Inverse(X) * B), X),
    ("with_inverse", Trace(Inverse(X + A)), X),
    # test_matrix_derivative_vectors_and_scalars
    ("vectors_and_scalars", x, x),
    ("vectors_and_scalars", x.T, x),
    ("vectors_and_scalars", x.T * a, x),
    ("vectors_and_scalars", a.T * x, x),
    ("vectors_and_scalars", a.T * X * b, X),
    ("vectors_and_scalars", a.T * X.T * b, X),
    ("vectors_and_scalars", a.T * X * a, X),
    ("vectors_and_scalars", a.T * X.T * a, X),
    ("vectors_and_scalars", b.T * X.T * X * c, X),
    ("vectors_and_scalars", (B * x + b).T * C * (D * x + d), x),
    ("vectors_and_scalars", x.T * B * x, x),
    ("vectors_and_scalars", b.T * X.T * D * X * c, X),
    ("vectors_and_scalars", (X * b + c).T * D * (X * b + c), X),
    ("vectors_and_scalars", x * x.T * x, x),
    # test_matrix_derivatives_of_traces
    ("of_traces", Trace(A) * A, A),
    ("of_traces", Trace(X), X),
    ("of_traces", Trace(X * A), X),
    ("of_traces", Trace(A * X * B), X),
    ("of_traces", Trace(A * X.T * B), X),
    ("of_traces", Trace(X.T * A), X),
    ("of_traces", Trace(A * X.T), X),
    ("of_traces", Trace(X**2), X),
    ("of_traces", Trace(X**2 * B), X),
    ("of_traces", Trace(MatMul(X, X, B)), X),
    ("of_traces", Trace(X.T * B * X), X),
    ("of_traces", Trace(B * X * X.T), X),
    ("of_traces", Trace(X * X.T * B), X),
    ("of_traces", Trace(X * B * X.T), X),
    ("of_traces", Trace(B * X.T * X), X),
    ("of_traces", Trace(X.T * X * B), X),
    ("of_traces", Trace(A * X * B * X), X),
    ("of_traces", Trace(X.T * X), X),
    ("of_traces", Trace(X * X.T), X),
    ("of_traces", Trace(B.T * X.T * C * X * B), X),
    ("of_traces", Trace(X.T * B * X * C), X),
    ("of_traces", Trace(A * X * B * X.T * C), X),
    ("of_traces", Trace((A * X * B + C) * (A * X * B + C).T), X),
    ("of_traces", Trace(X**k), X),
    ("of_traces", Trace(A * X**k), X),
    ("of_traces", Trace(B.T * X.T * C * X * X.T * C * X * B), X),
    ("of_traces", Trace(A * X**(-1) * B), X),
    ("of_traces", Trace(Inverse(X.T * C * X) * A), X),
    ("of_traces", Trace((X.T * C * X).inv() * (X.T * B * X)), X),
    ("of_traces", Trace((A + X.T * C * X).inv() * (X.T * B * X)), X),
    # test_derivatives_of_complicated_matrix_expr
    ("complicated", a.T * (A * X * (X.T * B + X * A) + B.T * X.T * (a * b.T * (X * D * X.T + X * (X.T * B + A * X)
                                                                             * D * B - X.T * C.T * A) * B
                                                                   + B * (X * D.T + B * A * X * A.T - 3 * X * D))
                            * B + 42 * X * B * X.T * A.T * (X + X.T)) * b, X),
    # test_mixed_deriv_mixed_expressions
    ("mixed", 3 * Trace(A), A),
    ("mixed", k, A),
    ("mixed", Trace(A)**2, A),
    ("mixed", Trace(A) * A, A),
    ("mixed", Trace(Trace(A) * A), A),
    ("mixed", Trace(Trace(Trace(A) * A) * A), A),
    # test_derivatives_matrix_norms
    ("norms", x.T * y, x),
    ("norms", (x.T * y)**S.Half, x),
    ("norms", (x.T * x)**S.Half, x),
    ("norms", (c.T * a * x.T * b)**S.Half, x),
    ("norms", (c.T * a * x.T * b)**Rational(1, 3), x),
    ("norms", (a.T * X * b)**S.Half, X),
    ("norms", d.T * x * (a.T * X * b)**S.Half * y.T * c, X),
    # test_derivatives_elementwise_applyfunc
    ("applyfunc", x.applyfunc(tan), x),
    ("applyfunc", (i**2 * x).applyfunc(sin), i),
    ("applyfunc", (log(i) * A * B).applyfunc(sin), i),
    ("applyfunc", A * x.applyfunc(exp), x),
    ("applyfunc", x.T * A * x + k * y.applyfunc(sin).T * x, x),
    ("applyfunc", x.applyfunc(sin).T * y, x),
    ("applyfunc", (a.T * X * b).applyfunc(sin), X),
    ("applyfunc", a.T * X.applyfunc(sin) * b, X),
    ("applyfunc", a.T * (A * X * B).applyfunc(sin) * b, X),
    ("applyfunc", a.T * (A * X * b).applyfunc(sin) * b.T, X),
    ("applyfunc", a.T * A * X.applyfunc(sin) * B * b, X),
    ("applyfunc", a.T * (A * X.applyfunc(sin) * B).applyfunc(log) * b, X),
    ("applyfunc", a.T * (X.applyfunc(sin)).applyfunc(log) * b, X),
    # test_derivatives_of_hadamard_expressions
    ("hadamard", hadamard_product(a, x, b), x),
    ("hadamard", a.T * hadamard_product(A, X, B) * b, X),
    ("hadamard", hadamard_power(x, 2), x),
    ("hadamard", hadamard_power(x.T, 2), x),
    ("hadamard", hadamard_power(x, S.Half), x),
    ("hadamard", hadamard_power(a.T * X * b, 2), X),
    ("hadamard", hadamard_power(a.T * X * b, S.Half), X),
]

# (the matrix expression, its variable, the entry of the expression, the entry of the variable): SymPy's
# `expr[e].diff(var[v])` (or `.rewrite(Sum)` for a trace) against the entry of matcalc's derivative
ELEMENT_CASES = [
    ("vectors_and_scalars", x, x, (i, 0), (m, 0)),
    ("vectors_and_scalars", x.T * a, x, (0, 0), (m, 0)),
    ("vectors_and_scalars", (X * b + c).T * D * (X * b + c), X, (0, 0), (m, n)),
    ("of_traces", Trace(A) * A, A, (i, j), (m, n)),
    ("of_traces", Trace(X), X, None, (m, n)),
    ("of_traces", Trace(X * A), X, None, (m, n)),
    ("of_traces", Trace(A * X * B), X, None, (m, n)),
    ("norms", x.T * y, x, (0, 0), (m, 0)),
    ("applyfunc", x.applyfunc(tan), x, (i, 0), (m, 0)),
    ("applyfunc", (i**2 * x).applyfunc(sin), i, (i, 0), None),
]
