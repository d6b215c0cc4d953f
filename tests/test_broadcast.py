"""A scalar broadcast against a vector or matrix keeps its value on every path (issue 19).

The reproducers of the outside testers: each derived gradient, printed and read back, is compared with
central finite differences of the original expression and with autograd, in both layouts, on instances
whose dimensions are all different. They were wrong because a broadcast scalar inside a Hadamard or a
matrix product was read as 1 (`g .* (x - alpha)` became `g .* (x - 1)`).
"""

import pytest

import matcalc

from oracle import TOLERANCE, autograd_gradient, instances, max_error_against_truth, printed_value

VECTORS = {"gamma": ("n",), "x": ("n",), "g": ("n",), "u": ("n",)}
LAYER_NORM = "g'*(gamma .* (x - sum(x)/n)/sqrt(norm2(x - sum(x)/n)^2/n + eps) + beta)"

CASES = [
    ("g'*(gamma .* (x - alpha))", "gamma", "g .* (x - alpha)"),
    ("g'*(gamma .* (x - sum(x)/n))", "gamma", None),
    ("g'*((x - sum(x))/sum(x) + beta)", "x", None),
    (LAYER_NORM, "x", None),
    (LAYER_NORM, "gamma", None),
    ("sum((u - alpha).^2 .* x)", "x", None),
    ("norm2(beta*A - sqrt(1 + 0.5^2))^2", "beta", None),
    ("sum(exp(alpha*x - beta) .* u)", "x", None),
    ("sum((alpha - x) ./ (u .* u + beta))", "x", None),
    ("sum(A*(x - alpha) - beta*ones(p))", "x", None),
    ("g'*(A - alpha)*x", "x", None),
    ("sum((A + beta) .* (A - alpha))", "A", None),
    ("g'*((x - alpha) .^ 2 .* (u - beta))", "u", None),
    ("sum(log(1 + exp(x - alpha)))", "alpha", None),
]


@pytest.mark.parametrize("expression,wrt,expected", CASES)
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_broadcast_scalar_keeps_its_value(expression, wrt, expected, layout):
    d = matcalc.derive(expression, wrt=wrt, shapes=VECTORS, layout=layout)
    if expected is not None and layout == "denominator":
        assert str(d) == expected
    assert max_error_against_truth(d, count=3, seed=7) < TOLERANCE, str(d)


@pytest.mark.parametrize("expression,wrt,expected", CASES)
def test_broadcast_gradient_matches_autograd(expression, wrt, expected):
    import numpy as np

    d = matcalc.derive(expression, wrt=wrt, shapes=VECTORS)
    for inst in instances(d, count=2, seed=3):
        ours = np.asarray(printed_value(d, inst), dtype=float)
        theirs = np.asarray(autograd_gradient(d, inst), dtype=float).reshape(ours.shape)
        assert np.allclose(ours, theirs, rtol=1e-7, atol=1e-9 * (1 + np.abs(theirs).max())), str(d)


@pytest.mark.parametrize("expression,wrt,expected", CASES)
def test_broadcast_answer_pasted_back_is_correct(expression, wrt, expected):
    d = matcalc.derive(expression, wrt=wrt, shapes=VECTORS)
    v = matcalc.verify(expression, wrt=wrt, claim=str(d), shapes=VECTORS)
    assert v.ok, v.diagnosis
