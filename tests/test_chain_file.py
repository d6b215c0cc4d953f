"""Chain-rule derivation files (issue 8): the seeds' own derivations, written as matcalc files in
tests/data, are accepted line by line; each broken variant names its first bad line and its mistake.

The truth of every line in the seed files is also established outside matcalc: the matrix lines by
tests/plain_eval.py (our own reader of the language, differentiated by HIPS autograd), with the lets
unfolded by hand here; the index lines by autograd's Jacobian against the entries computed in NumPy.
"""

from __future__ import annotations

from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc
from matcalc.check.chain_file import Unfolder, is_chain_derivation, read_chain
from matcalc.errors import MatcalcError
from matcalc.language.shapes import elaborate
from matcalc.check.index_check import split_condition, verify_index

import plain_eval as P

DATA = Path(__file__).parent / "data"
SEEDS = ["seed_softmax_jacobian.txt", "seed_softmax_ce.txt", "seed_softmax_ce_latex.txt", "seed_batched_mlp.txt"]


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the seeds are accepted


@pytest.mark.parametrize("name", SEEDS)
def test_seed_derivation_is_accepted_line_by_line(name):
    v = matcalc.verify_steps(text(name))
    assert v.ok, str(v)
    assert v.first_bad is None
    assert len(v.steps) >= 6 and all(s.ok for s in v.steps)
    assert "every line states its derivative right" in v.diagnosis


def test_the_file_settles_the_posts_one_over_m_question():
    """∂L/∂A2 of the batch mean carries the loss's single 1/m; a second one is named as such."""
    v = matcalc.verify_steps(text("seed_batched_mlp.txt"))
    lines = {s.text.strip(): s for s in v.steps}
    assert lines["= (S - Y)*W3'/m"].ok
    broken = text("seed_batched_mlp.txt").replace("dL/dA2 = dL/dZ3*W3'", "dL/dA2 = dL/dZ3*W3'/m")
    w = matcalc.verify_steps(broken)
    assert not w.ok and w.first_bad == 21
    assert w.steps[[s.line for s in w.steps].index(21)].kind == "factor"
    assert "1/m is applied twice" in w.diagnosis


# ------------------------------------------------------------------ broken variants

BROKEN = [
    # (file, line as written, broken, first bad line, kind, words in the diagnosis)
    ("seed_softmax_jacobian.txt", "dy_i/dd_k = y_i*(delta_ik - y_k)", "dy_i/dd_k = -y_i*y_k", 11,
     "missing term", "δ_ik term"),
    ("seed_softmax_jacobian.txt", "          = -y_i*y_k    for i != k", "          = y_i*y_k    for i != k", 9,
     "sign", "wrong sign"),
    ("seed_softmax_jacobian.txt", "          = y_i*(1 - y_i)", "          = y_i*(1 + y_i)", 6, None, "disagree"),
    ("seed_softmax_ce.txt", "dCE/dyhat = -y ./ yhat", "dCE/dyhat = y ./ yhat", 8, "sign", "sign is wrong"),
    ("seed_softmax_ce.txt", "dCE/dW_ij = (yhat_i - y_i)*x_j", "dCE/dW_ij = (yhat_j - y_j)*x_i", 15,
     "transpose", "indices i and j are swapped"),
    ("seed_softmax_ce.txt", "dz/dW_ij = x_j*e_i", "dz/dW_ij = x_i*e_j", 13, "transpose", "swapped"),
    ("seed_softmax_ce.txt", "dCE/db = yhat - y", "dCE/db = (yhat - y)*x'", 17, "shape", "c×d matrix"),
    ("seed_softmax_ce_latex.txt", r"\frac{\partial CE}{\partial W} = (\hat{y} - y) x^T",
     r"\frac{\partial CE}{\partial W} = x (\hat{y} - y)^T", 14, "transpose", "numerator-layout"),
    ("seed_batched_mlp.txt", "       = (S - Y)*W3'/m", "       = (S - Y)*W3'/m^2", 22, "factor", "applied twice"),
    ("seed_batched_mlp.txt", "dL/dZ2 = dL/dA2 .* step(Z2)", "dL/dZ2 = dL/dA2", 24, "missing factor", "step(Z2)"),
    ("seed_batched_mlp.txt", "dL/dW3 = A2'*dL/dZ3", "dL/dW3 = -A2'*dL/dZ3", 16, "sign", "sign is wrong"),
    ("seed_batched_mlp.txt", "dL/db3 = dL/dZ3'*ones(m)", "dL/db3 = m*dL/dZ3'*ones(m)", 19, "factor", "1/m is missing"),
]


