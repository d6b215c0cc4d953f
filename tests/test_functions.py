"""The functions practitioners write (issue 21): mean/var/std, dimension arguments, max/min elementwise
and as reductions, softplus log1p expm1 erf gelu gelu_tanh silu cosh sinh normpdf normcdf, log_softmax
and log_softmax_rows, a scalar symbol as exponent, and zeros(n).

Truth is taken outside the engine: tests/plain_eval.py reads the expression and matcalc's *printed*
result with its own parser and evaluates them with HIPS autograd; central differences are taken of that
same independent evaluation. Instances give every dimension a different size. Every case is derived in
both layouts; the smooth ones also to second order (Hessians and Hessian-vector products), by the
differential method, and in vec/Kronecker form."""

from __future__ import annotations

import autograd
import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.app import main
from matcalc.compile.codegen import evaluate
from matcalc.language.latex import latex_to_ascii
from matcalc.language.printing import to_latex, to_text
from matcalc.language.shapes import elaborate, elaborate_many
from matcalc.tables import functions

import plain_eval as P
from test_forward import _check as check_differential
from test_kronecker import instances as kron_instances
from test_kronecker import measured_jacobian, relative

TOL = 1e-6
SEEDS = (0, 1, 2)

# (expression, variable, signature of every name (dimension letters, declared to matcalc), draws)
CASES = [
    # the issue's examples
    ("mean((X*w - y).^2)", "w", "X:m,d w:d y:m", {}),
    ("sum(max(0, 1 - y .* (X*w)))", "w", "y:m X:m,d w:d", {}),
    ("sum(min(x, 0))", "x", "x:n", {}),
    ("max(x)", "x", "x:n", {}),
    ("w'*sum(X, 2)", "X", "w:m X:m,n", {}),
    ("sum(abs(x).^p)", "x", "x:n p:", {}),
    ("sum(abs(x).^p)", "p", "x:n p:", {}),
    ("sum(x.^p)", "p", "x:n p:", {"x": "positive"}),
    # mean, var, std, of all entries and with a dimension argument
    ("mean(A .* X)", "X", "A:m,n X:m,n", {}),
    ("var(x)", "x", "x:n", {}),
    ("var(X*w)", "w", "X:m,d w:d", {}),
    ("std(x)", "x", "x:n", {}),
    ("std(X*w)", "w", "X:m,d w:d", {}),
    ("sum(X, 1)*v", "X", "X:m,n v:n", {}),
    ("sum(exp(sum(X*W, 2)))", "W", "X:m,d W:d,c", {"X": "small", "W": "small"}),
    ("w'*mean(X, 2)", "X", "w:m X:m,n", {}),
    ("mean(X*W, 1)*v", "W", "X:m,d W:d,c v:c", {}),
    ("var(X, 1)*v", "X", "X:m,n v:n", {}),
    ("w'*var(X, 2)", "X", "w:m X:m,n", {}),
    ("std(X, 1)*v", "X", "X:m,n v:n", {}),
    ("w'*std(X*W, 2)", "W", "w:m X:m,d W:d,c", {}),
    ("sum(A*x*w', 2)", "x", "A:m,n x:n w:k", {}),        # vector by vector: the Jacobian sum(w)*A
    # max and min, elementwise (broadcast) and as reductions
    ("sum(max(x, y))", "x", "x:n y:n", {}),
    ("sum(max(x, y))", "y", "x:n y:n", {}),
    ("y'*min(A*x, x)", "x", "y:n A:n,n x:n", {}),
    ("sum(max(X, b'))", "b", "X:m,n b:n", {}),
    ("u'*max(X*W + 1, 0)*v", "W", "u:m X:m,d W:d,c v:c", {}),
    ("max(A*x)", "x", "A:m,n x:n", {}),
    ("min(x)", "x", "x:n", {}),
    ("max(X)", "X", "X:m,n", {}),
    ("max(x, 0)", "x", "x:n", {}),                         # a Jacobian: diag(step(x))
    ("sum(max(x, 0).^2)", "x", "x:n", {}),                 # the simplifier expands through max(., .)
    ("sum((x.^p + 1).^2)", "x", "x:n p:", {"x": "positive"}),
    ("sum(max(A*x, y) .* min(x, 2))", "x", "A:n,n x:n y:n", {"x": "wide"}),
    # the elementwise functions
    ("sum(softplus(X*w))", "w", "X:m,d w:d", {}),
    ("y'*log1p(x)", "x", "y:n x:n", {"x": "small"}),
    ("sum(expm1(W*x))", "W", "W:c,d x:d", {"W": "small"}),
    ("y'*cosh(x) + sum(sinh(A*x))", "x", "y:n A:n,n x:n", {"A": "small"}),
    ("sum(erf(W*x))", "x", "W:c,d x:d", {}),
    ("y'*gelu(W*x)", "W", "y:c W:c,d x:d", {}),
    ("sum(gelu_tanh(X*w))", "w", "X:m,d w:d", {}),
    ("sum(silu(W*x + b))", "b", "W:c,d x:d b:c", {}),
    ("sum(normcdf(x) .* normpdf(x))", "x", "x:n", {}),
    ("gelu(x)", "x", "x:n", {}),
    # log_softmax and its row-wise form
    ("-y'*log_softmax(W*x)", "W", "y:c W:c,d x:d", {}),
    ("log_softmax(z)", "z", "z:n", {}),
    ("-sum(Y .* log_softmax_rows(X*W))", "W", "Y:m,c X:m,d W:d,c", {}),
    # a scalar symbol as exponent
    ("sum(x.^p)", "x", "x:n p:", {"x": "positive"}),
    ("alpha^p", "alpha", "alpha: p:", {"alpha": "positive"}),
    ("alpha^p", "p", "alpha: p:", {"alpha": "positive"}),
    ("norm2(x)^p", "p", "x:n p:", {}),
    ("w'*(A*x).^p", "p", "w:n A:n,n x:n p:", {"A": "positive", "x": "positive"}),
    ("x.^p", "p", "x:n p:", {"x": "positive"}),
    # a zero derivative keeps its shape
    ("sum(sign(x))", "x", "x:n", {}),
]


