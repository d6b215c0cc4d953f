"""Abstract elementwise functions (`--function f`): derived in f' and f'', compiled with f and its
derivatives as keyword callables, and judged by instantiating f with random smooth functions.

The truth outside the engine: each result is compiled with a concrete f (tanh, a random member of the
checker's family, a polynomial) and compared with HIPS autograd and central differences of the
expression with that same f; the checker must reject claims that hold only for one f (tanh's
f' = 1 - f^2, an odd f, a linear f, exp).
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.check.abstract import SmoothFunction, draw_functions
from matcalc.cli import main
from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.language.functions import declared
from matcalc.compile.codegen import Plan
from matcalc.language.latex import latex_to_ascii

from oracle import arrays, instances, max_error_against_truth

RNG = np.random.default_rng(11)


def test_the_gradient_is_written_in_f_prime():
    d = matcalc.derive("sum(f(W*x))", wrt="W", functions=["f"])
    assert str(d) == "f'(W*x)*x'"
    assert matcalc.derive("sum(f(W*x))", wrt="W", functions=["f"], layout="numerator").text == "x*f'(W*x)'"
    h = matcalc.derive("sum(f(W*x))", wrt="x", functions=["f"], order=2)
    assert str(h) == "W'*diag(f''(W*x))*W"


@pytest.mark.parametrize("text, wrt, order", [
    ("sum(f(W*x))", "W", 1),
    ("sum(f(W*x))", "x", 1),
    ("sum(f(W*x))", "x", 2),
    ("a'*f(W*x + b)", "b", 1),
    ("sum(f(x).^2)", "x", 2),
    ("sum(log(g(x)))", "x", 1),
    ("h = f(W1*x); z = W2*h; sum(g(z))", "W1", 1),
    ("f(alpha*x)'*y", "alpha", 2),
])
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_compiled_derivative_with_concrete_functions_matches_autograd(text, wrt, order, layout):
    """Each instance draws f and g anew (a random smooth function each, g positive under the log); the
    compiled derivative, given them and their derivatives, equals autograd's through the expression."""
    d = matcalc.derive(text, wrt=wrt, functions=["f", "g"], order=order, layout=layout)
    plan = Plan({"v": d.typed.root}, set(d.typed.dims), xp=anp)
    compiled = d.to_numpy()
    for inst in instances(d, count=2, seed=9):
        env = arrays(d, inst)
        assert set(compiled.functions) <= set(env)

        def value(v):
            return plan(**dict(env, **{wrt: v}))["v"]

        x0 = env[wrt]
        want = np.asarray((autograd.hessian if order == 2 else autograd.jacobian)(value)(x0), dtype=float)
        if order == 1 and want.ndim == 2 and np.ndim(x0) == 1:
            want = want.T                      # autograd's Jacobian is ∂f_i/∂x_j: denominator is its transpose
        got = np.asarray(compiled(**env), dtype=float)
        if layout == "numerator" and got.ndim == 2:
            got = got.T
        assert np.allclose(got.reshape(want.shape), want, rtol=1e-8, atol=1e-10), str(d)
        if order == 1:
            with declared(d.functions):        # the printed result read back, as a claim would be
                assert max_error_against_truth(d, count=1, seed=3) < 1e-6


def test_the_random_family_has_exact_derivatives():
    for positive in (False, True):
        f = SmoothFunction(np.random.default_rng(3), positive=positive)
        z = np.linspace(-3, 3, 13)
        d = f
        for k in range(1, 5):
            want = autograd.elementwise_grad(d)(z)
            assert np.allclose(f.derivative(k)(z), want, rtol=1e-10, atol=1e-12)
            d = f.derivative(k)
        if positive:
            assert np.all(f(np.linspace(-30, 30, 301)) > 0)


def test_instances_draw_a_different_function_each_time():
    d = matcalc.derive("sum(f(x))", wrt="x", functions=["f"])
    a = draw_functions([d.typed.root], np.random.default_rng(1))
    b = draw_functions([d.typed.root], np.random.default_rng(2))
    assert set(a) >= {"f", "df", "d2f"}
    z = np.linspace(-1, 1, 5)
    assert not np.allclose(a["f"](z), b["f"](z))