@pytest.mark.parametrize("name,line,broken,bad,kind,words", BROKEN,
                         ids=[f"{b[0]}:{b[3]}:{b[4]}" for b in BROKEN])
def test_broken_variant_names_the_first_bad_line_and_the_mistake(name, line, broken, bad, kind, words):
    original = text(name)
    assert line in original
    v = matcalc.verify_steps(original.replace(line, broken, 1))
    assert not v.ok
    assert v.first_bad == bad, str(v)
    step = next(s for s in v.steps if s.line == bad)
    assert step.kind == kind, step.diagnosis
    assert words in step.diagnosis
    # no other line is blamed, except lines that use the broken one
    for s in v.steps:
        if s.line != bad and not s.ok:
            assert f"it uses line {bad}" in s.diagnosis


def test_a_line_built_from_a_wrong_line_says_so():
    broken = text("seed_softmax_ce.txt").replace("dCE/dyhat = -y ./ yhat", "dCE/dyhat = y ./ yhat")
    v = matcalc.verify_steps(broken)
    uses = next(s for s in v.steps if s.line == 11)
    assert not uses.ok and "it uses line 8, which is wrong" in uses.diagnosis


def test_an_unstated_assumption_is_named_on_index_and_matrix_lines():
    v = matcalc.verify_steps(text("seed_softmax_ce.txt").replace("assume: y one-hot\n", "# no assumption\n"))
    assert not v.ok and v.first_bad == 12 and v.rescue == "sum(y) = 1"
    index_line = next(s for s in v.steps if s.line == 15)
    assert index_line.kind == "assumption" and "sum(y) = 1" in index_line.diagnosis


# ------------------------------------------------------------------ reading the format


def test_chain_files_are_told_apart_from_chains_of_equalities():
    assert is_chain_derivation(text("seed_softmax_ce.txt"))
    assert not is_chain_derivation(text("softmax_ce.txt"))
    assert matcalc.verify_steps(text("softmax_ce.txt")).ok      # the old format still works


def test_unfolding_writes_a_quantity_as_a_function_of_the_chosen_variable():
    doc = read_chain(text("seed_softmax_ce.txt"))
    u = Unfolder(doc.lets)
    # the lets that depend on the variable are definitions of one input: f of yhat, of z, of W
    assert u.unfold("CE", "yhat") == "CE = -y'*log(yhat); CE"
    assert u.unfold("CE", "z") == "yhat = softmax(z); CE = -y'*log(yhat); CE"
    assert u.unfold("CE", "W").startswith("z = W*x + b; yhat = softmax(z); ")
    assert u.depends("CE", "W") and not u.depends("z", "yhat")
    # and they type as the text written out: the same node of the DAG
    for var, written in (("yhat", "-y'*log(yhat)"), ("z", "-y'*log(softmax(z))"),
                         ("W", "-y'*log(softmax(W*x + b))")):
        assert elaborate(u.unfold("CE", var)).root is elaborate(written).root


def test_lets_in_any_order_and_a_circle_of_lets():
    assert Unfolder({"b": "2*a", "a": "x + x"}).unfold("b", "x") == "a = x + x; b = 2*a; b"
    with pytest.raises(MatcalcError, match="circle"):
        Unfolder({"a": "b + x", "b": "2*a"})


@pytest.mark.parametrize("bad,words", [
    ("dQ/dz = z", "Q is not defined"),
    ("dCE/dW = (yhat - y)*q'", "'q' does not appear"),
    ("= yhat - y", "whose lines say which derivative they state"),
    ("dCE/dW = (yhat - y)*x'\nCE2: y'*z", "a second function"),
    ("dCE/dyhat = -y ./ yhat\nlet z = 2*z", "defined twice"),
])
def test_bad_files_get_a_clear_error_with_the_line(bad, words):
    head = "shape: W=c,d x=d\nlet z = W*x + b\nlet yhat = softmax(z)\nCE: -y'*log(yhat)\n"
    with pytest.raises(MatcalcError) as err:
        matcalc.verify_steps(head + bad + "\n")
    assert words in str(err.value) and "line " in str(err.value)


