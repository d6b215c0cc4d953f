"""Derivatives with no matrix form, entry by entry (`matcalc.tensor_index`, `derive --format index`).

The Matrix Cookbook's matrix-valued rows and the seed post's ∂z_i/∂W_kl: every entry of the printed
index form is compared with central differences of every entry of the expression, perturbing every entry
of the variable, on instances whose dimensions all differ. The text must also read back as a claim that
`matcalc.verify` accepts, and with two indices swapped must be rejected."""

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.app import main
from matcalc.compile.codegen import evaluate
from matcalc.errors import MatcalcError
from matcalc.compile.index_eval import index_values
from matcalc.language.index_parse import parse_index_derivative
from matcalc.language.shapes import elaborate

from oracle import well_conditioned_instance

CASES = [
    # expression, variable, shapes, the textbook entry (for the reader; the numbers decide)
    ("W*x", "W", None, "δ_ik x_l"),
    ("W*x + b", "W", None, "δ_ik x_l"),
    ("A*X*B", "X", None, "A_ik B_lj"),
    ("X'", "X", None, "δ_il δ_jk"),
    ("inv(X)", "X", None, "-inv(X)_ik inv(X)_lj"),
    ("X'*X", "X", None, "X_ki δ_jl + X_kj δ_il"),
    ("X*A*X'", "X", None, "δ_ik (X A')_jl + δ_jk (X A)_il"),
    ("exp(X)", "X", None, "δ_ik δ_jl exp(X_kl)"),
    ("x*x'", "x", None, "δ_ik x_j + δ_jk x_i"),
    ("softmax(W*x)", "W", None, "s_i (δ_ik - s_k) x_l"),
    ("sigmoid(W*x)", "W", None, "δ_ik σ_k (1 - σ_k) x_l"),
    ("X .* A", "X", None, "δ_ik δ_jl A_kl"),
]


def _finite_differences(typed, wrt, env, h=1e-6):
    """truth[f entries..., variable entries...]: ∂F_ij/∂X_kl by central differences of every entry."""
    x0 = np.asarray(env[wrt], dtype=float)

    def f(x):
        local = dict(env)
        local[wrt] = x
        return np.asarray(evaluate(typed.root, typed.dims, local), dtype=float)

    out = f(x0)
    out_axes = tuple(n for n in out.shape if n != 1) if out.ndim else ()
    var_axes = tuple(n for n in x0.shape if n != 1)
    truth = np.zeros(out_axes + var_axes)
    for flat in range(x0.size):
        idx = np.unravel_index(flat, x0.shape)
        up, down = x0.copy(), x0.copy()
        up[idx] += h
        down[idx] -= h
        column = ((f(up) - f(down)) / (2 * h)).reshape(out_axes)
        truth[(...,) + np.unravel_index(flat, var_axes)] = column
    return truth


@pytest.mark.parametrize("expression,wrt,shapes,textbook", CASES, ids=[c[0] + " wrt " + c[1] for c in CASES])
def test_every_entry_agrees_with_finite_differences(expression, wrt, shapes, textbook):
    text = matcalc.tensor_index(expression, wrt, shapes)
    lhs, rhs = text.split(" = ", 1)
    _, num_idx, den, den_idx = parse_index_derivative(lhs)
    assert den == wrt and len(num_idx) + len(den_idx) >= 3, text
    free = tuple(num_idx) + tuple(den_idx)
    for seed in range(3):
        typed = elaborate(expression, shapes)
        env = well_conditioned_instance(typed, seed)
        truth = _finite_differences(typed, wrt, env)
        ranges = dict(zip(free, truth.shape))
        got = index_values(rhs, free, shapes, env, ranges)
        assert got.shape == truth.shape, (text, got.shape, truth.shape)
        scale = max(1.0, np.abs(truth).max())
        assert np.abs(got - truth).max() < 1e-6 * scale, (text, np.abs(got - truth).max())


@pytest.mark.parametrize("expression,wrt", [("W*x", "W"), ("inv(X)", "X"), ("A*X*B", "X"), ("X'*X", "X")])
def test_the_index_form_reads_back_as_a_claim(expression, wrt):
    text = matcalc.tensor_index(expression, wrt)
    assert matcalc.verify(expression, wrt=wrt, claim=text).ok, text
    lhs, rhs = text.split(" = ", 1)
    swapped = lhs[:-2] + lhs[-1] + lhs[-2] + " = " + rhs      # dX_kl -> dX_lk: the transposed variable
    assert not matcalc.verify(expression, wrt=wrt, claim=swapped).ok, swapped


def test_textbook_forms():
    assert matcalc.tensor_index("W*x", "W") == "df_i/dW_kl = delta_ik*x_l"
    assert matcalc.tensor_index("inv(X)", "X") == "df_ij/dX_kl = -inv(X)_ik*inv(X)_lj"
    assert matcalc.tensor_index("A*X*B", "X") == "df_ij/dX_kl = A_ik*B_lj"


def test_cli_format_index_writes_a_tensor_derivative():
    result = CliRunner().invoke(main, ["derive", "W*x + b", "--wrt", "W", "--format", "index"])
    assert result.exit_code == 0, result.output
    assert result.output == "df_i/dW_kl = delta_ik*x_l\n"
    refused = CliRunner().invoke(main, ["derive", "W*x", "--wrt", "W"])
    assert refused.exit_code == 2 and "--format index" in refused.output


def test_a_derivative_with_a_matrix_form_is_sent_to_derive():
    with pytest.raises(MatcalcError, match="has a matrix form"):
        matcalc.tensor_index("x'*A*x", "x")