@pytest.mark.parametrize("expr, wrt, claim", [
    ("sum(f(W*x))", "W", "f'(W*x)*x'"),
    ("sum(f(-x))", "x", "-f'(-x)"),
    ("sum(f(x).^2)", "x", "2*f(x) .* f'(x)"),
    ("sum(log(f(x)))", "x", "f'(x) ./ f(x)"),
    ("a'*f(W*x)", "x", "W'*(a .* f'(W*x))"),
    ("sum(f(g(x)))", "x", "f'(g(x)) .* g'(x)"),
    ("h = f(W*x); sum(h)", "W", "f'(W*x)*x'"),
])
def test_right_claims_about_any_f_are_correct(expr, wrt, claim):
    v = matcalc.verify(expr, wrt=wrt, claim=claim, functions=["f", "g"])
    assert v.ok, v.diagnosis


@pytest.mark.parametrize("expr, wrt, claim, why", [
    ("sum(f(W*x))", "W", "(1 - f(W*x).^2)*x'", "right only for f = tanh"),
    ("sum(f(W*x))", "W", "(f(W*x) .* (1 - f(W*x)))*x'", "right only for the logistic function"),
    ("sum(f(-x))", "x", "-f'(x)", "right only for odd f (f' even)"),
    ("sum(f(-x))", "x", "f'(x)", "right only for even f"),
    ("sum(f(x).^2)", "x", "2*f(x)", "right only for f' = 1"),
    ("a'*f(W*x)", "x", "W'*(a .* f(W*x))", "right only for exp"),
    ("sum(f(x))", "x", "f'(0)*ones(p) + f''(0)*x", "right only for a quadratic f"),
    ("sum(f(2*x))", "x", "2*f'(x)", "the argument of f' dropped"),
    ("sum(f(x) .* g(x))", "x", "f'(x) .* g'(x)", "the product rule forgotten"),
])
def test_claims_true_for_one_particular_f_only_are_wrong(expr, wrt, claim, why):
    v = matcalc.verify(expr, wrt=wrt, claim=claim, functions=["f", "g"])
    assert not v.ok and v.status == "wrong", (why, v.diagnosis)


def test_hessian_claims_use_f_second():
    assert matcalc.verify("sum(f(W*x))", wrt="x", claim="W'*diag(f''(W*x))*W", functions=["f"], order=2).ok
    v = matcalc.verify("sum(f(W*x))", wrt="x", claim="W'*diag(f'(W*x))*W", functions=["f"], order=2)
    assert not v.ok


def test_index_and_derivation_file_claims_about_f():
    assert matcalc.verify("sum(f(W*x))", wrt="W", claim="dL/dW_ij = f'(W*x)_i*x_j", functions=["f"]).ok
    assert not matcalc.verify("sum(f(W*x))", wrt="W", claim="dL/dW_ij = f(W*x)_i*x_j", functions=["f"]).ok
    text = "z = W*x\nL: sum(f(z))\ndL/dz = f'(z)\ndL/dW = f'(z)*x'\n"
    assert matcalc.verify_steps(text, functions=["f"]).ok
    assert not matcalc.verify_steps(text.replace("dL/dz = f'(z)", "dL/dz = f(z)"), functions=["f"]).ok


def test_latex_reads_primes_of_declared_functions():
    with declared(["sigma", "f", "phi"]):
        assert latex_to_ascii(r"\sigma(W x)") == "sigma(W*x)"
        assert latex_to_ascii(r"\sigma'(W x)") == "sigma'(W*x)"
        assert latex_to_ascii(r"f''(z)") == "f''(z)"
        assert latex_to_ascii(r"\phi'(z)") == "phi'(z)"
        assert latex_to_ascii(r"\sum_i \phi(z_i)") == "sum(phi(z))"
    assert latex_to_ascii(r"\sigma(W x)") == "sigmoid(W*x)"          # undeclared: the logistic function
    with pytest.raises(ParseError, match="--function sigma"):
        latex_to_ascii(r"\sigma'(W x)")
    d = matcalc.derive("sum(sigma(W*x))", wrt="W", functions=["sigma"])
    assert d.latex == r"\sigma'\left(W x\right) x^\top"
    assert matcalc.verify("sum(sigma(W*x))", wrt="W", claim=d.latex, functions=["sigma"]).ok


