"""The training demo: derived gradients equal a hand-written backprop, pass the gradient check, and
train the digits network to at least 97% — with no gradient written by hand in the demo."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from matcalc.train import data
from matcalc.train import demo
from matcalc.cli.app import main

PEERS = Path(__file__).resolve().parent.parent / "benchmarks" / "mlp_peers.py"


def _peers():
    spec = importlib.util.spec_from_file_location("mlp_peers_for_train", PEERS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_net():
    return demo.derive_network([5, 7, 4, 3])


def test_loss_expression_is_one_expression_of_the_language():
    text, shapes = demo.loss_expression([64, 128, 64, 10])
    assert text == "-sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m"
    assert shapes["W2"] == ("d1", "d2") and shapes["b3"] == ("d3",)


def test_formulas_read_like_a_numpy_training_loop(small_net):
    rows = dict(demo.formulas(small_net))
    assert rows["W3"] == "(1/m)*A2'*(S - Y)"
    assert rows["b3"] == "(1/m)*(S - Y)'*ones(m)"
    assert rows["W2"] == "(1/m)*A1'*(((S - Y)*W3') .* step(Z2))"


def test_derived_gradients_equal_the_hand_written_backprop(small_net):
    peers = _peers()
    rng = np.random.default_rng(0)
    params = data.init_params([5, 7, 4, 3], 1)
    params = [(W, b + 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    X = rng.standard_normal((6, 5))
    Y = data.one_hot(rng.integers(0, 3, 6), 3)
    out = small_net.plan(**demo.batch_env(params, X, Y))
    loss, grads = peers.handwritten_gradients(params, X, Y)
    assert out["loss"] == pytest.approx(loss, rel=1e-13)
    for k, (dW, db) in enumerate(grads, 1):
        assert np.allclose(out[f"W{k}"], dW, rtol=0, atol=1e-13)
        assert np.allclose(out[f"b{k}"], db, rtol=0, atol=1e-13)


def test_gradient_check_is_below_the_goal(small_net):
    rng = np.random.default_rng(1)
    params = data.init_params([5, 7, 4, 3], 2)
    X = rng.standard_normal((6, 5))
    Y = data.one_hot(rng.integers(0, 3, 6), 3)
    check = demo.gradient_check(small_net, params, X, Y)
    assert check.max_rel_error < demo.GRAD_CHECK_GOAL
    assert check.entries == 16 * 6


def test_gradient_check_catches_a_wrong_gradient(small_net):
    rng = np.random.default_rng(1)
    params = data.init_params([5, 7, 4, 3], 2)
    X = rng.standard_normal((6, 5))
    Y = data.one_hot(rng.integers(0, 3, 6), 3)
    broken = demo.Network(small_net.sizes, small_net.loss, small_net.shapes, small_net.derivations,
                          _Doubling(small_net.plan), small_net.scores, small_net.parameters)
    check = demo.gradient_check(broken, params, X, Y)
    assert check.max_rel_error > 0.1


class _Doubling:
    """A plan whose W1 gradient is off by a factor of 2 (as a bug in the engine would be)."""

    def __init__(self, plan):
        self.plan = plan

    def __call__(self, **env):
        out = dict(self.plan(**env))
        out["W1"] = 2 * out["W1"]
        return out


def test_gradient_check_steps_over_relu_kinks(small_net):
    # every column of Z1 has a sample 1e-7 above 0: a ±1e-5 step of b1 crosses the kink, where a central
    # difference means nothing; those entries are skipped instead of failing the check
    rng = np.random.default_rng(3)
    params = data.init_params([5, 7, 4, 3], 4)
    X = rng.standard_normal((6, 5))
    Y = data.one_hot(rng.integers(0, 3, 6), 3)
    (W1, b1), *rest = params
    b1 = -(X @ W1)[0] + 1e-7
    check = demo.gradient_check(small_net, [(W1, b1), *rest], X, Y)
    assert check.max_rel_error < demo.GRAD_CHECK_GOAL
    assert check.entries < 16 * 6


def test_sgd_step_is_lr_times_the_checked_gradient(small_net):
    rng = np.random.default_rng(5)
    params = data.init_params([5, 7, 4, 3], 5)
    X = rng.standard_normal((6, 5))
    Y = data.one_hot(rng.integers(0, 3, 6), 3)
    grads = small_net.plan(**demo.batch_env(params, X, Y))
    before = [(W.copy(), b.copy()) for W, b in params]
    env = demo.batch_env(params, X, Y)
    loss = demo.sgd_step(small_net, env, 0.3)
    assert loss == pytest.approx(grads["loss"], rel=1e-14)
    for k, ((W, b), (W0, b0)) in enumerate(zip(params, before), 1):
        assert np.allclose(W, W0 - 0.3 * grads[f"W{k}"], rtol=0, atol=1e-15)
        assert np.allclose(b, b0 - 0.3 * grads[f"b{k}"], rtol=0, atol=1e-15)
    demo.check_updates(small_net, demo.batch_env(before, X, Y), 0.3)
    source = small_net.updates.source("sgd_steps")
    assert source.count("lr") == 2  # an argument, and one factor (lr / m) on the shared output error


def test_cli_gradient_check_failure_exits_3(monkeypatch):
    bad = demo.GradCheck(finite_differences=0.5, autograd=0.5, entries=96)
    monkeypatch.setattr(demo, "gradient_check", lambda *a, **k: bad)
    result = CliRunner().invoke(main, ["train", "--hidden", "8", "--epochs", "1"])
    assert result.exit_code == 3
    assert "disagree" in result.output and "Traceback" not in result.output


def test_digits_default_reaches_97_percent():
    result = demo.train()
    assert result.test_accuracy >= 0.97
    assert result.grad_check.max_rel_error < 1e-7
    assert len(result.epochs) == 30 and result.epochs[-1].loss < result.epochs[0].loss


def test_derived_training_is_identical_to_hand_written_training():
    peers = _peers()
    X, y = data.load_digits_data()
    Xtr, _, ytr, _ = data.train_test_split(X, y, 0.2, 0)
    Ytr = data.one_hot(ytr, 10)
    sizes = [64, 32, 10]
    net = demo.derive_network(sizes)
    mine, theirs = data.init_params(sizes, 0), data.init_params(sizes, 0)
    env = demo.parameter_arrays(mine)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    for idx in data.minibatches(len(Xtr), 64, rng_a):
        env["X"], env["Y"] = Xtr[idx], Ytr[idx]
        out = net.plan(**env)
        for name in net.parameters:
            env[name] -= 0.1 * out[name]
    for idx in data.minibatches(len(Xtr), 64, rng_b):
        peers.handwritten_step(theirs, Xtr[idx], Ytr[idx], 0.1)
    for (W, b), (W2, b2) in zip(mine, theirs):
        assert np.max(np.abs(W - W2)) < 1e-9 and np.max(np.abs(b - b2)) < 1e-9


def test_divergence_names_the_epoch_and_the_cause():
    with pytest.raises(demo.TrainingDiverged, match=r"epoch \d+.*learning rate"):
        demo.train(hidden=(16,), epochs=5, lr=1e150)


def test_cli_json_and_plot(tmp_path):
    png = tmp_path / "curves.png"
    result = CliRunner().invoke(main, ["train", "--hidden", "16", "--epochs", "2", "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("test_accuracy", "train_seconds", "grad_check_max_rel_error", "epochs"):
        assert key in report
    assert report["epochs"] == 2 and report["grad_check_max_rel_error"] < 1e-7
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_text_shows_formulas_check_and_summary():
    result = CliRunner().invoke(main, ["train", "--hidden", "16", "--epochs", "2", "--show-code"])
    assert result.exit_code == 0, result.output
    for needle in ("dW2  = (1/m)*A1'*(S - Y)", "db2  = (1/m)*(S - Y)'*ones(m)", "gradient check", "test accuracy",
                   "epoch", "A1 = relu(X @ W1 + b1)", "'b2': scaled_2.sum(axis=0)"):
        assert needle in result.output


def test_cli_trains_on_the_users_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    path = tmp_path / "mine.npz"
    np.savez(path, X=X, y=y)
    result = CliRunner().invoke(main, ["train", "--data", str(path), "--hidden", "8", "--epochs", "20", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["test_accuracy"] > 0.8


@pytest.mark.parametrize("args,message", [
    (["--data", "missing.npz"], "missing.npz"),
    (["--hidden", "12,x"], "--hidden"),
    (["--epochs", "0"], "--epochs"),
    (["--lr", "-1"], "--lr"),
])
def test_cli_bad_input_exits_2(args, message, tmp_path):
    result = CliRunner().invoke(main, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_malformed_npz_exits_2(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.zeros((4, 3)))
    result = CliRunner().invoke(main, ["train", "--data", str(path)])
    assert result.exit_code == 2 and "'y'" in result.output


def test_cli_divergence_exits_3():
    result = CliRunner().invoke(main, ["train", "--hidden", "16", "--epochs", "3", "--lr", "1e150"])
    assert result.exit_code == 3 and "epoch" in result.output


def test_train_without_the_train_extra_names_it(monkeypatch):
    """Without scikit-learn (the [train] extra) `matcalc train` says which extra to install: exit 2, one
    line, before deriving anything; --plot without matplotlib names the [plot] extra."""
    import builtins
    import importlib.util

    real_import, real_find = builtins.__import__, importlib.util.find_spec

    def no_extras(name, *args, **kwargs):
        if name.split(".")[0] in ("sklearn", "matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extras)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] in ("sklearn", "matplotlib") else real_find(name, *a))
    result = CliRunner().invoke(main, ["train", "--epochs", "1"])
    assert result.exit_code == 2
    assert 'pip install "matcalc[train]"' in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["train", "--epochs", "1", "--plot", "curves.png"])
    assert result.exit_code == 2 and 'pip install "matcalc[plot]"' in result.output
