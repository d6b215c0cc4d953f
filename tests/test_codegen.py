"""Generated NumPy: the callable and the printed source agree with central finite differences and HIPS
autograd on every case of the foundation issue in both layouts, share subexpressions (the gradient
reuses the forward values, transposed or not), stay finite for logits of size 1e3, and cost at most
at most 3x the loss alone in matrix products."""

import importlib.util
import re
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc
from matcalc.compile import codegen
from matcalc.check import numeric
from matcalc.language.expr import walk
from matcalc.train import demo

from oracle import arrays, arrays_and_sizes, autograd_gradient, instances, truth

CE = "-y'*log(softmax(W*x + b))"
BATCH = "-sum(Y .* log(softmax_rows(X*W + b')))/m"
MLP1 = "-y'*log(softmax(W2*relu(W1*x + b1) + b2))"
CASES = [
    ("a'*x", "x", []), ("x'*A*x", "x", []), ("x'*A*x", "x", ["A symmetric"]), ("tr(A*X)", "X", []),
    ("logdet(X)", "X", []), ("norm2(A*x - b)^2", "x", []),
    (CE, "W", ["sum(y) = 1"]), (CE, "b", ["sum(y) = 1"]), (CE, "x", ["sum(y) = 1"]),
    (MLP1, "W1", ["sum(y) = 1"]), (BATCH, "W", ["Y one-hot"]), (BATCH, "b", ["Y one-hot"]),
    ("softmax(z)", "z", []), ("logsumexp(z)", "z", []), ("sigmoid(w'*x)", "w", []),
    # forms that the lowering rows rewrite (rewrites.py): the rewritten code must keep the value
    ("log(sum(exp(z)))", "z", []), ("log(1 + exp(alpha))", "alpha", []), ("sum(log(softmax(z)))", "z", []),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"]), ("sum(log(1 + x .^ 2))", "x", []),
    ("a'*inv(A)*x", "x", []), ("b'*inv(A)*x", "A", []), ("x'*diag(v)*A*x", "x", []),
]
VECTOR_VALUED = {"softmax(z)"}


def derive(expression, wrt, assume, layout="denominator"):
    shapes = {"X": ("m", "d")} if "softmax_rows" in expression else None
    return matcalc.derive(expression, wrt=wrt, assume=assume, layout=layout, shapes=shapes)


def load_source(source: str, tmp_path, name: str):
    """Import the generated source as a module, the way a user saves and uses it (test only)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def autograd_truth(d, inst):
    """HIPS autograd on the forward expression (evaluated through the plan with autograd.numpy), in the
    derivation's layout: the gradient, or for a vector-valued expression the Jacobian."""
    if d.expression in VECTOR_VALUED:
        plan = codegen.Plan({"value": d.typed.root}, set(d.typed.dims), xp=anp)
        env = arrays(d, inst)

        def f(v):
            return plan(**{**env, d.wrt: v})["value"]

        jac = autograd.jacobian(f)(np.asarray(env[d.wrt], dtype=float))   # ∂f_i/∂x_j: numerator layout
        return jac if d.layout == "numerator" else jac.T
    grad = np.asarray(autograd_gradient(d, inst), dtype=float)
    return grad.T if d.layout == "numerator" and grad.ndim == 2 else grad


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("expression,wrt,assume", CASES)
def test_callable_and_source_match_finite_differences_and_autograd(expression, wrt, assume, layout, tmp_path):
    d = derive(expression, wrt, assume, layout)
    module = load_source(d.numpy_source, tmp_path, f"generated_{abs(hash((expression, wrt, layout)))}")
    function = getattr(module, f"d_d{wrt}")
    for inst in instances(d, count=2, seed=21):
        env = arrays_and_sizes(d, inst)
        want = truth(d, inst)
        ad = autograd_truth(d, inst)
        got = np.asarray(d.to_numpy()(**env), dtype=float)
        from_source = np.asarray(function(**{k: v for k, v in env.items() if k in function.__code__.co_varnames}))
        for value in (got, from_source):
            value = value.reshape(want.shape)
            assert numeric.relative_error(value, want) < 1e-6
            assert numeric.relative_error(value, ad.reshape(want.shape)) < 1e-10


def test_symmetric_case_uses_its_assumption():
    d = derive("x'*A*x", "x", ["A symmetric"])
    assert str(d) == "2*A*x"
    assert "2.0 * (A @ x)" in d.numpy_source or "A @ (2.0 * x)" in d.numpy_source