def test_conditions_and_the_diagonal():
    assert split_condition("-y_i*y_k  for i != k") == ("-y_i*y_k", ("i", "k", False))
    assert split_condition(r"-y_i y_k \quad i \neq k") == ("-y_i y_k", ("i", "k", False))
    assert split_condition("y_i*(delta_ik - y_k)") == ("y_i*(delta_ik - y_k)", None)
    lets = {"y": "softmax(d)"}
    assert verify_index("softmax(d)", "d", "dy_i/dd_i = y_i*(1 - y_i)", lets=lets).ok
    assert verify_index("softmax(d)", "d", "dy_i/dd_k = y_i*(1 - y_i)  for i = k", lets=lets).ok
    assert not verify_index("softmax(d)", "d", "dy_i/dd_k = y_i*(1 - y_i)  for i != k", lets=lets).ok
    assert not verify_index("softmax(d)", "d", "dy_i/dd_k = y_i*(1 - y_i)", lets=lets).ok


# ------------------------------------------------------------------ the seed lines are true (outside matcalc)

CE_SIG = "W:c,d x:d b:c y:c"
Z = "(W*x + b)"
YHAT = f"softmax({Z})"
CE_MATRIX_LINES = [
    # (expression with lets unfolded by hand, wrt, claim unfolded by hand, right?)
    ("-y'*log(yh)", "yh", "-y ./ yh", True),
    ("-y'*log(softmax(z))", "z", "softmax(z) - y", True),
    (f"-y'*log({YHAT})", "W", f"({YHAT} - y)*x'", True),
    (f"-y'*log({YHAT})", "b", f"{YHAT} - y", True),
    (f"-y'*log({YHAT})", "W", f"x*({YHAT} - y)'", False),
    ("-y'*log(yh)", "yh", "y ./ yh", False),
]


@pytest.mark.parametrize("expression,wrt,claim,right", CE_MATRIX_LINES)
def test_seed_matrix_lines_against_an_independent_oracle(expression, wrt, claim, right):
    sig = CE_SIG + " yh:c z:c"
    for seed in range(3):
        env, dims = P.draw(sig, {"y": "onehot", "yh": "positive"}, seed)
        truth = P.derivative(expression, wrt, env, dims, "denominator")
        try:
            value = P.value(claim, env, dims, truth.shape)
        except P.PlainError:
            value = None
        err = np.inf if value is None else P.relative_error(value, truth)
        assert (err < 1e-9) == right, (claim, err)
    v = matcalc.verify(expression, wrt, claim, shapes={"W": "c,d", "x": "d", "yh": "c", "z": "c", "b": "c"},
                       assume=["y one-hot"])
    assert v.ok == right, str(v)


def _softmax(z):
    e = anp.exp(z - anp.max(z))
    return e / anp.sum(e)


def test_seed_index_lines_against_autograd():
    rng = np.random.default_rng(0)
    n, d = 5, 3
    z, x = rng.standard_normal(n), rng.standard_normal(d)
    s = _softmax(z)
    jac = autograd.jacobian(_softmax)(z)                    # [i, k] = ∂s_i/∂z_k
    assert np.allclose(jac, s[:, None] * (np.eye(n) - s[None, :]))    # s_i (δ_ik − s_k)
    assert np.allclose(np.diag(jac), s * (1 - s))
    off = ~np.eye(n, dtype=bool)
    assert np.allclose(jac[off], (-s[:, None] * s[None, :])[off])
    W = rng.standard_normal((n, d))
    dz = autograd.jacobian(lambda w: w @ x)(W)              # [r, i, j] = ∂z_r/∂W_ij
    assert np.allclose(dz, np.einsum("ri,j->rij", np.eye(n), x))     # x_j e_i
    y = np.eye(n)[2]
    grad = autograd.grad(lambda w: -y @ anp.log(_softmax(w @ x)))(W)
    assert np.allclose(grad, (_softmax(W @ x) - y)[:, None] * x[None, :])   # (ŷ_i − y_i) x_j
    for claim, right in [("x_j*e_i", True), ("x_i*e_j", False)]:
        assert verify_index("W*x", "W", claim).ok == right
