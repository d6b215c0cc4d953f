"""The differential dF (`matcalc.forward.differential`, `derive --method differential` for matrix functions).

Every differential is evaluated with a random direction V in place of dX and compared with central
differences of the original expression along V, (F(X + hV) - F(X - hV)) / 2h, on instances whose
dimensions all differ. Every `differential` row of rules/functions.toml is checked the same way."""

import numpy as np
import pytest
from click.testing import CliRunner

from matcalc.cli.app import main
from matcalc.compile.codegen import evaluate
from matcalc.engine.forward import differential
from matcalc.tables import functions

from oracle import well_conditioned_instance

COOKBOOK = [
    # (expression, variable, the printed differential)
    ("A*X*B", "X", "df = A*dX*B"),
    ("X'", "X", "df = dX'"),
    ("inv(X)", "X", "df = -inv(X)*dX*inv(X)"),
    ("X'*X", "X", "df = dX'*X + X'*dX"),
    ("X*A*X'", "X", "df = dX*A*X' + X*A*dX'"),
    ("det(X)", "X", "df = det(X)*tr(inv(X)*dX)"),
    ("logdet(X)", "X", "df = tr(inv(X)*dX)"),
    ("exp(X)", "X", "df = dX .* exp(X)"),
    ("W*x + b", "W", "df = dW*x"),
    ("X^3", "X", None),
    ("x*x'", "x", None),
    ("sigmoid(W*x)", "x", None),
    ("softmax(W*x)", "W", None),
    ("softmax_rows(X*W)", "W", None),
    ("logsumexp_rows(X*W)", "W", None),
    ("-y'*log(softmax(W*x + b))", "W", None),
    ("X .* A", "X", "df = A .* dX"),
    ("alpha*A", "alpha", "df = dalpha*A"),
    ("inv(X)*b", "X", None),
    ("norm2(A*x - b)", "x", None),
]


def _check(expression, wrt, shapes=None):
    dF = differential(expression, wrt, shapes)
    typed = dF.typed
    rng = np.random.default_rng(11)
    h = 1e-6
    for seed in range(3):
        env = well_conditioned_instance(typed, seed)
        x0 = np.asarray(env[wrt], dtype=float)
        v = rng.standard_normal(x0.shape) if x0.ndim else float(rng.standard_normal())

        def f(t):
            local = dict(env)
            local[wrt] = x0 + t * v
            return np.asarray(evaluate(typed.root, typed.dims, local), dtype=float)

        truth = (f(h) - f(-h)) / (2 * h)
        local = dict(env)
        local[dF.dx.attr] = v
        got = np.asarray(evaluate(dF.node, typed.dims, local), dtype=float)
        got = np.broadcast_to(got, truth.shape) if got.size == 1 else got.reshape(truth.shape)
        scale = max(1.0, np.abs(truth).max())
        assert np.abs(got - truth).max() < 1e-6 * scale, (dF.text, np.abs(got - truth).max())
    return dF


@pytest.mark.parametrize("expression,wrt,printed", COOKBOOK, ids=[c[0] + " wrt " + c[1] for c in COOKBOOK])
def test_differential_agrees_with_finite_differences_along_a_direction(expression, wrt, printed):
    dF = _check(expression, wrt)
    if printed is not None:
        assert dF.text == printed


ARGUMENT = {"vector": ("z", None), "square": ("X", None), "matrix": ("M", None), "any": ("M", None)}


@pytest.mark.parametrize("row", [r for r in functions().values() if r.kind != "elementwise"], ids=lambda r: r.name)
def test_every_differential_row_of_the_function_table(row):
    """The `differential` column of rules/functions.toml, row by row, against finite differences."""
    assert row.differential, f"{row.name} has no differential"
    arg = {"vector": "z", "square": "X"}.get(row.arg, "M")
    if row.kind == "tomatrix":
        arg = "z"
    _check(f"{row.printed}({arg}, {row.axis})" if row.axis else f"{row.printed}({arg})", arg)


def test_elementwise_rows_use_their_derivative():
    for row in functions().values():
        if row.arity == 2:                   # max(M, N), min(M, N): both partials, along a direction of M
            _check(f"{row.printed}(M, 2*M + N)", "M")
        elif row.kind == "elementwise" and row.name not in ("relu", "step", "sign", "abs"):
            domain_safe = "exp(M)" if row.domain != "real" else "M"     # log, sqrt, arcsin: a positive argument
            if row.name in ("arcsin", "arccos"):
                domain_safe = "sigmoid(M)"
            _check(f"{row.printed}({domain_safe})", "M")