# ---------------------------------------------------------------- numerical stability


def test_softmax_gradient_is_finite_for_logits_of_size_1e3():
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


def test_cross_entropy_of_a_far_below_logit_is_finite_and_exact():
    # log(softmax(z)) with z = (1000, -1000, 0): softmax underflows to 0 in the middle, its log must not
    d = matcalc.derive(CE, wrt="b", assume=["sum(y) = 1"])
    W, x = np.zeros((3, 2)), np.zeros(2)
    b = np.array([1000.0, -1000.0, 0.0])
    y = np.array([0.0, 1.0, 0.0])
    loss = codegen.evaluate(d.typed.root, (), dict(W=W, b=b, x=x, y=y))
    assert loss == pytest.approx(2000.0, rel=1e-12)     # logsumexp(b) - b[1]
    assert np.allclose(d.to_numpy()(W=W, b=b, x=x, y=y), [1.0, -1.0, 0.0])


def test_batched_loss_and_logsumexp_stay_finite_for_logits_of_size_1e3():
    shapes = {"X": ("m", "d")}
    dW = matcalc.derive(BATCH, wrt="W", shapes=shapes, assume=["Y one-hot"])
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 3))
    W = rng.standard_normal((3, 4)) * 1e3
    b = rng.standard_normal(4) * 1e3
    Y = np.eye(4)[rng.integers(0, 4, 5)]
    plan = codegen.compile_nodes({"loss": dW.typed.root, "W": dW.result}, dW.typed.dims)
    out = plan(X=X, W=W, b=b, Y=Y)
    Z = X @ W + b
    logp = Z - Z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    assert np.isfinite(out["loss"]) and out["loss"] == pytest.approx(-np.sum(Y * logp) / 5, rel=1e-12)
    assert np.allclose(out["W"], X.T @ (np.exp(logp) - Y) / 5)
    lse = matcalc.derive("logsumexp(z)", wrt="z")
    z = np.array([1000.0, 999.0, -1000.0])
    assert codegen.evaluate(lse.typed.root, (), {"z": z}) == pytest.approx(1000 + np.log1p(np.exp(-1.0)))
    assert np.all(np.isfinite(lse.to_numpy()(z=z)))


def _stable_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


# expression, wrt, order, input at the extremes -> (value, derivative) computed the stable way by hand
EXTREMES = [
    ("log(sum(exp(z)))", "z", 1, lambda z: (z.max() + np.log(np.exp(z - z.max()).sum()), _stable_softmax(z))),
    ("log(sum(exp(z)))", "z", 2, lambda z: (None, np.diag(_stable_softmax(z))
                                           - np.outer(_stable_softmax(z), _stable_softmax(z)))),
    ("log(1 + exp(alpha))", "alpha", 1, lambda a: (np.logaddexp(0.0, a), _sigmoid(a))),
    ("log(1 + exp(alpha))", "alpha", 2, lambda a: (None, _sigmoid(a) * _sigmoid(-a))),
    ("sum(log(softmax(z)))", "z", 1, lambda z: (np.sum(z - z.max() - np.log(np.exp(z - z.max()).sum())),
                                                1 - z.size * _stable_softmax(z))),
    ("sum(log(1 + exp(z)))", "z", 1, lambda z: (np.sum(np.logaddexp(0.0, z)), _sigmoid(z))),
]


@pytest.mark.parametrize("expression,wrt,order,reference", EXTREMES)
@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_value_and_derivative_are_exact_at_plus_minus_1000(expression, wrt, order, reference, scale, tmp_path):
    """issue 13: exp(z)/sum(exp(z)), exp(a)/(1 + exp(a)), s'*(1 ./ s) are NaN at 1000 as printed; the
    generated code (callable and source) uses softmax, log-sum-exp, logaddexp and sigmoid instead."""
    d = matcalc.derive(expression, wrt=wrt, order=order)
    x = scale if wrt == "alpha" else scale * np.array([1.0, 0.25, -1.0, 0.0])
    want_value, want = reference(x)
    env = {wrt: x}
    module = load_source(d.numpy_source, tmp_path, f"extreme_{order}_{abs(hash(expression))}")
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # no overflow, inf/inf, 0*inf
        got = np.asarray(d.to_numpy()(**env), dtype=float)
        from_source = np.asarray(getattr(module, codegen.derivation_function_name(d))(**env), dtype=float)
        value = codegen.evaluate(d.typed.root, d.typed.dims, env)
    for g in (got, from_source):
        assert np.all(np.isfinite(g))
        assert np.allclose(g, want, rtol=1e-12, atol=1e-15)
    if want_value is not None:
        assert np.isfinite(value) and value == pytest.approx(want_value, rel=1e-12)