def _shapes(sig: str) -> dict:
    return {name: ",".join(dims) for name, dims in P.read_signature(sig).items()}


def _flat(env: dict) -> dict:
    """plain_eval's 2-D arrays as matcalc's callables take them: vectors 1-D, scalars floats."""
    out = {}
    for k, v in env.items():
        v = np.asarray(v, dtype=float)
        out[k] = float(v[0, 0]) if v.shape == (1, 1) else v[:, 0] if v.shape[1] == 1 else v
    return out


def central_differences(expr: str, wrt: str, env: dict, dims: dict, layout: str, h: float = 1e-6):
    """The derivative by central differences of plain_eval's evaluation of the expression (no matcalc)."""
    tree = P.parse(expr)
    x0 = np.asarray(env[wrt], dtype=float)

    def f(x):
        local = dict(env)
        local[wrt] = x
        return np.asarray(P.evaluate(tree, local, dims), dtype=float)

    out = f(x0)
    cols = []
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = h * max(1.0, abs(x0.flat[k]))
        e = e.reshape(x0.shape)
        cols.append(((f(x0 + e) - f(x0 - e)) / (2 * e.flat[k])).ravel())
    grads = np.array(cols)                        # one row per entry of x (row-major)
    if out.shape == (1, 1):
        den = grads[:, 0].reshape(x0.shape)
        return den if layout == "denominator" else den.T
    num = grads.T                                 # ∂f_i/∂x_j: the Jacobian (f and x vectors)
    return num if layout == "numerator" else num.T


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("expr,wrt,sig,kinds", CASES, ids=[f"{c[0]} wrt {c[1]}" for c in CASES])
def test_derivative_equals_autograd_and_central_differences(expr, wrt, sig, kinds, layout):
    d = matcalc.derive(expr, wrt=wrt, shapes=_shapes(sig), layout=layout)
    printed = str(d)
    run = d.to_numpy()
    for seed in SEEDS:
        env, dims = P.draw(sig, kinds, seed)
        truth = P.derivative(expr, wrt, env, dims, layout)
        assert np.all(np.isfinite(truth))
        fd = central_differences(expr, wrt, env, dims, layout)
        assert P.relative_error(fd, truth) < 1e-5, "the two witnesses disagree"
        got = P.value(printed, env, dims, truth.shape)
        assert P.relative_error(got, truth) < TOL, (printed, seed)
        compiled = np.asarray(run(**_flat(env)), dtype=float)
        assert P.relative_error(compiled.reshape(truth.shape), truth) < TOL, (d.numpy_source, seed)


