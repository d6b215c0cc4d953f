"""The engine holds itself to the checker's standard (issue 19): every derivative matcalc returns or
prints is compared with the expression numerically first, and a result that disagrees is never shown.

Each entry point's result carries its evidence (`.checked`: instances, directions, the largest relative
error against central differences of the expression); a result made wrong on purpose (the engine's
output swapped for a wrong one) raises InternalError naming the expression, the CLI exits with code 4
and prints no answer, and the web API answers with the error, not the result. The truth the guard
uses is measured here too, from outside matcalc (tests/oracle.py), so a guard that passes anything fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.api import differential, kronecker, tensor_index
from matcalc.check import guard
from matcalc.cli.app import main
from matcalc.engine import derive as engine
from matcalc.errors import InternalError, MatcalcError
from matcalc.language import expr as E

from oracle import TOLERANCE, max_error_against_truth

CASES = [
    ("a'*x", "x", (), 1, None),
    ("x'*A*x", "x", (), 1, None),
    ("tr(inv(X)*A)", "X", (), 1, None),
    ("-y'*log(softmax(W*x + b))", "W", ("sum(y) = 1",), 1, None),
    ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "W", ("Y one-hot",), 1, None),
    ("sum(relu(W*x + b))", "W", (), 1, None),
    ("W*x + b", "x", (), 1, None),
    ("softmax(z)", "z", (), 1, None),
    ("logdet(X)", "X", ("X positive definite",), 1, None),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ("y in {-1, 1}",), 2, None),
    ("norm2(A*x - b)^2", "x", (), 2, None),
    ("logdet(X)", "X", (), 2, "V"),
    ("g'*(gamma .* (x - sum(x)/n)/sqrt(norm2(x - sum(x)/n)^2/n + eps) + beta)", "x", (), 1, None),
]
SHAPES = {"gamma": ("n",), "x": ("n",), "g": ("n",)}


def _shapes(expression):
    return SHAPES if "gamma" in expression else None


@pytest.mark.parametrize("expression,wrt,assume,order,direction", CASES)
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_every_derivation_says_what_was_checked(expression, wrt, assume, order, direction, layout):
    d = matcalc.derive(expression, wrt=wrt, shapes=_shapes(expression), assume=assume, layout=layout,
                       order=order, direction=direction)
    assert d.checked is not None and d.checked.ok, d.checked
    assert d.checked.instances >= 1 and d.checked.largest_error < 1e-5
    assert "checked against" in str(d.checked)
    assert d.as_dict()["checked"]["instances"] == d.checked.instances
    if order == 1:                                   # the guard's pass is the oracle's pass
        assert max_error_against_truth(d, count=2, seed=11) < TOLERANCE
        fn = d.to_numpy()
        assert fn.checked.ok and fn.checked.largest_error < 1e-9


def test_the_other_forms_say_what_was_checked():
    k = kronecker("A*X*B", "X")
    assert k.checked.ok and "vec/Kronecker" in str(k.checked)
    assert k.source().startswith("import numpy")
    dF = differential("inv(X)", "X")
    assert dF.checked.ok and dF.checked.largest_error < 1e-5
    t = tensor_index("W*x + b", "W")
    assert t == "df_i/dW_kl = delta_ik*x_l" and t.checked.ok
    d = matcalc.derive("softmax(z)", wrt="z")
    assert d.index.startswith("df_j/dz_i")


def _wrong_first_derivative(monkeypatch, make_wrong):
    """The engine's gradient replaced by a wrong one (as the broadcast fault of issue 19 made it)."""
    real = engine._first_derivative

    def wrong(f, x, simplifier, plain, steps, *rest):
        return make_wrong(real(f, x, simplifier, plain, steps, *rest))

    monkeypatch.setattr(engine, "_first_derivative", wrong)


def test_a_wrong_gradient_is_never_returned(monkeypatch):
    # the fault: g .* (x - 1) printed for g .* (x - alpha)
    _wrong_first_derivative(monkeypatch, lambda node: E.add(node, E.sym("g", node.shape)))
    with pytest.raises(InternalError) as err:
        matcalc.derive("g'*(gamma .* (x - alpha))", wrt="gamma", shapes=SHAPES)
    text = str(err.value)
    assert "g'*(gamma .* (x - alpha))" in text and "internal error" in text and "not shown" in text
    assert isinstance(err.value, MatcalcError)


def test_a_wrong_gradient_exits_4_and_prints_no_answer(monkeypatch):
    _wrong_first_derivative(monkeypatch, lambda node: E.mul(E.num(2), node))
    result = CliRunner().invoke(main, ["derive", "x'*A*x", "--wrt", "x"])
    assert result.exit_code == 4, result.output
    assert "internal error" in result.output and "x'*A*x" in result.output
    assert "(A + A')*x" not in result.output
    for fmt in ("json", "latex", "numpy", "index", "markdown"):
        result = CliRunner().invoke(main, ["derive", "x'*A*x", "--wrt", "x", "--format", fmt])
        assert result.exit_code == 4, (fmt, result.output)