def test_logistic_loss_and_gradient_are_finite_for_huge_margins():
    d = matcalc.derive("sum(log(1 + exp(-y .* (X*w))))", wrt="w", assume=["y in {-1, 1}"])
    X = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5]]) * 500
    w = np.array([1.0, -1.0])
    y = np.array([1.0, -1.0, 1.0])
    margins = y * (X @ w)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = codegen.evaluate(d.typed.root, d.typed.dims, dict(X=X, w=w, y=y))
        grad = d.to_numpy()(X=X, w=w, y=y)
    assert loss == pytest.approx(np.sum(np.logaddexp(0.0, -margins)), rel=1e-12)
    assert np.allclose(grad, X.T @ (-y * _sigmoid(-margins)), rtol=1e-12)


def test_stable_forms_appear_in_the_source():
    src = lambda e, w, o=1: _body(matcalc.derive(e, wrt=w, order=o).numpy_source, "d_d")  # noqa: E731
    assert "return softmax(z)" in src("log(sum(exp(z)))", "z")
    assert "return sigmoid(alpha)" in src("log(1 + exp(alpha))", "alpha")
    assert "1.0 / " not in src("sum(log(softmax(z)))", "z")   # s'*(1 ./ s) is the length of z
    assert "np.log1p(" in _body(codegen.function_source(
        "f", {"v": matcalc.derive("sum(log(1 + x .^ 2))", wrt="x").typed.root}), "f")


# ---------------------------------------------------------------- structure: never materialise


def _source_of(expression, wrt, order=1, assume=()):
    d = matcalc.derive(expression, wrt=wrt, order=order, assume=list(assume))
    return _body(d.numpy_source, codegen.derivation_function_name(d))


def test_the_logistic_hessian_never_forms_the_n_by_n_diagonal():
    body = _source_of("sum(log(1 + exp(-y .* (X*w))))", "w", 2, ["y in {-1, 1}"])
    assert "np.diag" not in body and "np.ones" not in body and "np.eye" not in body
    assert "(X.T * " in body or "[:, None] * X" in body or "X * " in body


def test_the_log_sum_exp_hessian_is_distributed():
    body = _source_of("logsumexp(X*w)", "w", 2)
    assert "np.diag" not in body and "np.outer(X.T @ softmax_1, softmax_1 @ X)" in body


@pytest.mark.parametrize("expression,wrt,needle,absent", [
    ("x'*diag(v)*A*x", "x", "v * ", "np.diag"),             # diag(v)*b is v * b
    ("ones(m)'*A*x", "x", ".sum(axis=0)", "np.ones"),       # ones'*A is a column sum
    ("a'*inv(A)*x", "x", "np.linalg.solve(A.T, a)", "np.linalg.inv"),   # inv(A)'*a is a solve
    ("a'*inv(A)*x", "a", "np.linalg.solve(A, x)", "np.linalg.inv"),
    ("x'*y", "x", "return y", "@"),
])
def test_structured_products_are_lowered(expression, wrt, needle, absent):
    body = _source_of(expression, wrt)
    assert needle in body and absent not in body, body


def test_diag_and_identity_products_against_dense_numpy():
    """diag(v)*A, A*diag(v), I*A: the lowered plan equals the dense product on distinct sizes."""
    from matcalc.language import expr as E
    rng = np.random.default_rng(5)
    v, A, B, b = (E.sym("v", ("p", 1)), E.sym("A", ("p", "q")), E.sym("B", ("q", "p")), E.sym("b", ("p", 1)))
    outputs = {"left": E.mul(E.fn("diag", v, ("p", "p")), A), "right": E.mul(B, E.fn("diag", v, ("p", "p"))),
               "vec": E.mul(E.fn("diag", v, ("p", "p")), b), "eye": Node_eye_times(A)}
    plan = codegen.compile_nodes(outputs)
    env = {"v": rng.standard_normal(4), "A": rng.standard_normal((4, 3)), "B": rng.standard_normal((3, 4)),
           "b": rng.standard_normal(4)}
    out = plan(**env)
    D = np.diag(env["v"])
    assert np.allclose(out["left"], D @ env["A"]) and np.allclose(out["right"], env["B"] @ D)
    assert np.allclose(out["vec"], D @ env["b"]) and np.allclose(out["eye"], env["A"])
    assert not any(st.op == "fn" and st.param == "np.diag" for st in plan.steps)


