"""Random well-shaped expressions (depth up to 5): every derivative matches finite differences.

Names have fixed shapes with distinct sizes: x, y are n-vectors, z a k-vector, A and C n×n, B n×k,
alpha a scalar. The generator only builds expressions that are defined everywhere (log and division
see 1 + v.^2), so a failure is a wrong derivative, not a domain accident.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.check import numeric

from oracle import TOLERANCE, arrays, instances, printed_value, truth

SHAPES = {"x": ("n",), "y": ("n",), "z": ("k",), "A": ("n", "n"), "C": ("n", "n"), "B": ("n", "k"),
          "alpha": ()}
SMOOTH = ["sin", "cos", "tanh", "sigmoid", "arctan", "exp"]


def vector(depth):
    leaves = st.sampled_from(["x", "y", "(B*z)", "(A*x)"])
    if depth <= 0:
        return leaves
    sub = vector(depth - 1)
    mat = matrix(depth - 1)
    sca = scalar(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(lambda p: f"({p[0]} + {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"({p[0]} - {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"({p[0]} .* {p[1]})"),
        st.tuples(st.sampled_from(SMOOTH), sub).map(lambda p: f"{p[0]}(0.3*{p[1]})"),
        st.tuples(mat, sub).map(lambda p: f"({p[0]}*{p[1]})"),
        st.tuples(sca, sub).map(lambda p: f"(sin({p[0]})*{p[1]})"),
        sub.map(lambda v: f"softmax({v})"),
        sub.map(lambda v: f"({v} ./ (1 + {v}.^2))"),
    )


def matrix(depth):
    leaves = st.sampled_from(["A", "C", "A'", "(B*B')"])
    if depth <= 0:
        return leaves
    sub = matrix(depth - 1)
    vec = vector(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(lambda p: f"({p[0]} + {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"({p[0]}*{p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"({p[0]} .* {p[1]})"),
        sub.map(lambda m: f"({m})'"),
        vec.map(lambda v: f"diag({v})"),
        st.tuples(vec, vec).map(lambda p: f"({p[0]})*({p[1]})'"),
    )


def scalar(depth):
    leaves = st.sampled_from(["alpha", "(x'*y)", "sum(x)"])
    if depth <= 0:
        return leaves
    vec = vector(depth - 1)
    mat = matrix(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(vec, vec).map(lambda p: f"({p[0]})'*{p[1]}"),
        vec.map(lambda v: f"sum({v})"),
        vec.map(lambda v: f"norm2({v})^2"),
        vec.map(lambda v: f"logsumexp({v})"),
        vec.map(lambda v: f"sum(log(1 + {v}.^2))"),
        mat.map(lambda m: f"tr({m})"),
        st.tuples(vec, mat, vec).map(lambda p: f"({p[0]})'*{p[1]}*{p[2]}"),
    )


@st.composite
def problems(draw):
    depth = draw(st.integers(min_value=1, max_value=5))
    scalar_valued = draw(st.booleans())
    text = draw(scalar(depth) if scalar_valued else vector(depth))
    names = [n for n in SHAPES if n in text.replace("alpha", "α") or (n == "alpha" and "alpha" in text)]
    wrt = draw(st.sampled_from(sorted(names)))
    if not scalar_valued and len(SHAPES[wrt]) == 2:  # a vector by a matrix is a 3-tensor: take a scalar of it
        text = f"sum({text})"
    layout = draw(st.sampled_from(["denominator", "numerator"]))
    return text, wrt, layout


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(problems())
def test_random_expression_derivative_matches_finite_differences(problem):
    text, wrt, layout = problem
    shapes = {n: s for n, s in SHAPES.items() if n in text}
    d = matcalc.derive(text, wrt=wrt, shapes=shapes, layout=layout)
    for inst in instances(d, count=1, seed=3):
        want = truth(d, inst)
        got = np.asarray(d.to_numpy()(**arrays(d, inst)), dtype=float)
        if got.ndim == 0 and want.ndim:
            got = np.broadcast_to(got, want.shape)
        assert numeric.relative_error(got.reshape(want.shape), want) < TOLERANCE, (text, wrt, str(d))
        printed = np.asarray(printed_value(d, inst), dtype=float)
        if printed.ndim == 0 and want.ndim:
            printed = np.broadcast_to(printed, want.shape)
        assert numeric.relative_error(printed.reshape(want.shape), want) < TOLERANCE, (text, wrt, str(d))
