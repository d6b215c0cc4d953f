"""matcalc.check_gradient: gradient code judged as a claim is, on the corpus of tests/data/gradient_code.

Every case of the manifest gets its expected verdict and kind (0 false alarms on the right functions,
every buggy one diagnosed with its kind, every error case the fault it is), in this process and — for a
sample, and for the error cases — in the child process `matcalc check --code` uses. The corpus's labels
are confirmed outside matcalc too: each function called on an instance of our own and compared with
HIPS autograd of the expression read by plain_eval.py. The functions written to fool the checker
(gradient_fools.py) are all caught, and their honest twins all pass. The training demo's own gradient
functions (the compiled plan of matcalc.train.demo, its SGD step, the hand-written peer of the
benchmarks) are checked the same way.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

import jax  # noqa: F401  (imported here, not first inside a timed call of a user's function)
import numpy as np
import pytest
import torch  # noqa: F401

import matcalc
import plain_eval as P
from gradient_fools import FOOLS, HONEST
from matcalc.budget import Budget
from matcalc.check.code.verdict import CODE_KINDS, CodeVerdict
from matcalc.check.verdict import ASSUMPTION, CORRECT, WRONG
from matcalc.errors import MatcalcError
from matcalc.testing import GradientAssertionError, assert_gradient

DATA = Path(__file__).parent / "data" / "gradient_code"
CASES = tomllib.loads((DATA / "manifest.toml").read_text())["case"]
BY_NAME = {c["function"]: c for c in CASES}
# the corpus's words for a kind -> matcalc's (the rest are the same words)
KIND = {"missing-term": "missing term", "other": "order"}
# which gradients of the seed MLP each classic bug gets wrong (the manifest's `why`, checked below)
WRONG_ENTRIES = {
    "backprop_db3_no_mean": {"b3"},
    "backprop_dA2_extra_mean": {"W2", "b2", "W1", "b1"},
    "backprop_dW1_transposed": {"W1"},
    "backprop_db3_sum_no_axis": {"b3"},
    "backprop_mask_wrong_layer": {"W2", "b2", "W1", "b1"},
    "backprop_no_relu_mask": {"W2", "b2", "W1", "b1"},
    "backprop_softmax_no_subtract": {"W1", "b1", "W2", "b2", "W3", "b3"},
    "backprop_sign_flipped": {"W1", "b1", "W2", "b2", "W3", "b3"},
    "backprop_updates_in_place": {"W2", "b2", "W1", "b1"},
}


@lru_cache(maxsize=None)
def module(file: str):
    spec = importlib.util.spec_from_file_location(f"gradient_code_{file[:-3]}", DATA / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def function(case):
    return getattr(module(case["file"]), case["function"])


def budget(case):
    # the infinite loop gets a short budget; the rest the suite's (conftest: 120 s), for torch and jax
    return Budget(seconds=3) if case.get("kind") == "timeout" else None


@lru_cache(maxsize=None)
def judged(name: str) -> CodeVerdict:
    case = BY_NAME[name]
    return matcalc.check_gradient(function(case), case["expression"], wrt=case["wrt"], shapes=case.get("shapes"),
                                  assume=case.get("assume", []), layout=case["layout"], budget=budget(case))


def kind_of(case) -> str | None:
    k = case.get("kind")
    return KIND.get(k, k)


# ------------------------------------------------------------------------------------------ the corpus


def test_the_corpus_covers_every_kind():
    assert len(CASES) >= 70
    kinds = {kind_of(c) for c in CASES if c["expected"] == "wrong"}
    assert kinds >= {"factor", "transpose", "layout", "sum-axis", "shape-n1", "mask", "missing term", "sign",
                     "assumption", "in-place", "broadcast", "order"}
    assert kinds <= set(CODE_KINDS)
    assert {c.get("kind") for c in CASES if c["expected"] == "error"} == {"raises", "nan", "timeout", "memory",
                                                                         "type"}
    assert sum(c["expected"] == "right" for c in CASES) >= 30


@pytest.mark.parametrize("name", [c["function"] for c in CASES])
def test_corpus_case_gets_its_verdict(name):
    case, v = BY_NAME[name], judged(name)
    assert isinstance(v, matcalc.Verdict) and "Traceback" not in v.diagnosis
    if case["expected"] == "right":
        assert v.ok and v.status == CORRECT and v.kind is None, v.diagnosis
        for w, g in v.gradients.items():
            assert g.ok and g.instances >= 8, (w, g.diagnosis)       # 3, then the scrutiny's
            assert "0.1×–10× spread" in g.scrutiny
            if len(g.sizes[0]) > 1:        # several dimensions: some instances give them all one size
                assert "every dimension of one size" in g.scrutiny
    elif case["expected"] == "wrong":
        assert not v.ok and v.status in (WRONG, ASSUMPTION), v.diagnosis
        assert v.kind == kind_of(case), (v.kind, v.diagnosis)
        assert v.diagnosis.endswith(".") and "none of the usual mistakes" not in v.diagnosis.split(";")[0]
    else:
        assert not v.ok and v.status == "error" and v.fault == case["kind"], v.diagnosis
        assert "\n" not in v.diagnosis and v.diagnosis.startswith(f"your function {name} ")


@pytest.mark.parametrize("name", sorted(WRONG_ENTRIES))
def test_each_classic_bug_names_the_gradients_it_gets_wrong(name):
    v = judged(name)
    assert {w for w, g in v.gradients.items() if not g.ok} == WRONG_ENTRIES[name]
    right = set(v.names) - WRONG_ENTRIES[name]
    assert all(v.gradients[w].ok for w in right)


def test_the_seed_network_is_the_worked_example():
    """All six gradients of seed 003's backprop right; each classic bug diagnosed in the issue's words."""
    v = judged("backprop")
    assert v.ok and v.names == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert v.formulas["W3"] == "(1/m)*A2'*(S - Y)"
    assert "S = softmax_rows(Z3)" in v.legend and "A2 = relu(Z2)" in v.legend
    assert "def gradients(" in v.numpy_source and "'b3': scaled_1.sum(axis=0)" in v.numpy_source
    text = str(v)
    assert text.startswith("verdict:   CORRECT") and "matcalc's NumPy:" in text
    assert "ok  ∂/∂W3 = (1/m)*A2'*(S - Y)" in text
    said = {name: judged(name).diagnosis for name in WRONG_ENTRIES}
    assert "b3 is wrong" in said["backprop_db3_no_mean"] and "the batch mean's 1/m is missing" in \
        said["backprop_db3_no_mean"]
    assert "applied twice" in said["backprop_dA2_extra_mean"]
    assert "np.sum without axis" in said["backprop_db3_sum_no_axis"]
    assert "step(Z1) where the derivative has step(Z2)" in said["backprop_mask_wrong_layer"]
    assert "the relu mask step(Z2) is missing" in said["backprop_no_relu_mask"]
    assert "missing the term -(1/m)*A2'*Y" in said["backprop_softmax_no_subtract"]
    assert "the numerator-layout answer" in said["backprop_dW1_transposed"]
    assert "changes its input W3" in said["backprop_updates_in_place"]
    assert "uses A2 where the derivative has A2'" in judged("grad_W3_no_transpose_square").diagnosis
    assert "np.dot(a2, g)" in judged("grad_W3_no_transpose").diagnosis      # the raising line is quoted
    assert "right only if Y is one-hot" in judged("grad_W3_without_onehot").diagnosis


def test_numpy_traps_are_named():
    assert "(n, 1) where the gradient has shape (n,)" in judged("least_squares_column").diagnosis
    assert "(1, 10) where the gradient has shape (10,)" in judged("grad_b3_keepdims").diagnosis
    assert "np.sum over the wrong axis" in judged("grad_b3_sum_axis1").diagnosis
    assert "Its diagonal is the gradient" in judged("column_vector_broadcast").diagnosis
    assert "without keepdims=True" in judged("softmax_rows_no_keepdims_square").diagnosis
    assert "the values it returns are right" in judged("shift_in_place").diagnosis
    assert "what it returns for W is the gradient for b" in judged("tuple_swapped").diagnosis


def test_faults_say_what_happened_in_one_line():
    assert "raised ValueError" in judged("raises_outer").diagnosis
    assert "returned NaN at entry 0" in judged("nan_placeholder").diagnosis
    assert "a Python list" in judged("returns_list").diagnosis
    assert "None (is a return statement missing?)" in judged("forgot_return").diagnosis
    assert "did not return within the time limit of 3 s" in judged("forgot_increment").diagnosis
    assert "728. TiB" in judged("dense_jacobian").diagnosis


# ------------------------------------------------------------------- the labels, outside matcalc


SIZES = (3, 5, 4, 6, 2, 7, 8)
KINDS = {"one-hot": "onehot", "symmetric": "sym", "positive definite": "spd", "invertible": "detpos", "> 0": "positive"}


def oracle_instance(case, seed: int = 0):
    """Our own instance: every dimension (a letter or a number of the shapes) its own small size,
    assumptions honoured; arrays 2-D for plain_eval, and as the function takes them."""
    rng = np.random.default_rng(77 + seed)
    shapes = {n: [d.strip() for d in s.split(",") if d.strip()] for n, s in case["shapes"].items()}
    tokens = sorted({d for s in shapes.values() for d in s})
    dims = {d: SIZES[(i + seed) % len(SIZES)] for i, d in enumerate(tokens)}
    kinds = {}
    for text in case.get("assume", []):
        m = re.match(r"rowsum\((\w+)\) = 1", text)
        if m:
            kinds[m.group(1)] = "sum1"
            continue
        name, rest = text.split(" ", 1)
        kinds[name] = next(k for word, k in KINDS.items() if word in rest)
    env, given = {}, {}
    for name, s in shapes.items():
        r = dims[s[0]] if s else 1
        c = dims[s[1]] if len(s) > 1 else 1
        env[name] = P._draw_one(kinds.get(name, "normal"), r, c, rng)
        given[name] = env[name] if len(s) == 2 else env[name][:, 0] if len(s) == 1 else float(env[name][0, 0])
    letters = {d: n for d, n in dims.items() if not d.isdigit()}
    return env, given, letters


def oracle_truth(case, env, dims):
    names = [case["wrt"]] if isinstance(case["wrt"], str) else case["wrt"]
    return {w: P.derivative(case["expression"], w, env, dims, case["layout"]) for w in names}


def outcome(case, given):
    """(values by name, inputs changed) — or the exception the function raised."""
    copies = {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in given.items()}
    result = function(case)(**copies)
    names = [case["wrt"]] if isinstance(case["wrt"], str) else case["wrt"]
    if isinstance(result, dict):
        values = {w: result[w] for w in names}
    elif isinstance(result, tuple):
        values = dict(zip(names, result))
    else:
        values = {names[0]: result}
    values = {w: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v, dtype=float) for w, v in values.items()}
    changed = [k for k, v in given.items() if isinstance(v, np.ndarray) and not np.array_equal(v, copies[k])]
    return values, changed


def errors(case, values, truth, given):
    """Each gradient's error against the truth laid out as its variable is given (vectors 1-D): a (n, 1)
    result for a 1-D x has the wrong shape, an infinite error."""
    return {w: P.relative_error(values[w], t.reshape(np.shape(given[w]))) for w, t in truth.items()}


@pytest.mark.parametrize("name", [c["function"] for c in CASES if c["expected"] in ("right", "wrong")])
def test_corpus_label_holds_outside_matcalc(name):
    case = BY_NAME[name]
    env, given, dims = oracle_instance(case)
    truth = oracle_truth(case, env, dims)
    values, changed = outcome(case, given)
    errs = errors(case, values, truth, given)
    if case["expected"] == "right":
        assert max(errs.values()) < 1e-8 and not changed, errs
    else:
        assert max(errs.values()) > 1e-3 or changed, errs


@pytest.mark.parametrize("name", [c["function"] for c in CASES if c.get("kind") in ("raises", "nan", "type")])
def test_corpus_fault_holds_outside_matcalc(name):
    case = BY_NAME[name]
    _, given, _ = oracle_instance(case)
    if case["kind"] == "raises":
        with pytest.raises(ValueError):
            function(case)(**given)
        return
    result = function(case)(**given)
    if case["kind"] == "nan":
        assert np.isnan(result).any()
    else:
        assert not isinstance(result, np.ndarray)


# --------------------------------------------------------------------------- trying to fool it


@pytest.mark.parametrize("fool", FOOLS, ids=[f[0].__name__ for f in FOOLS])
def test_a_function_wrong_only_where_checkers_seldom_look_is_caught(fool):
    fn, expression, wrt, shapes, assume, kinds = fool
    v = matcalc.check_gradient(fn, expression, wrt=wrt, shapes=shapes, assume=assume)
    assert not v.ok and v.status != CORRECT, v.diagnosis
    if kinds is not None:
        assert v.kind in kinds, v.diagnosis


@pytest.mark.parametrize("honest", HONEST, ids=[h[0].__name__ for h in HONEST])
def test_its_honest_twin_is_no_false_alarm(honest):
    fn, expression, wrt, shapes, assume = honest
    v = matcalc.check_gradient(fn, expression, wrt=wrt, shapes=shapes, assume=assume)
    assert v.ok, v.diagnosis


def test_the_fools_are_wrong_outside_matcalc():
    """Each fool is wrong where it says (the instance it hides from), by autograd of the expression."""
    from gradient_fools import (abs_wrong_near_zero, bilinear_wrong_if_square, linear_needs_onehot,
                                linear_wrong_if_batch_of_two, relu_shifted_no_mask, sigmoid_clipped)

    rng = np.random.default_rng(5)
    a, b, X = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((4, 4))
    truth = P.derivative("a'*X*b", "X", {"a": a[:, None], "X": X, "b": b[:, None]}, {}, "denominator")
    assert P.relative_error(bilinear_wrong_if_square(a, X, b), truth) > 0.1
    x = np.array([5e-4, -0.5, 2.0])
    assert P.relative_error(abs_wrong_near_zero(x), np.sign(x)) > 0.1
    x = np.array([-4.0, 0.5, 1.0])
    assert P.relative_error(relu_shifted_no_mask(x), (x + 3 > 0) * 1.0) > 0.1
    x = np.array([6.0, 0.5])
    s = 1 / (1 + np.exp(-x))
    assert P.relative_error(sigmoid_clipped(x), s * (1 - s)) > 1e-3
    env = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal((4, 1)), "X": rng.standard_normal((2, 3))}
    env["Y"] = P._draw_one("sum1", 2, 4, rng)
    truth = P.derivative("-sum(Y .* log(softmax_rows(X*W + b')))/m", "W", env, {"m": 2}, "denominator")
    args = {"W": env["W"], "b": env["b"][:, 0], "X": env["X"], "Y": env["Y"]}
    assert P.relative_error(linear_needs_onehot(**args), truth) > 0.1
    assert P.relative_error(linear_wrong_if_batch_of_two(**args), truth) > 0.1


# ------------------------------------------------------------------- the training demo's gradients


def test_the_training_demos_gradient_functions_are_right():
    from matcalc.train import demo

    sizes = [64, 128, 64, 10]
    net = demo.derive_network(sizes)
    loss, shapes = demo.loss_expression(sizes)
    names = net.parameters

    def plan(**arrays):
        return net.plan(**arrays)            # the loss and all six gradients, one dict

    def sgd_step_over_lr(**arrays):
        steps = net.updates(**arrays, lr=0.1)
        return {n: steps[n] / 0.1 for n in names}

    for fn in (plan, sgd_step_over_lr):
        v = matcalc.check_gradient(fn, loss, wrt=names, shapes=shapes, assume=["Y one-hot"])
        assert v.ok, v.diagnosis
        assert all(v.gradients[w].instances >= 8 for w in names)

    def one_derivation(**arrays):
        return net.derivations["W2"].to_numpy()(**arrays)

    assert matcalc.check_gradient(one_derivation, loss, wrt="W2", shapes=shapes, assume=["Y one-hot"]).ok

    def sgd_step_itself(**arrays):             # lr times the gradient is not the gradient: the check can fail
        steps = net.updates(**arrays, lr=0.1)
        return {n: steps[n] for n in names}

    v = matcalc.check_gradient(sgd_step_itself, loss, wrt=names, shapes=shapes, assume=["Y one-hot"])
    assert not v.ok and v.kind == "factor" and "1/10" in v.diagnosis


def test_the_hand_written_peer_of_the_training_benchmark_is_right():
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import mlp_peers

    def handwritten(X, Y, W1, b1, W2, b2, W3, b3):
        _, grads = mlp_peers.handwritten_gradients([(W1, b1), (W2, b2), (W3, b3)], X, Y)
        return {f"{p}{k}": g for k, pair in enumerate(grads, 1) for p, g in zip(("W", "b"), pair)}

    loss = "-sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m"
    shapes = dict(BY_NAME["backprop"]["shapes"])
    v = matcalc.check_gradient(handwritten, loss, wrt=["W1", "b1", "W2", "b2", "W3", "b3"], shapes=shapes,
                               assume=["Y one-hot"])
    assert v.ok, v.diagnosis


# ------------------------------------------------------------------------------ the library face


def test_assert_gradient_passes_a_right_function_and_fails_a_wrong_one_with_the_diagnosis():
    case = BY_NAME["least_squares_missing_2"]
    right = module("right.py").least_squares_association
    assert assert_gradient(right, "norm2(A*B*x - c)^2", wrt="x",
                           shapes={"A": "m,p", "B": "p,n", "x": "n", "c": "m"}).ok
    with pytest.raises(AssertionError) as caught:
        assert_gradient(function(case), case["expression"], wrt="x", shapes=case["shapes"])
    assert isinstance(caught.value, GradientAssertionError) and caught.value.verdict.kind == "factor"
    assert "off by a factor of 1/2" in str(caught.value) and "matcalc's answer: 2*A'*(A*x - b)" in str(caught.value)


def test_the_readme_pytest_example_runs(tmp_path):
    """The example of docs/checking-code.md, as a user's test file, run by pytest in a subprocess."""
    import subprocess

    text = (Path(__file__).parents[1] / "docs" / "checking-code.md").read_text()
    example = re.search(r"```python\n(# test_gradients\.py\n.*?)```", text, re.S).group(1)
    (tmp_path / "test_gradients.py").write_text(example)
    (tmp_path / "seed_mlp.py").write_text((DATA / "seed_mlp.py").read_text())
    (tmp_path / "seed_mlp_bugs.py").write_text((DATA / "seed_mlp_bugs.py").read_text())
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-3000:]
    assert "AssertionError" in run.stdout and "the batch mean's 1/m is missing" in run.stdout


