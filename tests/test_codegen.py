"""Generated NumPy: the callable and the printed source agree with finite differences and HIPS
autograd, share subexpressions, and stay finite for logits of size 1e3."""

import importlib.util

import numpy as np
import pytest

import matcalc
from matcalc import codegen, numeric
from matcalc import train as demo

from oracle import arrays, autograd_gradient, instances, truth

CE = "-y'*log(softmax(W*x + b))"
CASES = [
    ("a'*x", "x", []), ("x'*A*x", "x", []), ("x'*A*x", "x", ["A symmetric"]), ("tr(A*X)", "X", []),
    ("logdet(X)", "X", []), ("norm2(A*x - b)^2", "x", []), (CE, "W", ["sum(y) = 1"]), (CE, "b", ["sum(y) = 1"]),
    (CE, "x", ["sum(y) = 1"]), ("-y'*log(softmax(W2*relu(W1*x + b1) + b2))", "W1", ["sum(y) = 1"]),
    ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "W", ["Y one-hot"]),
    ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "b", ["Y one-hot"]),
    ("softmax(z)", "z", []),
]


def load_source(source: str, tmp_path, name: str):
    """Import the generated source as a module (the way a user would save and use it)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("expression,wrt,assume", CASES)
def test_callable_and_source_match_finite_differences(expression, wrt, assume, layout, tmp_path):
    shapes = {"X": ("m", "d")} if "softmax_rows" in expression else None
    d = matcalc.derive(expression, wrt=wrt, assume=assume, layout=layout, shapes=shapes)
    module = load_source(d.numpy_source, tmp_path, f"generated_{abs(hash((expression, wrt, layout)))}")
    function = getattr(module, f"d_d{wrt}")
    for inst in instances(d, count=2, seed=21):
        env = arrays(d, inst)
        want = truth(d, inst)
        got = np.asarray(d.to_numpy()(**env), dtype=float)
        from_source = np.asarray(function(**{k: v for k, v in env.items() if k in function.__code__.co_varnames}))
        assert numeric.relative_error(got.reshape(want.shape), want) < 1e-6
        assert numeric.relative_error(from_source.reshape(want.shape), want) < 1e-6


@pytest.mark.parametrize("expression,wrt,assume", [c for c in CASES if c[0] != "softmax(z)"])
def test_callable_matches_autograd(expression, wrt, assume):
    shapes = {"X": ("m", "d")} if "softmax_rows" in expression else None
    d = matcalc.derive(expression, wrt=wrt, assume=assume, shapes=shapes)
    for inst in instances(d, count=2, seed=22):
        got = np.asarray(d.to_numpy()(**arrays(d, inst)), dtype=float)
        want = np.asarray(autograd_gradient(d, inst), dtype=float)
        assert np.allclose(got.reshape(want.shape), want, rtol=1e-9, atol=1e-11)


def test_stable_for_logits_of_size_1e3():
    d = matcalc.derive(CE, wrt="W", assume=["sum(y) = 1"])
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3)) * 1e3
    x = rng.standard_normal(3)
    b = rng.standard_normal(4) * 1e3
    y = np.eye(4)[1]
    got = d.to_numpy()(W=W, b=b, x=x, y=y)
    z = W @ x + b
    s = np.exp(z - z.max())
    s /= s.sum()
    assert np.all(np.isfinite(got))
    assert np.allclose(got, np.outer(s - y, x))
    loss = codegen.evaluate(d.typed.root, (), W=W, b=b, x=x, y=y)
    assert np.isfinite(loss)


def test_loss_and_gradients_share_the_forward_pass():
    net = demo.derive_network([64, 128, 64, 10])
    source = net.plan.source("loss_and_gradients", "")
    body = source.split("def loss_and_gradients", 1)[1]
    assert body.count("relu(") == 2  # each activation computed once, reused by every gradient
    assert body.count("log_softmax_rows(") == 1
    assert ".sum(axis=0)" in body  # bias gradients as column sums, as a training loop writes them


def test_inputs_are_checked():
    d = matcalc.derive("x'*A*x", wrt="x")
    with pytest.raises(matcalc.MatcalcError, match="missing input"):
        d.to_numpy()(x=np.ones(3))
    with pytest.raises(matcalc.MatcalcError):
        d.to_numpy()(x=np.ones(3), A=np.ones((4, 4)))