def test_undeclared_and_misused_functions_are_clear_errors():
    with pytest.raises(ParseError, match="--function f"):
        matcalc.derive("sum(f(W*x))", wrt="W")
    with pytest.raises(MatcalcError, match="not declared"):
        matcalc.derive("sum(f'(W*x))", wrt="W")
    with pytest.raises(ShapeError, match="declared a function"):
        matcalc.derive("sum(f(x)) + sum(f)", wrt="x", functions=["f"])
    with pytest.raises(ShapeError, match="df"):
        matcalc.derive("sum(f(x)) + df'*x", wrt="x", functions=["f"])
    with pytest.raises(MatcalcError, match="already a function"):
        matcalc.derive("sum(exp(x))", wrt="x", functions=["exp"])
    with pytest.raises(ShapeError, match="one argument"):
        matcalc.derive("sum(f(x, x))", wrt="x", functions=["f"])


def test_generated_code_takes_f_and_its_derivatives_as_keyword_callables():
    d = matcalc.derive("sum(f(W*x)) + sum(g(x))", wrt="x", functions=["f", "g"])
    assert "def d_dx(W, x, df, dg):" in d.numpy_source
    g = d.to_numpy()
    assert g.functions == ["df", "dg"]
    W, x = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    got = g(W=W, x=x, df=lambda z: 1 - np.tanh(z) ** 2, dg=np.cos)
    assert np.allclose(got, W.T @ (1 - np.tanh(W @ x) ** 2) + np.cos(x))
    with pytest.raises(MatcalcError, match="dg"):
        g(W=W, x=x, df=np.cos)
    with pytest.raises(MatcalcError, match="not a function"):
        g(W=W, x=x, df=np.cos, dg=3.0)


def test_cli_function_option():
    runner = CliRunner()
    res = runner.invoke(main, ["derive", "sum(f(W*x))", "--wrt", "W", "--function", "f"])
    assert res.exit_code == 0 and res.output.strip().endswith("f'(W*x)*x'"), res.output
    res = runner.invoke(main, ["check", "sum(f(W*x))", "--wrt", "W", "--function", "f",
                               "--claim", "(1 - f(W*x).^2)*x'"])
    assert res.exit_code == 1 and "WRONG" in res.output
    res = runner.invoke(main, ["derive", "sum(f(W*x)) + sum(g(x))", "--wrt", "x", "--function", "f",
                               "--function", "g", "--format", "numpy"])
    assert res.exit_code == 0 and "df(W @ x)" in res.output
    res = runner.invoke(main, ["derive", "sum(f(W*x))", "--wrt", "W"])
    assert res.exit_code == 2 and "--function f" in res.output


def test_web_api_takes_functions():
    from matcalc.web.handlers import run

    status, body = run("derive", {"expression": "sum(f(W*x))", "wrt": "W", "functions": ["f"]})
    assert status == 200 and body["result"] == "f'(W*x)*x'" and "--function f" in body["cli"]
    status, body = run("check", {"expression": "sum(f(W*x))", "wrt": "W", "claim": "(1 - f(W*x).^2)*x'",
                                 "functions": "f"})
    assert status == 200 and body["status"] == "wrong"


def test_torch_and_jax_take_the_callables_too():
    import jax
    import jax.numpy as jnp
    import torch

    d = matcalc.derive("sum(f(W*x))", wrt="W", functions=["f"])
    W0, x0 = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    want = np.outer(1 - np.tanh(W0 @ x0) ** 2, x0)
    g = d.to_torch()
    W = torch.tensor(W0, requires_grad=True)
    x = torch.tensor(x0)
    g.loss(W=W, x=x, f=torch.tanh, df=lambda z: 1 - torch.tanh(z) ** 2).backward()
    assert np.allclose(W.grad.numpy(), want)
    gj = d.to_jax()
    grad = jax.grad(lambda W: gj.loss(W=W, x=jnp.array(x0), f=jnp.tanh, df=lambda z: 1 - jnp.tanh(z) ** 2))
    assert np.allclose(np.asarray(grad(jnp.array(W0))), want)
