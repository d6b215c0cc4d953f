"""The derivations of the foundation issue: exact textbook forms, checked against finite differences."""

import numpy as np
import pytest

import matcalc
from matcalc.errors import MatcalcError, ShapeError, UnsupportedError

from oracle import TOLERANCE, autograd_gradient, instances, max_error_against_truth, same_modulo_order

CE = "-y'*log(softmax(W*x + b))"
MLP = "-y'*log(softmax(W2*relu(W1*x + b1) + b2))"
BATCH = "-sum(Y .* log(softmax_rows(X*W + b')))/m"

TEXTBOOK = [
    ("a'*x", "x", [], "a"),
    ("x'*A*x", "x", [], "(A + A')*x"),
    ("x'*A*x", "x", ["A symmetric"], "2*A*x"),
    ("tr(A*X)", "X", [], "A'"),
    ("logdet(X)", "X", [], "inv(X)'"),
    ("norm2(A*x - b)^2", "x", [], "2*A'*(A*x - b)"),
    (CE, "W", ["sum(y) = 1"], "(softmax(W*x + b) - y)*x'"),
    (CE, "b", ["sum(y) = 1"], "softmax(W*x + b) - y"),
    (CE, "x", ["sum(y) = 1"], "W'*(softmax(W*x + b) - y)"),
    (MLP, "W1", ["sum(y) = 1"], "((W2'*(softmax(W2*relu(W1*x + b1) + b2) - y)) .* step(W1*x + b1))*x'"),
]


@pytest.mark.parametrize("expression,wrt,assume,expected", TEXTBOOK)
def test_textbook_form_and_value(expression, wrt, assume, expected):
    d = matcalc.derive(expression, wrt=wrt, assume=assume)
    assert " ".join(str(d).split()) == expected or same_modulo_order(d, expected), str(d)
    assert max_error_against_truth(d) < TOLERANCE


@pytest.mark.parametrize("expression,wrt,assume,expected", TEXTBOOK)
def test_numerator_layout_is_the_transpose(expression, wrt, assume, expected):
    d = matcalc.derive(expression, wrt=wrt, assume=assume, layout="numerator")
    assert d.layout == "numerator"
    assert d.shape == tuple(reversed(matcalc.derive(expression, wrt=wrt, assume=assume).shape))
    assert max_error_against_truth(d) < TOLERANCE


@pytest.mark.parametrize("expression,wrt,assume,expected", TEXTBOOK)
def test_agrees_with_autograd(expression, wrt, assume, expected):
    d = matcalc.derive(expression, wrt=wrt, assume=assume)
    for inst in instances(d, count=2, seed=7):
        env = dict(inst.env)
        got = np.asarray(d.to_numpy()(**env), dtype=float)
        want = np.asarray(autograd_gradient(d, inst), dtype=float)
        assert np.allclose(got.reshape(want.shape), want, rtol=1e-9, atol=1e-10)


def test_batched_cross_entropy_is_what_a_training_loop_writes():
    shapes = {"X": ("m", "d")}
    dW = matcalc.derive(BATCH, wrt="W", shapes=shapes, assume=["Y one-hot"])
    db = matcalc.derive(BATCH, wrt="b", shapes=shapes, assume=["Y one-hot"])
    dX = matcalc.derive(BATCH, wrt="X", shapes=shapes, assume=["Y one-hot"])
    assert str(dW) == "(1/m)*X'*(softmax_rows(X*W + b') - Y)"
    assert same_modulo_order(db, "(1/m)*(softmax_rows(X*W + b')' - Y')*ones(m)")
    assert str(dX) == "(1/m)*(softmax_rows(X*W + b') - Y)*W'"
    for d in (dW, db, dX):
        assert max_error_against_truth(d) < TOLERANCE


def test_without_the_assumption_the_sum_stays():
    d = matcalc.derive(CE, wrt="W")
    assert "sum(y)" in str(d)
    assert max_error_against_truth(d) < TOLERANCE