def test_the_issue_examples_print_as_the_books_write_them():
    shapes = {"X": "m,d"}
    assert str(matcalc.derive("mean((X*w - y).^2)", wrt="w", shapes=shapes)) == "(2/m)*X'*(X*w - y)"
    assert str(matcalc.derive("sum(max(0, 1 - y .* (X*w)))", wrt="w")) == "-X'*(y .* step(1 - y .* (X*w)))"
    assert str(matcalc.derive("sum(min(x, 0))", wrt="x")) == "step(-x)"
    assert str(matcalc.derive("max(x)", wrt="x")) == "ismax(x)"
    assert str(matcalc.derive("sum(x.^p)", wrt="p")) == "log(x)'*x.^p"
    assert str(matcalc.derive("sum(x.^p)", wrt="x")) == "p*x.^(p - 1)"
    assert str(matcalc.derive("var(x)", wrt="x", shapes={"x": "n"})) == "(2/n)*(x - mean(x))"
    assert str(matcalc.derive("y'*gelu(z)", wrt="z")) == "y .* (normcdf(z) + z .* normpdf(z))"
    assert str(matcalc.derive("-y'*log_softmax(z)", wrt="z", assume=["sum(y) = 1"])) == "softmax(z) - y"


# ---------------------------------------------------------------- second order

SMOOTH = [
    ("sum(softplus(X*w))", "w", "X:m,d w:d", {}),
    ("mean((X*w - y).^2)", "w", "X:m,d w:d y:m", {}),
    ("var(x)", "x", "x:n", {}),
    ("std(x)", "x", "x:n", {}),
    ("mean(X*w)^2", "w", "X:m,d w:d", {}),
    ("y'*gelu(W*x)", "x", "y:c W:c,d x:d", {}),
    ("sum(gelu_tanh(x))", "x", "x:n", {}),
    ("sum(silu(x))", "x", "x:n", {}),
    ("sum(erf(A*x))", "x", "A:n,n x:n", {"A": "small"}),
    ("-y'*log_softmax(W*x)", "x", "y:c W:c,d x:d", {}),
    ("sum(log1p(x.^2))", "x", "x:n", {}),
    ("y'*expm1(A*x) + sum(cosh(x))", "x", "y:n A:n,n x:n", {"A": "small"}),
    ("sum(x.^p)", "p", "x:n p:", {"x": "positive"}),
    ("sum(x.^p)", "x", "x:n p:", {"x": "positive"}),
    ("sum(abs(x).^p)", "p", "x:n p:", {}),
    ("sum(var(A*x + B, 1))", "x", "A:m,n x:n B:m,k", {}),
    ("sum(normcdf(x))", "x", "x:n", {}),
]


def _hessian(expr, wrt, env, dims):
    tree = P.parse(expr)
    x0 = np.asarray(env[wrt], dtype=float)

    def f(x):
        local = dict(env)
        local[wrt] = x
        return P.evaluate(tree, local, dims)[0, 0]

    H = np.asarray(autograd.hessian(f)(x0), dtype=float)
    return H.reshape(x0.size, x0.size)


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("expr,wrt,sig,kinds", SMOOTH, ids=[f"{c[0]} wrt {c[1]}" for c in SMOOTH])
def test_hessian_equals_autograd(expr, wrt, sig, kinds, layout):
    d = matcalc.derive(expr, wrt=wrt, shapes=_shapes(sig), layout=layout, order=2)
    for seed in SEEDS:
        env, dims = P.draw(sig, kinds, seed)
        truth = _hessian(expr, wrt, env, dims)
        got = P.value(str(d), env, dims, truth.shape)
        assert P.relative_error(got.reshape(truth.shape), truth) < TOL, (str(d), seed)
        compiled = np.asarray(d.to_numpy()(**_flat(env)), dtype=float)
        assert P.relative_error(compiled.reshape(truth.shape), truth) < TOL


