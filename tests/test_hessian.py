"""Second order: Hessians of scalar functions of a vector, and Hessian-vector products for matrices,
checked against finite differences of an independent gradient (HIPS autograd)."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc
from matcalc.compile.codegen import Plan
from matcalc.errors import UnsupportedError

from oracle import arrays, instances, same_modulo_order

HESSIANS = [
    ("x'*A*x", "x", [], "A + A'"),
    ("norm2(A*x - b)^2", "x", [], "2*A'*A"),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"],
     "X'*diag(sigmoid(y .* (X*w)) .* (1 - sigmoid(y .* (X*w))))*X"),
    ("logsumexp(x)", "x", [], "diag(softmax(x)) - softmax(x)*softmax(x)'"),
]


def autograd_gradient_function(d, env):
    plan = Plan({"value": d.typed.root}, set(d.typed.dims), xp=anp)

    def f(x):
        local = dict(env)
        local[d.wrt] = x
        return plan(**local)["value"]

    return autograd.grad(f)


def fd_of_gradient(d, env, direction=None, h=1e-6):
    grad = autograd_gradient_function(d, env)
    x0 = np.asarray(env[d.wrt], dtype=float)
    if direction is not None:
        return (grad(x0 + h * direction) - grad(x0 - h * direction)) / (2 * h)
    cols = []
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e.flat[i] = h
        cols.append((grad(x0 + e) - grad(x0 - e)) / (2 * h))
    return np.array(cols)  # row i: ∂∇f/∂x_i (denominator layout)


@pytest.mark.parametrize("expression,wrt,assume,expected", HESSIANS)
def test_hessian_textbook_form_and_value(expression, wrt, assume, expected):
    d = matcalc.derive(expression, wrt=wrt, assume=assume, order=2)
    assert str(d) == expected or same_modulo_order(d, expected), str(d)
    for inst in instances(d, count=2, seed=4):
        env = arrays(d, inst)
        got = d.to_numpy()(**env)
        want = fd_of_gradient(d, env)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6)
        assert np.allclose(got, got.T, atol=1e-10)


@pytest.mark.parametrize("expression", ["logdet(X)", "tr(X*A*X)", "sum(exp(X))", "norm2(A*X*B - C)^2"])
def test_hessian_vector_product_for_a_matrix_variable(expression):
    d = matcalc.derive(expression, wrt="X", order=2, direction="V")
    assert d.shape == d.typed.names["X"].shape
    for inst in instances(d, count=2, seed=9):
        env = arrays(d, inst)  # the direction V is drawn like every other input
        got = d.to_numpy()(**env)
        want = fd_of_gradient(d, {k: v for k, v in env.items() if k != "V"}, direction=env["V"])
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_matrix_hessian_says_what_to_do_instead():
    with pytest.raises(UnsupportedError, match="4-tensor.*Hessian-vector product"):
        matcalc.derive("logdet(X)", wrt="X", order=2)


def test_hessian_in_numerator_layout_is_the_same_symmetric_matrix():
    d = matcalc.derive("x'*A*x", wrt="x", order=2, layout="numerator")
    assert same_modulo_order(d, "A + A'")


@pytest.mark.parametrize("expression,wrt,assume,expected", HESSIANS)
def test_verify_accepts_the_right_hessian_and_rejects_a_wrong_one(expression, wrt, assume, expected):
    right = matcalc.verify(expression, wrt=wrt, claim=expected, assume=assume, order=2)
    assert right.ok and right.max_relative_error < 1e-6
    wrong = matcalc.verify(expression, wrt=wrt, claim=f"2*({expected})", assume=assume, order=2)
    assert not wrong.ok and wrong.kind == "factor"