def Node_eye_times(A):
    from matcalc.language.expr import Node, eye
    return Node("mul", (eye(A.shape[0]), A), None, A.shape)   # I*A as the engine may hand it over


def test_matrix_chain_order_follows_declared_sizes():
    from matcalc.language import expr as E
    A, B, x = E.sym("A", ("n", "k")), E.sym("B", ("k", "n")), E.sym("x", ("n", 1))
    plan = codegen.compile_nodes({"y": E.mul(A, B, x)}, sizes={"n": 1000, "k": 5})
    text = plan.source("f")
    assert "A @ (B @ x)" in text    # n*k + n*k, not n*k*n
    plan = codegen.compile_nodes({"y": E.mul(A, B, A)}, sizes={"n": 1000, "k": 5})
    assert "A @ (B @ A)" in plan.source("f")


# ---------------------------------------------------------------- sharing and the shape of the code


@pytest.fixture(scope="module")
def mlp():
    return demo.derive_network([64, 128, 64, 10])


def _body(source: str, name: str) -> str:
    return source.split(f"def {name}", 1)[1]


def test_loss_and_gradients_share_the_forward_pass(mlp):
    body = _body(mlp.plan.source("loss_and_gradients"), "loss_and_gradients")
    assert body.count("relu(") == 2  # each activation computed once, reused by every gradient
    assert body.count("log_softmax_rows(") == 1 and body.count("np.exp(") == 1  # the softmax once
    assert body.count(" @ ") == 8  # 3 forward + 5 backward products: what a hand-written loop does
    assert "np.ones" not in body  # ones(m)*... is a sum, a broadcast row is NumPy broadcasting
    assert body.count(".sum(axis=0)") == 3  # bias gradients as column sums
    assert body.count("/ m") == 2  # the 1/m applied once to the gradients (and once to the loss)
    assert "A1 = relu(X @ W1 + b1)" in body and "(A1 > 0)" in body


def test_the_transposed_error_of_the_bias_gradient_is_the_error_of_the_weight_gradient():
    shapes = {"X": ("m", "d")}
    dW = matcalc.derive(BATCH, wrt="W", shapes=shapes, assume=["Y one-hot"])
    db = matcalc.derive(BATCH, wrt="b", shapes=shapes, assume=["Y one-hot"])
    # the engine hands over (S' - Y')*ones(m), a sum of transposes (printed (S - Y)'*ones(m)) ...
    assert str(db) == "(1/m)*(softmax_rows(X*W + b') - Y)'*ones(m)"
    assert any(n.op == "add" and all(t.op == "T" or (t.op == "mul" and t.args[-1].op == "T") for t in n.args)
               for n in walk(db.result))
    source = codegen.function_source("f", {"W": dW.result, "b": db.result}, dW.typed.dims)
    body = _body(source, "f")
    assert body.count("softmax_rows(") == 1 and body.count("- Y") == 1  # ... computed as S - Y, once
    assert ".sum(axis=0)" in body and ".T -" not in body
    assert "(softmax_rows(X @ W + b) - Y).sum(axis=0) / X.shape[0]" in db.numpy_source


def test_sources_lead_with_a_positive_term():
    d = matcalc.derive(CE, wrt="b", assume=["sum(y) = 1"])
    assert "return softmax(W @ x + b) - y" in d.numpy_source
    s = matcalc.derive("sigmoid(w'*x)", wrt="w")
    assert "(1.0 - sigmoid_1)" in s.numpy_source


def test_loss_and_gradients_cost_at_most_3x_the_loss_alone(mlp):
    """Counted in matrix products (the work that dominates): timings belong in benchmarks/."""
    root = mlp.root
    loss_only = codegen.compile_nodes({"loss": root}, {"m"}, sizes={"m": 64})
    products = lambda plan: sum(1 for st in plan.steps if st.op == "matmul")  # noqa: E731
    assert products(loss_only) == 3
    assert products(mlp.plan) <= 3 * products(loss_only)


# ---------------------------------------------------------------- the callable as an API