def test_hessian_vector_product_of_a_row_wise_log_softmax():
    expr, sig = "-sum(Y .* log_softmax_rows(X*W))", "Y:m,c X:m,d W:d,c V:d,c"
    d = matcalc.derive(expr, wrt="W", shapes=_shapes(sig.replace(" V:d,c", "")), order=2, direction="V")
    for seed in SEEDS:
        env, dims = P.draw(sig, {}, seed)
        tree = P.parse(expr)

        def g(W):
            local = dict(env)
            local["W"] = W
            return P.evaluate(tree, local, dims)[0, 0]

        truth = autograd.grad(lambda W: np.sum(autograd.grad(g)(W) * env["V"]))(env["W"])
        got = P.value(str(d), env, dims, truth.shape)
        assert P.relative_error(got, truth) < TOL


# ---------------------------------------------------------------- the differential method, forward rules, Kronecker

@pytest.mark.parametrize("expr,wrt", [("mean((X*w - y).^2)", "w"), ("sum(max(0, 1 - y .* (X*w)))", "w"),
                                      ("sum(x.^p)", "p"), ("std(X*w)", "w"), ("w'*sum(X, 2)", "X"),
                                      ("-y'*log_softmax(W*x)", "W")])
def test_differential_method_lines_read_off_the_same_gradient(expr, wrt):
    result = CliRunner().invoke(main, ["derive", expr, "--wrt", wrt, "--method", "differential"])
    assert result.exit_code == 0, result.output
    d = matcalc.derive(expr, wrt=wrt)
    lines = d.differentials
    assert lines and lines[0].text.startswith("df =")
    assert f"so ∂f/∂{wrt} = {d}" in result.output


MATRIX_VALUED = [
    ("max(X, 0)", "X"), ("min(X, A)", "X"), ("min(X, A)", "A"), ("sum(X, 2)", "X"), ("sum(X, 1)", "X"),
    ("mean(X, 1)", "X"), ("var(X, 2)", "X"), ("std(X, 1)", "X"), ("log_softmax_rows(X)", "X"),
    ("gelu(X)", "X"), ("softplus(X*W)", "W"), ("X.^p", "p"), ("abs(X).^p", "X"), ("ismax(X)", "X"),
    ("max(X, b')", "b"),
]


@pytest.mark.parametrize("expr,wrt", MATRIX_VALUED)
def test_forward_differential_along_a_direction(expr, wrt):
    check_differential(expr, wrt)


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("expr,wrt", MATRIX_VALUED)
def test_kronecker_jacobian_entry_by_entry(expr, wrt, layout):
    k = matcalc.kronecker(expr, wrt, layout=layout)
    for env, _ in kron_instances(k.typed):
        truth = measured_jacobian(k.typed, wrt, env)
        got = np.asarray(evaluate(k.node, k.typed.dims, env), dtype=float)
        want = truth if layout == "numerator" else truth.T
        assert relative(got.reshape(want.shape), want) < 1e-6, (expr, layout, k.text)


def test_kronecker_forms_print_as_the_books_write_them():
    shapes = {"X": "m,n"}
    assert matcalc.kronecker("sum(X, 2)", "X", shapes).text == "kron(ones(n)', I(m))"
    assert matcalc.kronecker("max(X, 0)", "X", shapes).text == "diag(vec(step(X)))"


# ---------------------------------------------------------------- printing and reading

def _round_trip(text: str):
    typed = elaborate(text)
    declared = {n: (s.shape if s.shape[1] != 1 else s.shape[:1]) if not s.is_scalar else ()
                for n, s in typed.names.items()}
    for printed in (to_text(typed.root), latex_to_ascii(to_latex(typed.root))):
        again = elaborate_many(printed, declared)[0].root
        assert again is typed.root, (text, printed)


