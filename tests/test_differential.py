"""`--method differential`: the steps as df = tr(G' dZ) (the differential method, 矩阵求导术).

Each line claims that the differential of f equals tr(G' dZ) for the quantity Z it is written in. That
is checked numerically, line by line, against central differences along a random direction V of the
variable: df = (f(X + hV) - f(X - hV)) / 2h and dZ likewise, on instances whose dimensions all differ
(drawn to honour the assumptions, since a line after `by sum(y) = 1` holds only where it does)."""

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.app import main
from matcalc.compile.codegen import evaluate
from matcalc.engine.differential import differential_steps
from matcalc.errors import UnsupportedError

from oracle import arrays_and_sizes, instances

PROBLEMS = [
    ("-y'*log(softmax(W*x + b))", "W", ["sum(y) = 1"]),
    ("-y'*log(softmax(W*x + b))", "b", []),
    ("logdet(X)", "X", []),
    ("tr(A*X*B)", "X", []),
    ("x'*A*x", "x", []),
    ("norm2(A*x - y)^2", "x", []),
    ("sum(relu(W*x + b) .* c)", "W", []),
    ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "W", ["Y one-hot"]),
    ("alpha^2*sum(exp(alpha*x))", "alpha", []),
    ("tr(inv(X)*A)", "X", []),
]


def _value(node, d, env):
    return np.asarray(evaluate(node, d.typed.dims, env), dtype=float)


@pytest.mark.parametrize("expression,wrt,assume", PROBLEMS)
def test_every_differential_line_holds_along_a_random_direction(expression, wrt, assume):
    d = matcalc.derive(expression, wrt=wrt, assume=assume)
    steps = differential_steps(d)
    assert steps and not steps[0].continued
    rng = np.random.default_rng(3)
    h = 1e-6
    for inst in instances(d, count=3):
        env = arrays_and_sizes(d, inst)
        x0 = np.asarray(env[wrt], dtype=float)
        v = rng.standard_normal(x0.shape)

        def at(node, t):
            local = dict(env)
            local[wrt] = x0 + t * v
            return _value(node, d, local)

        df = float((at(d.typed.root, h) - at(d.typed.root, -h)).sum() / (2 * h))
        for st in steps:
            dz = (at(st.target, h) - at(st.target, -h)) / (2 * h)
            g = _value(st.gradient, d, env)
            g = np.broadcast_to(g, dz.shape) if g.size == 1 and dz.size > 1 else g.reshape(dz.shape)
            claimed = float(np.sum(g * dz))                # tr(G' dZ) = sum of G .* dZ
            if st.whole:
                assert abs(claimed - df) <= 1e-5 * max(1.0, abs(df)), (st.text, claimed, df)
            else:                                          # one term of df: it says so, and it is not all of df
                assert st.text.endswith(" + …"), st.text
                assert abs(claimed - df) > 1e-3 * max(1.0, abs(df)), (st.text, claimed, df)
        assert steps[-1].whole                             # the last line is all of df, in dX


def test_the_last_line_is_the_gradient():
    d = matcalc.derive("-y'*log(softmax(W*x + b))", wrt="W", assume=["sum(y) = 1"])
    last = differential_steps(d)[-1]
    assert last.target is d.typed.names["W"]
    assert last.text == "df = tr(x*(softmax(W*x + b) - y)'*dW)"


def test_cli_writes_the_differentials():
    result = CliRunner().invoke(main, ["derive", "-y'*log(softmax(W*x + b))", "--wrt", "W", "--assume",
                                       "sum(y) = 1", "--method", "differential"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "   1. df = -y'*d log(s)" in out
    assert "   2. df = (-y' ./ s')*ds" in out
    assert "   5. df = tr(x*(s - y)'*dW)" in out      # a transposed sum printed as one (issue 24)
    assert "  so ∂f/∂W = (s - y)*x'  (denominator layout: G itself)" in out
    numerator = CliRunner().invoke(main, ["derive", "x'*A*x", "--wrt", "x", "--method", "differential",
                                          "--layout", "numerator"])
    assert "so ∂f/∂x = x'*(A + A')  (numerator layout" in numerator.output
    assert "   1. df = d(x')*A*x + …" in numerator.output          # x' is one of x's two occurrences


def test_a_vector_function_gets_its_differential_not_steps():
    with pytest.raises(UnsupportedError):
        differential_steps(matcalc.derive("A*x", wrt="x"))         # the steps are df = tr(G' dZ): scalars only
    result = CliRunner().invoke(main, ["derive", "A*x", "--wrt", "x", "--method", "differential"])
    assert result.exit_code == 0, result.output
    assert "df = A*dx" in result.output and "Jacobian (numerator layout) is  A" in result.output


def test_the_library_gives_the_same_lines():
    d = matcalc.derive("logdet(X)", wrt="X")
    assert [s.text for s in d.differentials] == ["df = tr(inv(X)*dX)"]
