"""The same plan on PyTorch and JAX (run here, on the CPU; both are test requirements through the
[torch] and [jax] extras, so these tests never skip) and CuPy (no GPU here: its source is generated
and checked as text, equal to the NumPy source but for the module name; it is not run).

Every backend's derivative is checked against central finite differences of the original expression
on instances with distinct dimension sizes, and against the NumPy callable to 1e-12."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import matcalc
from matcalc.compile import backends, codegen
from matcalc.check import numeric

from oracle import arrays_and_sizes, instances, truth

CASES = [
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"], 1),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"], 2),
    ("-y'*log(softmax(W*x + b))", "W", ["sum(y) = 1"], 1),
    ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "b", ["Y one-hot"], 1),
    ("norm2(A*x - b)^2", "x", [], 2),
    ("x'*A*x", "x", [], 2),
    ("logsumexp(X*w)", "w", [], 2),
    ("logdet(X)", "X", [], 1),
    ("a'*inv(A)*x", "x", [], 1),
    ("sum(log(1 + exp(z)))", "z", [], 1),
    ("log(sum(exp(z)))", "z", [], 1),
    ("tr(X)", "X", [], 1),
]


def derive(expression, wrt, assume, order):
    shapes = {"X": ("m", "d")} if "softmax_rows" in expression else None
    return matcalc.derive(expression, wrt=wrt, assume=assume, order=order, shapes=shapes)


def hessian_truth(d, inst):
    """Finite differences of the NumPy gradient (itself checked against finite differences elsewhere)."""
    first = matcalc.derive(d.expression, wrt=d.wrt, assume=list(d.assumptions.texts),
                           shapes={"X": ("m", "d")} if "softmax_rows" in d.expression else None)
    grad = first.to_numpy()
    env = arrays_and_sizes(d, inst)
    x0 = np.asarray(env[d.wrt], dtype=float)
    h = 1e-6
    cols = []
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e.flat[i] = h
        cols.append((grad(**{**env, d.wrt: x0 + e}) - grad(**{**env, d.wrt: x0 - e})) / (2 * h))
    return np.array(cols)


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("expression,wrt,assume,order", CASES)
def test_backend_matches_finite_differences_and_numpy(expression, wrt, assume, order, backend):
    d = derive(expression, wrt, assume, order)
    f = d.compile(backend)
    numpy_f = d.to_numpy()
    for inst in instances(d, count=2, seed=3):
        env = arrays_and_sizes(d, inst)
        got = f(**env)
        assert type(got).__module__.split(".")[0] in ("torch", "jax", "jaxlib")
        assert str(got.dtype).endswith("float64")
        got = np.asarray(got, dtype=float)
        want = truth(d, inst) if order == 1 else hessian_truth(d, inst)
        assert numeric.relative_error(got.reshape(want.shape), want) < 1e-6
        assert np.allclose(got, np.asarray(numpy_f(**env)), rtol=1e-12, atol=1e-12)


def _scalar_first_order():
    return [c for c in CASES if c[3] == 1]


@pytest.mark.parametrize("expression,wrt,assume,order", _scalar_first_order())
def test_torch_autograd_function_backward_is_the_derived_formula(expression, wrt, assume, order):
    d = derive(expression, wrt, assume, order)
    f = d.to_torch()
    assert issubclass(f.function, torch.autograd.Function)
    inst = next(instances(d, count=1, seed=8))
    env = arrays_and_sizes(d, inst)
    tensors = {k: torch.tensor(np.asarray(v, dtype=float), requires_grad=(k == wrt)) for k, v in env.items()
               if k in d.typed.names}
    loss = f.loss(**tensors)
    want_value = codegen.evaluate(d.typed.root, d.typed.dims, env)
    assert float(loss.detach()) == pytest.approx(float(want_value), rel=1e-12)
    loss.backward()
    want = truth(d, inst)
    got = tensors[wrt].grad.numpy()
    assert numeric.relative_error(got.reshape(want.shape), want) < 1e-6
    # chained inside a larger torch computation: the incoming gradient multiplies the derived one
    tensors[wrt].grad = None
    (3.0 * f.loss(**tensors)).backward()
    assert np.allclose(tensors[wrt].grad.numpy(), 3.0 * got, rtol=1e-12)


@pytest.mark.parametrize("expression,wrt,assume,order", _scalar_first_order())
def test_jax_custom_vjp_is_the_derived_formula_under_jit(expression, wrt, assume, order):
    d = derive(expression, wrt, assume, order)
    loss = d.to_jax().loss
    inst = next(instances(d, count=1, seed=9))
    env = arrays_and_sizes(d, inst)
    args = [jnp.asarray(env[n]) for n in loss.names]
    k = loss.names.index(wrt)
    grad = jax.jit(jax.grad(loss.positional, argnums=k))(*args)
    want = truth(d, inst)
    assert numeric.relative_error(np.asarray(grad).reshape(want.shape), want) < 1e-6
    value = loss(**{n: env[n] for n in loss.names})
    assert float(value) == pytest.approx(float(codegen.evaluate(d.typed.root, d.typed.dims, env)), rel=1e-12)


@pytest.mark.parametrize("expression,wrt,assume,order", CASES)
def test_cupy_source_is_the_numpy_source_with_its_module(expression, wrt, assume, order):
    """CuPy cannot run here (no GPU, not installed): its source is checked as text only."""
    d = derive(expression, wrt, assume, order)
    numpy_src, cupy_src = d.source("numpy"), d.source("cupy")
    assert cupy_src.startswith("import cupy as cp\n") and "np." not in cupy_src
    assert re.sub(r"\bcp\.", "np.", cupy_src.replace("import cupy as cp", "import numpy as np")
                  .replace("xp=cp", "xp=np")) == numpy_src


def test_cupy_backend_says_plainly_that_it_cannot_run_here():
    d = matcalc.derive("x'*A*x", wrt="x")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(matcalc.MatcalcError, match="CuPy"):
            d.compile("cupy")


@pytest.mark.parametrize("backend,module", [("torch", "torch."), ("jax", "xp=jnp")])
def test_torch_and_jax_sources_run_and_agree(backend, module, tmp_path):
    """The printed source for torch/jax, imported as a module (as a user would), gives the numbers."""
    import importlib.util

    d = matcalc.derive("sum(log(1 + exp(-y .* (X*w))))", wrt="w", assume=["y in {-1, 1}"], order=2)
    src = d.source(backend)
    assert not re.search(r"\bnp\.", src) and module in src and ".diag(" not in src
    path = tmp_path / f"h_{backend}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    X, w, y = rng.standard_normal((7, 3)), rng.standard_normal(3), np.sign(rng.standard_normal(7))
    conv = (lambda a: torch.as_tensor(a)) if backend == "torch" else jnp.asarray
    backends.namespace(backend)   # float64 for jax
    got = np.asarray(getattr(mod, "d2_dw2")(conv(X), conv(w), conv(y)))
    assert np.allclose(got, d.to_numpy()(X=X, w=w, y=y), rtol=1e-12)


def test_unknown_backend_is_a_clear_error():
    d = matcalc.derive("x'*A*x", wrt="x")
    with pytest.raises(matcalc.MatcalcError, match="unknown backend"):
        d.compile("tensorflow")
    with pytest.raises(matcalc.MatcalcError, match="unknown backend"):
        d.source("tensorflow")


def test_hessian_labels_say_second_derivative():
    d = matcalc.derive("x'*A*x", wrt="x", order=2)
    assert "∂²f/∂x²" in d.numpy_source and "∂²f/∂x²" in d.to_numpy().__doc__
    assert "def d2_dx2(" in d.numpy_source
    h = matcalc.derive("tr(X'*A*X)", wrt="X", order=2, direction="V")
    assert "H[V]" in h.numpy_source and "def hvp_X(" in h.numpy_source
    g = matcalc.derive("x'*A*x", wrt="x")
    assert "∂f/∂x" in g.numpy_source and "∂²" not in g.numpy_source


# ---------------------------------------------------------------- training on every backend


@pytest.fixture(scope="module")
def one_epoch_weights():
    from matcalc.train import demo
    from matcalc.train import backends as train_backends

    arrays = demo.prepare_data(None, 0)
    out = {}
    for backend in ("numpy", "torch", "jax"):
        result = train_backends.train(hidden=(32, 16), epochs=1, lr=0.1, batch_size=64, seed=0,
                                      backend=backend, data_arrays=arrays)
        out[backend] = (result, result.params)
    return out


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_one_epoch_gives_the_same_weights_on_every_backend(one_epoch_weights, backend):
    """Same network, same derived formulas, same seeds: weights after one epoch agree to 1e-9 (float64)."""
    numpy_result, numpy_params = one_epoch_weights["numpy"]
    result, params = one_epoch_weights[backend]
    for (W0, b0), (W1, b1) in zip(numpy_params, params):
        assert np.max(np.abs(W0 - W1)) < 1e-9 and np.max(np.abs(b0 - b1)) < 1e-9
    assert result.epochs[0].loss == pytest.approx(numpy_result.epochs[0].loss, rel=1e-12)
    assert np.max(np.abs(numpy_params[0][0] - matcalc.train.data.init_params([64, 32, 16, 10], 0)[0][0])) > 1e-3


def test_the_numpy_path_of_train_backends_is_train_itself(one_epoch_weights):
    """The numpy run above (train_backends' loop) gives the loss of train.train, the CLI's default path."""
    from matcalc.train import demo

    reference = demo.train(hidden=(32, 16), epochs=1, lr=0.1, batch_size=64, seed=0)
    assert reference.epochs[0].loss == pytest.approx(one_epoch_weights["numpy"][0].epochs[0].loss, rel=1e-12)


# ---------------------------------------------------------------- the CLI's --format torch|jax|cupy

CLI_CASES = [
    ("sum(log(1 + exp(-y .* (X*w))))", "w", "y in {-1, 1}"),
    ("-y'*log(softmax(W*x + b))", "W", "sum(y) = 1"),
    ("norm2(A*x - b)^2", "x", None),
    ("logsumexp(X*w)", "w", None),
    ("a'*inv(A)*x", "x", None),
    ("logdet(X)", "X", None),
    ("tr(X)", "X", None),
]


def cli_source(expression, wrt, assume, fmt):
    from click.testing import CliRunner

    from matcalc.cli.app import main

    args = ["derive", expression, "--wrt", wrt, "--format", fmt] + (["--assume", assume] if assume else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def function_of_source(src: str):
    """Run the printed module (our own generated code) and return its one public function."""
    namespace = {}
    exec(compile(src, "<matcalc derive --format>", "exec"), namespace)
    (name,) = re.findall(r"^def (d_\w+)\(", src, flags=re.M)
    return namespace[name]


@pytest.mark.parametrize("fmt", ["torch", "jax"])
@pytest.mark.parametrize("expression,wrt,assume", CLI_CASES)
def test_cli_printed_source_runs_and_matches_finite_differences(expression, wrt, assume, fmt):
    import inspect

    src = cli_source(expression, wrt, assume, fmt)
    assert not re.search(r"\bnp\.", src)
    fn = function_of_source(src)
    d = matcalc.derive(expression, wrt=wrt, assume=[assume] if assume else [])
    backends.namespace(fmt)   # float64 for jax, as the printed comment asks
    conv = torch.as_tensor if fmt == "torch" else jnp.asarray
    params = list(inspect.signature(fn).parameters)
    checked = 0
    for inst in instances(d, count=3, seed=11):
        env = arrays_and_sizes(d, inst)
        sizes = [v for k, v in inst.dims.items()]
        assert len(set(sizes)) == len(sizes)   # distinct dimensions: a transposed result cannot pass
        args = {k: (conv(np.asarray(env[k], dtype=float)) if k in d.typed.names else env[k]) for k in params}
        got = fn(**args)
        assert type(got).__module__.split(".")[0] in ("torch", "jax", "jaxlib")
        got = np.asarray(got, dtype=float)
        want = truth(d, inst)
        assert numeric.relative_error(got.reshape(want.shape), want) < 1e-6
        checked += 1
    assert checked == 3


@pytest.mark.parametrize("fmt", ["torch", "jax", "cupy"])
def test_cli_format_prints_the_same_source_as_the_api(fmt):
    expression, wrt, assume = CLI_CASES[0]
    d = matcalc.derive(expression, wrt=wrt, assume=[assume])
    assert cli_source(expression, wrt, assume, fmt) == d.source(fmt)


def test_cli_hessian_torch_source_runs_and_matches_finite_differences():
    """--order 2 --format torch: the printed Hessian against finite differences of the gradient."""
    import inspect

    expression, wrt, assume = CLI_CASES[0]
    from click.testing import CliRunner

    from matcalc.cli.app import main

    result = CliRunner().invoke(main, ["derive", expression, "--wrt", wrt, "--assume", assume, "--order", "2",
                                       "--format", "torch"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("import torch") and ".diag(" not in result.output
    namespace = {}
    exec(compile(result.output, "<matcalc derive --order 2 --format torch>", "exec"), namespace)
    fn = namespace["d2_dw2"]
    d = matcalc.derive(expression, wrt=wrt, assume=[assume], order=2)
    for inst in instances(d, count=2, seed=12):
        env = arrays_and_sizes(d, inst)
        got = fn(**{k: torch.as_tensor(np.asarray(env[k], dtype=float)) for k in inspect.signature(fn).parameters})
        want = hessian_truth(d, inst)
        assert numeric.relative_error(got.numpy(), want) < 1e-6


# ---------------------------------------------------------------- a matrix sum times a vector


@pytest.mark.parametrize("expression,assume,direction", [
    ("x'*A*x", [], None),
    ("x'*(A - 3*B)*x", [], None),
    ("x'*(A - B + I)*x", [], None),
    ("x'*A'*B*C*x", [], None),
    ("x'*(A + diag(u))*x", [], None),
    ("x'*A*x", [], "v"),
])
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_matrix_sum_times_vector_is_distributed_and_right(expression, assume, direction, layout):
    """(A + A')*x is run as A.T @ x + A @ x: no step forms a matrix sum (an n×n temporary read through
    a transposed view, 3× slower than two products at n = 200). Values against finite differences."""
    order = 2 if direction else 1
    d = matcalc.derive(expression, wrt="x", assume=assume, layout=layout, order=order, direction=direction)
    f = d.to_numpy()
    assert not [s for s in f.plan.steps if s.op == "add" and s.rep == "mat"], d.numpy_source
    for inst in instances(d, count=2, seed=21):
        env = arrays_and_sizes(d, inst)
        got = np.asarray(f(**env), dtype=float)
        if direction:
            full = matcalc.derive(expression, wrt="x", assume=assume, layout=layout, order=2)
            want = hessian_truth(full, inst) @ env[direction]
        else:
            want = truth(d, inst)
        assert numeric.relative_error(got.reshape(want.shape), want) < 1e-6
        for backend in ("torch", "jax") if layout == "denominator" else ():   # frameworks: denominator only
            other = np.asarray(d.compile(backend)(**env), dtype=float)
            assert np.allclose(other, got, rtol=1e-12, atol=1e-12)


def test_a_matrix_sum_needed_elsewhere_is_formed_once():
    """Where the sum is an output too (gradient and Hessian in one plan), it is not distributed."""
    from matcalc.compile.codegen import Plan

    d = matcalc.derive("x'*A*x", wrt="x")
    h = matcalc.derive("x'*A*x", wrt="x", order=2)
    plan = Plan({"g": d.denominator if d.denominator is not None else d.result, "H": h.result})
    assert sum(1 for s in plan.steps if s.op == "add" and s.rep == "mat") == 1
    assert sum(1 for s in plan.steps if s.op == "matmul") == 1
    rng = np.random.default_rng(5)
    A, x = rng.standard_normal((4, 4)), rng.standard_normal(4)
    out = plan(A=A, x=x)
    assert np.allclose(out["H"], A + A.T) and np.allclose(out["g"], (A + A.T) @ x)