def test_torch_and_jax_inputs():
    def torch_grad(x, A):
        assert isinstance(x, torch.Tensor)
        return (A + A.T) @ x

    assert matcalc.check_gradient(torch_grad, "x'*A*x", wrt="x", inputs="torch").ok

    def jax_grad(x, A):
        return A.T @ x                       # missing the A*x term, in jax

    v = matcalc.check_gradient(jax_grad, "x'*A*x", wrt="x", inputs="jax")
    assert not v.ok and v.kind == "missing term"


def test_bad_calls_are_clear_errors():
    with pytest.raises(MatcalcError, match="takes 'q', which is not a name of the expression"):
        matcalc.check_gradient(lambda x, q: x, "x'*x", wrt="x")
    with pytest.raises(TypeError, match="fn must be callable"):
        matcalc.check_gradient(42, "x'*x", wrt="x")
    with pytest.raises(MatcalcError, match="wrt names x twice"):
        matcalc.check_gradient(lambda x: 2 * x, "x'*x", wrt=["x", "x"])
    with pytest.raises(MatcalcError):
        matcalc.check_gradient(lambda x: 2 * x, "x'*x", wrt="z")
    with pytest.raises(MatcalcError, match="FILE.py:FUNCTION"):
        matcalc.check_gradient("no_colon_here", "x'*x", wrt="x")


def test_a_huge_result_is_refused_before_it_is_copied():
    v = matcalc.check_gradient(lambda x: np.zeros((2000, 1000)), "x'*x", wrt="x")
    assert v.status == "error" and v.fault == "type" and "2,000,000 entries" in v.diagnosis


def test_misplaced_gradients_say_where_each_belongs():
    v = judged("tuple_swapped")
    assert v.gradients["W"].kind == "order" and "the gradient for b (right, as that)" in v.gradients["W"].diagnosis


def test_a_function_returning_its_input_gets_a_note():
    v = matcalc.check_gradient(lambda x, a: a, "a'*x", wrt="x")
    assert v.ok and any("returns its input a itself" in n for n in v.notes)


def test_the_same_check_gives_the_same_verdict():
    case = BY_NAME["backprop_mask_wrong_layer"]
    again = matcalc.check_gradient(function(case), case["expression"], wrt=case["wrt"], shapes=case["shapes"],
                                   assume=case["assume"])
    first = judged("backprop_mask_wrong_layer")
    assert again.as_dict()["diagnosis"] == first.diagnosis and again.as_dict()["sizes"] == first.sizes