def test_steps_go_through_the_softmax_jacobian_then_the_assumption():
    d = matcalc.derive(CE, wrt="W", assume=["sum(y) = 1"])
    texts = [s.expression for s in d.steps]
    rules = " ".join(s.rule for s in d.steps)
    assert any("diag(softmax(W*x + b)) - softmax(W*x + b)*softmax(W*x + b)'" in t for t in texts)
    assert any(t == "sum(y)*softmax(W*x + b) - y" for t in texts)
    assert any(t == "softmax(W*x + b) - y" and s.kind == "assumption" for t, s in zip(texts, d.steps))
    assert "softmax Jacobian" in rules
    assert all(s.source or s.kind in ("result", "layout") for s in d.steps)


def test_vector_by_vector_jacobian_in_both_layouts():
    d = matcalc.derive("softmax(z)", wrt="z")
    assert str(d) == "diag(softmax(z)) - softmax(z)*softmax(z)'"
    assert max_error_against_truth(d) < TOLERANCE
    den = matcalc.derive("W*x", wrt="x")
    num = matcalc.derive("W*x", wrt="x", layout="numerator")
    assert (str(den), str(num)) == ("W'", "W")
    assert den.shape == ("q", "p") and num.shape == ("p", "q")
    for d in (den, num):
        assert max_error_against_truth(d) < TOLERANCE


def test_vector_by_scalar_is_a_row_in_denominator_layout():
    den = matcalc.derive("alpha*x", wrt="alpha")
    num = matcalc.derive("alpha*x", wrt="alpha", layout="numerator")
    assert (str(den), str(num)) == ("x'", "x")
    assert den.shape[0] == 1 and num.shape[1] == 1


def test_scalar_by_scalar():
    d = matcalc.derive("sin(alpha)^2", wrt="alpha")
    assert max_error_against_truth(d) < TOLERANCE


def test_declared_shapes_and_numbers():
    d = matcalc.derive("W*x + b", wrt="x", shapes={"W": (3, 4)})
    assert d.shapes["x"] == (4, 1) and d.shapes["b"] == (3, 1)
    assert d.shape == (4, 3)


def test_unknown_variable_is_an_error():
    with pytest.raises(MatcalcError, match="does not appear"):
        matcalc.derive("a'*x", wrt="z")


def test_matrix_valued_expression_is_unsupported_with_a_reason():
    with pytest.raises(UnsupportedError, match="higher-order tensor"):
        matcalc.derive("A*X", wrt="X")


def test_unknown_layout():
    with pytest.raises(MatcalcError, match="numerator"):
        matcalc.derive("a'*x", wrt="x", layout="mixed")


def test_derivation_record():
    d = matcalc.derive(CE, wrt="W", assume=["sum(y) = 1"])
    data = d.as_dict()
    assert data["result"] == str(d) and data["kind"] == "scalar-by-matrix"
    assert data["assumptions"] == ["sum(y) = 1"]
    assert d.latex.startswith(r"\left(\operatorname{softmax}")
    assert "def d_dW(W, b, x, y)" in d.numpy_source


def test_latex_input_gives_the_same_derivation():
    ascii_d = matcalc.derive(CE, wrt="W", assume=["sum(y) = 1"])
    latex_d = matcalc.derive(r"-y^T \log(\mathrm{softmax}(Wx+b))", wrt="W", assume=["sum(y) = 1"])
    assert str(ascii_d) == str(latex_d)


def test_shape_error_names_both_shapes():
    with pytest.raises(ShapeError, match=r"W\*x: c×d times e×1"):
        matcalc.derive("W*x + b", wrt="W", shapes={"W": ("c", "d"), "x": ("e",)})


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("expression,wrt,numerator", [
    ("x'", "x", "I"),
    ("x'*A", "x", "A'"),
    ("alpha*x'", "alpha", "x"),
    ("sigmoid(W*x)'", "x", "diag(sigmoid(W*x) .* (1 - sigmoid(W*x)))*W"),
])
def test_row_vector_functions_have_their_transposes_jacobian(expression, wrt, numerator, layout):
    """A row vector f' has the entries of f: ∂f_i/∂x_j, the same Jacobian (issue 10: `x'` wrt x is I)."""
    from oracle import max_error_against_truth

    d = matcalc.derive(expression, wrt=wrt, layout=layout)
    assert max_error_against_truth(d) < 1e-6, str(d)
    if layout == "numerator":
        assert matcalc.verify(expression, wrt=wrt, claim=numerator, layout="numerator").ok