def test_cli_writes_the_differential_of_a_matrix_function():
    result = CliRunner().invoke(main, ["derive", "inv(X)", "--wrt", "X", "--method", "differential"])
    assert result.exit_code == 0, result.output
    assert "df = -inv(X)*dX*inv(X)" in result.output
    assert "df_ij/dX_kl = -inv(X)_ik*inv(X)_lj" in result.output
    jac = CliRunner().invoke(main, ["derive", "W*x", "--wrt", "x", "--method", "differential"])
    assert "df = W*dx" in jac.output and "Jacobian (numerator layout) is  W" in jac.output


# ---------------------------------------------------------------- differential claims in verify / check

import matcalc  # noqa: E402

RIGHT = [
    ("inv(X)", "X", "dF = -inv(X)*dX*inv(X)"),
    ("inv(X)", "X", "dF = -(inv(X)*dX)*inv(X)"),
    ("X'*X", "X", "dF = dX'*X + X'*dX"),
    ("X'*X", "X", "dF = (X'*dX)' + X'*dX"),
    ("A*X*B", "X", "dF = A*dX*B"),
    ("W*x + b", "W", "dz = dW*x"),
    ("x'*A*x", "x", "df = x'*(A + A')*dx"),
    ("logdet(X)", "X", "df = tr(inv(X)*dX)"),
    ("det(X)", "X", "df = det(X)*tr(inv(X)*dX)"),
    ("sigmoid(W*x)", "x", "ds = sigmoid(W*x) .* (1 - sigmoid(W*x)) .* (W*dx)"),
    ("relu(X + 3)", "X", "dF = dX .* step(X + 3)"),
    ("sigmoid(10*X)", "X", "dF = 10*sigmoid(10*X) .* (1 - sigmoid(10*X)) .* dX"),   # saturates at 10× spread
]

WRONG = [
    ("inv(X)", "X", "dF = inv(X)*dX*inv(X)", "sign"),
    ("inv(X)", "X", "dF = -inv(X)*dX'*inv(X)", "transpose"),
    ("inv(X)", "X", "dF = -2*inv(X)*dX*inv(X)", "factor"),
    ("inv(X)", "X", "dF = -inv(X)*inv(X)*dX", None),
    ("X'*X", "X", "dF = 2*X'*dX", None),
    ("x'*A*x", "x", "df = 2*x'*A*dx", None),            # right only for a symmetric A
    ("logdet(X)", "X", "df = tr(inv(X)'*dX)", "transpose"),
    ("A*X*B", "X", "dF = B*dX*A", "shape"),
    ("sigmoid(W*x)", "x", "ds = sigmoid(W*x) .* (W*dx)", None),
    ("relu(X + 3)", "X", "dF = dX", None),               # right wherever X > -3: the usual spread rarely leaves it
    ("sum(abs(x - 2))", "x", "df = -sum(dx)", None),       # right only where x < 2
]


@pytest.mark.parametrize("expression,wrt,claim", RIGHT)
def test_a_right_differential_claim_is_accepted(expression, wrt, claim):
    v = matcalc.verify(expression, wrt=wrt, claim=claim)
    assert v.ok, (claim, v.status, v.diagnosis)


@pytest.mark.parametrize("expression,wrt,claim,kind", WRONG)
def test_a_wrong_differential_claim_is_rejected(expression, wrt, claim, kind):
    v = matcalc.verify(expression, wrt=wrt, claim=claim)
    assert not v.ok, (claim, v.status, v.diagnosis)
    assert v.kind == kind, (claim, v.kind, v.diagnosis)
    if kind != "shape":
        assert str(differential(expression, wrt)) in v.diagnosis


def test_check_cli_reads_a_differential():
    ok = CliRunner().invoke(main, ["check", "inv(X)", "--wrt", "X", "--claim", "dF = -inv(X)*dX*inv(X)"])
    assert ok.exit_code == 0 and "CORRECT" in ok.output, ok.output
    bad = CliRunner().invoke(main, ["check", "inv(X)", "--wrt", "X", "--claim", "dF = inv(X)*dX*inv(X)"])
    assert bad.exit_code == 1 and "wrong sign" in bad.output, bad.output