def test_inputs_are_not_modified_and_outputs_are_fresh(mlp):
    rng = np.random.default_rng(2)
    params = matcalc.train.data.init_params([64, 128, 64, 10], 3)
    env = demo.batch_env(params, rng.random((16, 64)), np.eye(10)[rng.integers(0, 10, 16)])
    before = {k: v.copy() for k, v in env.items()}
    first = mlp.plan(**env)
    second = mlp.plan(**env)
    for k in env:
        assert np.array_equal(env[k], before[k])
    for k in first:
        assert np.array_equal(first[k], second[k])
    d = matcalc.derive("a'*x", wrt="x")
    a = np.arange(3.0)
    grad = d.to_numpy()(a=a, x=np.ones(3))
    grad += 1
    assert np.array_equal(a, np.arange(3.0))


def test_a_constant_gradient_is_a_whole_array():
    d = matcalc.derive("sum(X)", wrt="X", shapes={"X": ("p", "q")})
    got = d.to_numpy()(X=np.zeros((2, 3)))
    assert got.shape == (2, 3) and np.all(got == 1)
    got[0, 0] = 5.0  # writable, not a broadcast view


def test_inputs_are_checked():
    d = matcalc.derive("x'*A*x", wrt="x")
    with pytest.raises(matcalc.MatcalcError, match="missing input"):
        d.to_numpy()(x=np.ones(3))
    with pytest.raises(matcalc.MatcalcError, match="dimension"):
        d.to_numpy()(x=np.ones(3), A=np.ones((4, 4)))
    with pytest.raises(matcalc.MatcalcError, match="should be a matrix"):
        d.to_numpy()(x=np.ones(3), A=np.ones(3))
    f = d.to_numpy()
    f(x=np.ones(3), A=np.eye(3))
    with pytest.raises(matcalc.MatcalcError, match="dimension"):   # still checked after a good call
        f(x=np.ones(2), A=np.eye(3))


def test_the_fast_call_path_falls_back_for_other_inputs_and_sizes():
    """After a call with float64 arrays, a call with integers, lists or other sizes is converted and
    checked as the first was; small and large sizes (temporaries kept or dropped) agree with NumPy."""
    f = matcalc.derive("norm2(A*x - b)^2", wrt="x").to_numpy()
    rng = np.random.default_rng(5)
    for n, d in [(7, 3), (300, 200), (7, 3)]:
        A, b, x = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
        want = 2 * A.T @ (A @ x - b)
        for _ in range(2):
            assert np.allclose(f(A=A, b=b, x=x), want, rtol=1e-12, atol=1e-12)
    A = np.arange(6).reshape(3, 2)
    assert np.allclose(f(A=A, b=[1, 2, 3], x=np.ones(2, dtype=np.int64)), 2 * A.T @ (A @ np.ones(2) - [1, 2, 3]))
    with pytest.raises(matcalc.MatcalcError, match="should be"):
        f(A=np.ones((3, 2)), b=np.ones((3, 1, 1)), x=np.ones(2))


def test_the_code_generator_never_executes_text():
    package = Path(codegen.__file__).parents[1]
    files = [*(package / "compile").glob("*.py"), *(package / "train").glob("*.py"), package / "cli" / "train.py"]
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        assert not re.search(r"\b(exec|eval)\(|exec_module|import_module|__import__|compile\(", text), path.name


def test_a_gram_hessian_with_nonnegative_weights_is_a_symmetric_product():
    """X'*diag(w)*X with w >= 0 by structure compiles to (X .* sqrt(w))'*(X .* sqrt(w)); a weight of
    unknown sign (tanh's Hessian) never goes under a square root."""
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((40, 6)), rng.standard_normal(6), np.sign(rng.standard_normal(40))
    d = matcalc.derive("sum(log(1 + exp(-y .* (X*w))))", wrt="w", order=2)
    source = d.source()
    assert "np.sqrt" in source and ".T @ scaled" in source
    s = 1 / (1 + np.exp(-y * (X @ w)))
    assert np.allclose(d.to_numpy()(X=X, w=w, y=y), X.T @ (X * (s * (1 - s) * y ** 2)[:, None]))
    d = matcalc.derive("sum(tanh(X*w))", wrt="w", order=2)
    assert "sqrt" not in d.source()
    t = np.tanh(X @ w)
    assert np.allclose(d.to_numpy()(X=X, w=w), X.T @ (X * (-2 * t * (1 - t ** 2))[:, None]))