@pytest.mark.parametrize("row", [r for r in functions().values() if r.latex], ids=lambda r: r.name)
def test_every_new_row_prints_and_reads_back_in_ascii_and_latex(row):
    arg = {"vector": "z", "matrix": "Z"}.get(row.arg, "X")
    if row.arity == 2:
        text = f"{row.printed}(X, Y)"
    elif row.axis:
        text = f"{row.printed}(X, {row.axis})"
    else:
        text = f"{row.printed}({arg})"
    _round_trip(text)


@pytest.mark.parametrize("text", ["x.^p", "abs(x).^(p - 1)", "alpha^p", "x + zeros(n)", "A + zeros(m, n)",
                                  "max(1 - y .* (X*w), 0)", "min(X, b')", "sum(X, 2) + mean(X, 2)",
                                  "max(X) + min(x)"])
def test_forms_print_and_read_back(text):
    _round_trip(text)


def test_a_zero_result_prints_with_its_shape_and_reads_back():
    col = matcalc.derive("sum(sign(x))", wrt="x", shapes={"x": "n"})
    assert str(col) == "zeros(n)" and col.latex == r"\mathbf{0}_{n}"
    assert str(matcalc.derive("sum(sign(x))", wrt="x", shapes={"x": "n"}, layout="numerator")) == "zeros(1, n)"
    mat = matcalc.derive("sum(sign(X))", wrt="X", shapes={"X": "m,n"})
    assert str(mat) == "zeros(m, n)"
    assert elaborate("zeros(m, n)").root.shape == ("m", "n")
    assert elaborate(latex_to_ascii(mat.latex)).root.shape == ("m", "n")
    assert matcalc.verify("sum(sign(X))", wrt="X", claim=str(mat), shapes={"X": "m,n"}).ok
    assert "np.zeros" in mat.numpy_source


@pytest.mark.parametrize("text,message", [
    ("sum(X, 3)", "the dimension argument of sum is 1"),
    ("sum(X, k)", "the dimension argument of sum is 1"),
    ("softmax(x, y)", "softmax takes one argument, got 2"),
    ("max(x, y, z)", "max takes one argument or two arguments, got 3"),
    ("sum(X, 1, 2)", "sum takes one argument, or a matrix and a dimension"),
    ("x.^(A*x)", "an exponent must be a scalar"),
    ("X^p", "a power of a scalar"),
    ("zeros(m, n, k)", "zeros takes one or two sizes"),
])
def test_wrong_calls_are_clear_errors(text, message):
    with pytest.raises(matcalc.MatcalcError, match=message.replace("(", r"\(")):
        matcalc.derive(text, wrt=sorted(elaborate_names(text))[0])


def elaborate_names(text):
    from matcalc.language.parse import parse

    out, todo = set(), [parse(text)]
    while todo:
        n = todo.pop()
        if n.kind == "name":
            out.add(n.value)
        todo.extend(n.args)
    return out or {"x"}


def test_cli_rules_lists_the_new_rows_with_their_sources():
    result = CliRunner().invoke(main, ["rules", "--table", "functions"])
    assert result.exit_code == 0
    for name in ("softplus", "log1p", "expm1", "erf", "gelu", "gelu_tanh", "silu", "cosh", "sinh", "mean",
                 "var", "std", "max", "min", "log_softmax", "log_softmax_rows", "normpdf", "normcdf"):
        assert f"  {name} " in result.output, name
    assert "Hendrycks & Gimpel" in result.output and "ddof 0" in result.output
    assert "d max(x, y): G .* (step(x - y)), G .* (1 - step(x - y))" in result.output
    ops = CliRunner().invoke(main, ["rules", "--table", "operators"])
    assert "vpow (exponent)" in ops.output and "Exponentiation" in ops.output


# ---------------------------------------------------------------- the checker: domains, kinks, ties

def test_a_symbolic_exponent_draws_its_base_positive_and_says_so():
    from matcalc.check.numeric import _domains
    from matcalc.engine.domain import positive_needs

    root = elaborate("sum(x.^p)").root
    assert _domains(root) == {"x": {"positive"}}
    assert positive_needs([root]) == {"x"}
    assert positive_needs([elaborate("sum(abs(x).^p)").root]) == set()    # |x| > 0 almost everywhere
    rows = {(r.op, r.slot): r for r in matcalc.tables.operators().values()}
    assert "X > 0" in rows[("vpow", "base")].rule and "log(X)" in rows[("vpow", "exponent")].rule


