"""Shape inference by unification, declarations, broadcasting, and the shape errors users see."""

import pytest

from matcalc.errors import ShapeError, UnsupportedError
from matcalc.language.shapes import elaborate


def shapes(text, **declared):
    return {n: s.shape for n, s in elaborate(text, declared or None).names.items()}


def test_wx_plus_b_alone_tells_every_shape():
    assert shapes("W*x + b") == {"W": ("p", "q"), "x": ("q", 1), "b": ("p", 1)}


def test_naming_conventions():
    s = shapes("alpha*x + lam*y + A*z")
    assert s["alpha"] == (1, 1) and s["lam"] == (1, 1)
    assert s["x"][1] == 1 and s["A"][0] == s["x"][0]


def test_declarations_with_names_numbers_and_scalars():
    assert shapes("W*x", W=("c", "d")) == {"W": ("c", "d"), "x": ("d", 1)}
    assert shapes("A*x", A="3,4") == {"A": (3, 4), "x": (4, 1)}
    assert shapes("c*x", c="") == {"c": (1, 1), "x": ("p", 1)}


def test_dimension_names_are_scalars():
    typed = elaborate("sum(X)/m", {"X": ("m", "d")})
    assert typed.names["m"].shape == (1, 1)
    assert typed.dims == {"m"}


def test_row_vector_broadcast_over_rows():
    typed = elaborate("X*W + b'")
    assert typed.root.shape == ("p", "r")
    assert typed.names["b"].shape == ("r", 1)


def test_scalar_broadcast():
    assert elaborate("1 - sigmoid(x)").root.shape == ("p", 1)


@pytest.mark.parametrize("text,declared,message", [
    ("W*x", {"W": ("c", "d"), "x": ("e",)}, "W*x: c×d times e×1"),
    ("tr(x)", {}, "tr(x)"),
    ("det(A)", {"A": (3, 4)}, "det(A)"),
    ("x + y'", {}, "x + y'"),
    ("A*B + C", {"A": (2, 3), "B": (3, 4), "C": (4, 2)}, "2×4 plus 4×2"),
    ("softmax(Z)", {"Z": ("m", "c")}, "softmax_rows"),
    ("x / y", {"y": ("n",)}, "/ divides by a scalar"),
])
def test_shape_errors_name_the_expression_and_both_shapes(text, declared, message):
    with pytest.raises(ShapeError) as info:
        elaborate(text, declared)
    assert message in str(info.value)


def test_matrix_power_and_inverse():
    assert elaborate("X^-1").root.op == "fn"
    assert elaborate("X^2").root.op == "mul"
    with pytest.raises(UnsupportedError):
        elaborate("X^(1/2)")


def test_bad_declarations():
    with pytest.raises(ShapeError):
        elaborate("x", {"x": ("a", "b", "c")})
    with pytest.raises(ShapeError):
        elaborate("x", {"x": ("-1",)})