def test_a_wrong_hessian_is_never_returned(monkeypatch):
    real = engine._second_derivative

    def wrong(*args):
        return E.mul(E.num(3), real(*args))

    monkeypatch.setattr(engine, "_second_derivative", wrong)
    with pytest.raises(InternalError, match="Hessian"):
        matcalc.derive("norm2(A*x - b)^2", wrt="x", order=2)
    with pytest.raises(InternalError, match="Hessian-vector product"):
        matcalc.derive("logdet(X)", wrt="X", order=2, direction="V")


def test_wrong_code_is_never_returned(monkeypatch):
    from matcalc.compile import codegen

    d = matcalc.derive("x'*A*x", wrt="x")
    real = codegen.compile_derivation

    def wrong(derivation):
        fn = real(derivation)

        def shifted(**arrays):
            return fn(**arrays) + 1e-3
        return shifted

    monkeypatch.setattr(codegen, "compile_derivation", wrong)
    with pytest.raises(InternalError, match="compiled code"):
        d.to_numpy()


def test_a_wrong_kronecker_jacobian_is_never_returned(monkeypatch):
    from matcalc.engine import kronecker as engine_kronecker

    real = engine_kronecker._Reader.jacobian

    def wrong(self, dF):
        return E.transpose(real(self, dF))        # the classic slip: kron(B', A) as its transpose

    monkeypatch.setattr(engine_kronecker._Reader, "jacobian", wrong)
    with pytest.raises(InternalError, match="Kronecker"):
        kronecker("A*X*B", "X", shapes={"A": ("n", "n"), "X": ("n", "n"), "B": ("n", "n")})


def test_a_wrong_differential_is_never_returned(monkeypatch):
    from matcalc.engine import forward

    real = forward.Forward._rule

    def wrong(self, n):
        out = real(self, n)
        return E.transpose(out) if n.op == "fn" and n.attr == "inv" else out

    monkeypatch.setattr(forward.Forward, "_rule", wrong)
    with pytest.raises(InternalError, match="differential"):
        differential("inv(X)", "X")


def test_the_web_api_never_shows_a_wrong_result(monkeypatch):
    from matcalc.web import handlers

    _wrong_first_derivative(monkeypatch, lambda node: E.mul(E.num(-1), node))
    with pytest.raises(InternalError):
        handlers.derive({"expression": "x'*A*x", "wrt": "x"})


def test_evidence_says_why_when_nothing_can_be_checked():
    # defined nowhere on the reals: the derivation is returned, its evidence says it was not checked and why
    d = matcalc.derive("sum(log(-exp(x)))", wrt="x")
    assert not d.checked.ok
    assert "could not be checked" in str(d.checked) and d.checked.reason


def test_the_guard_measures_what_the_oracle_measures():
    """The guard's directional comparison against a wrong answer of the right shape: caught by the
    numbers alone (not by any symbolic test), for a handful of wrong gradients."""
    for expression, wrt, wrong in [("x'*A*x", "x", "2*A*x"), ("tr(A*X)", "X", "2*A'"),
                                   ("sum(exp(x - alpha))", "alpha", "sum(exp(x))"),
                                   ("g'*(gamma .* (x - alpha))", "gamma", "g .* (x - 1)")]:
        d = matcalc.derive(expression, wrt=wrt, shapes=SHAPES if "gamma" in expression else None)
        from matcalc.language.shapes import elaborate_many

        spec = {n: () if s == (1, 1) else (s[0],) if s[1] == 1 else s for n, s in d.shapes.items()}
        _, (node,) = elaborate_many(d.expression, spec, (wrong,), targets=[d.result.shape])
        d.result = d.denominator = node
        with pytest.raises(InternalError):
            guard.check_derivation(d)


def test_guard_tolerance_is_not_loose():
    assert guard.CHEAP <= 1e-5
    np.testing.assert_array_less(0, guard.STEP)


def test_check_never_prints_a_wrong_answer_of_matcalcs(monkeypatch):
    """`matcalc check` quotes matcalc's own answer only where the numbers agree with it: a wrong one is set
    aside (said in a note), and the verdict on the user's claim rests on the measured derivative."""
    _wrong_first_derivative(monkeypatch, lambda node: E.mul(E.num(2), node))
    right = matcalc.verify("x'*A*x", wrt="x", claim="(A + A')*x")
    assert right.ok and right.expected is None, right
    assert any("not shown" in n for n in right.notes), right.notes
    wrong = matcalc.verify("x'*A*x", wrt="x", claim="2*(A + A')*x")
    assert not wrong.ok and wrong.expected is None
    assert "2*(A + A')*x" not in wrong.diagnosis.replace("your answer", "")