def test_the_kinks_of_max_and_min_are_searched_as_relus_are():
    from matcalc.engine.domain import kink_arguments, tie_arguments

    root = elaborate("sum(max(x, y)) + min(A*x)").root
    kinks = [to_text(k) for k in kink_arguments([root])]
    assert kinks == ["x - y"]
    assert [to_text(t) for t in tie_arguments([root])] == ["A*x"]
    # a claim missing the step of the hinge only differs where the hinge is off: found
    v = matcalc.verify("sum(max(0, 1 - y .* (X*w)))", wrt="w", claim="-X'*y")
    assert not v.ok and v.kind == "missing factor"
    # a claim whose kink is elsewhere than the expression's
    assert not matcalc.verify("sum(max(x, 1))", wrt="x", claim="step(x)").ok
    assert matcalc.verify("sum(max(x, 1))", wrt="x", claim="step(x - 1)").ok


def test_the_checker_draws_no_ties_for_a_maximum():
    from matcalc.check.instances import Sampler
    from matcalc.engine.assumptions import Assumptions

    typed = elaborate("max(x) + min(x)")
    sampler = Sampler([typed.root], typed.names, Assumptions())
    rng = np.random.default_rng(0)
    for _ in range(20):
        inst = sampler.draw(rng, {"p": 6})
        v = np.sort(inst.arrays["x"])
        assert v[-1] - v[-2] > 1e-3 * 0.999 and v[1] - v[0] > 1e-3 * 0.999
    # the derivation says what happens at a tie
    steps = matcalc.derive("max(x)", wrt="x").steps
    assert any("tie" in s.rule for s in steps)


def test_max_reduction_claims_are_judged():
    assert matcalc.verify("max(A*x)", wrt="x", claim="A'*ismax(A*x)").ok
    assert not matcalc.verify("max(A*x)", wrt="x", claim="A*ismax(A*x)", shapes={"A": "n,n"}).ok
    assert not matcalc.verify("max(x)", wrt="x", claim="ismin(x)").ok
    assert not matcalc.verify("max(x)", wrt="x", claim="ones(n)/n", shapes={"x": "n"}).ok


# ---------------------------------------------------------------- other array libraries

@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("expr,wrt,sig,kinds", [c for c in CASES if c[0] in (
    "mean((X*w - y).^2)", "sum(max(0, 1 - y .* (X*w)))", "max(x)", "sum(X, 1)*v", "var(X, 1)*v",
    "w'*std(X*W, 2)", "sum(erf(W*x))", "y'*gelu(W*x)", "sum(gelu_tanh(X*w))", "sum(silu(W*x + b))",
    "-sum(Y .* log_softmax_rows(X*W))", "sum(abs(x).^p)", "y'*log1p(x)", "sum(softplus(X*w))")],
    ids=lambda c: str(c))
def test_backends_agree_with_numpy(expr, wrt, sig, kinds, backend):
    d = matcalc.derive(expr, wrt=wrt, shapes=_shapes(sig))
    env, dims = P.draw(sig, kinds, 0)
    arrays = _flat(env)
    want = np.asarray(d.to_numpy()(**arrays), dtype=float)
    got = np.asarray(d.compile(backend)(**arrays), dtype=float)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (backend, d.source(backend))
    assert d.source(backend)          # the printed source is produced for every backend


def test_torch_source_says_what_numpy_means():
    var = matcalc.derive("var(X, 1)*v", wrt="X", shapes={"X": "m,n"}).source("torch")
    assert "torch.mean(X, dim=0)" in var
    std = matcalc.derive("sum(std(X, 2))", wrt="X", shapes={"X": "m,n"}).source("torch")
    assert "correction=0" in std
    clamp = matcalc.kronecker("max(X, 0)", "X").plan(materialize=True).source("jac", "")
    assert clamp
    numpy_erf = matcalc.derive("sum(gelu(x))", wrt="x").source("numpy")
    assert "from scipy.special import erf, erfc" in numpy_erf and "def normcdf" in numpy_erf
