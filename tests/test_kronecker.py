"""vec, kron and K(m, n) in the language, the vec/Kronecker Jacobian, its Jacobian-vector product, and
claims in Kronecker form. Every Jacobian is compared entry by entry with central differences of the
original expression along every column-major coordinate of the variable, on instances of distinct sizes;
the language's operators are checked against NumPy's own kron/reshape and HIPS autograd."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from click.testing import CliRunner

import matcalc
from matcalc.check import numeric
from matcalc.cli.app import main
from matcalc.compile.codegen import evaluate
from matcalc.errors import MatcalcError, ShapeError
from matcalc import kronecker
from matcalc.language.shapes import elaborate, elaborate_many
from oracle import max_error_against_truth

# The Matrix Cookbook's matrix-valued rows (§2.2, §2.8) and Magnus & Neudecker's, with their shapes.
COOKBOOK = [
    ("A*X*B", "X", {"A": "m,n", "X": "n,p", "B": "p,q"}, "kron(B', A)"),
    ("X'", "X", {"X": "m,n"}, "K(m, n)"),
    ("inv(X)", "X", {"X": "n,n"}, "-kron(inv(X)', inv(X))"),
    ("X'*X", "X", {"X": "m,n"}, None),
    ("X*A*X'", "X", {"X": "m,n", "A": "n,n"}, None),
    ("W*x", "W", {"W": "m,n", "x": "n"}, "kron(x', I(m))"),
    ("exp(X)", "X", {"X": "m,n"}, "diag(vec(exp(X)))"),
    ("det(X)*inv(X)", "X", {"X": "n,n"}, None),
    ("X^3", "X", {"X": "n,n"}, None),
    ("x'", "x", {"x": "n"}, "I"),
    ("softmax(z)", "z", {"z": "n"}, None),
    ("tr(A*X)", "X", {"A": "n,m", "X": "m,n"}, "vec(A')'"),
    ("X .* X", "X", {"X": "m,n"}, "2*diag(vec(X))"),
    ("diag(x)", "x", {"x": "n"}, None),
    ("kron(A, X)", "X", {"A": "m,n", "X": "p,q"}, None),
    ("vec(A*X)", "X", {"A": "m,n", "X": "n,p"}, "kron(I(p), A)"),
    ("sigmoid(X*w)", "X", {"X": "m,n", "w": "n"}, None),
]


def _column_major(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, order="F") if a.ndim == 2 else a.reshape(-1)


def measured_jacobian(typed, wrt: str, env: dict, h: float = 1e-6) -> np.ndarray:
    """∂vec(F)/∂vec(X)' by central differences of the original expression (numerator layout)."""
    x0 = np.asarray(env[wrt], dtype=float)
    flat = _column_major(x0)
    cols = []
    for k in range(flat.size):
        e = np.zeros(flat.size)
        e[k] = h
        values = []
        for step in (e, -e):
            local = dict(env)
            moved = flat + step
            local[wrt] = moved.reshape(x0.shape, order="F") if x0.ndim == 2 else moved if x0.ndim else moved[0]
            values.append(_column_major(evaluate(typed.root, typed.dims, local)))
        cols.append((values[0] - values[1]) / (2 * h))
    return np.array(cols).T


def instances(typed, count: int = 3, seed: int = 1):
    rng = np.random.default_rng(seed)
    for k in range(count):
        sizes = numeric.dimension_sizes([typed.root, *typed.names.values()], start=k)
        inst = numeric.sample(typed.root, typed.names, None, rng, sizes=sizes, dim_scalars=typed.dims)
        yield {**inst.dims, **inst.env}, rng


def relative(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("text,wrt,shapes,printed", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_kronecker_jacobian_entry_by_entry(text, wrt, shapes, printed, layout):
    k = kronecker(text, wrt, shapes, layout=layout)
    if printed is not None and layout == "numerator":
        assert k.text == printed
    for env, _ in instances(k.typed):
        truth = measured_jacobian(k.typed, wrt, env)
        got = np.asarray(evaluate(k.node, k.typed.dims, env), dtype=float)
        want = truth if layout == "numerator" else truth.T
        assert relative(got.reshape(want.shape), want) < 1e-6, (text, layout)


@pytest.mark.parametrize("text,wrt,shapes,printed", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_the_jacobian_vector_product_forms_no_kronecker_product(text, wrt, shapes, printed):
    k = kronecker(text, wrt, shapes, layout="numerator")
    jvp = k.jvp("V")
    if "kron" not in text:
        assert not any(n.op in ("kron", "comm") for n in matcalc.language.expr.walk(jvp)), k.jvp_text()
    run = k.to_numpy()
    for env, rng in instances(k.typed):
        V = rng.standard_normal(np.shape(env[wrt])) if np.ndim(env[wrt]) else float(rng.standard_normal())
        truth = measured_jacobian(k.typed, wrt, env) @ _column_major(V)
        inputs = {n: env[n] for n in k.typed.names if n not in k.typed.dims}
        got = run(**inputs, **{d: env[d] for d in k.typed.dims if d in env}, V=V)
        assert relative(_column_major(got), truth) < 1e-6


def test_the_printed_jvp_is_the_textbook_product():
    assert kronecker("A*X*B", "X").jvp_text() == "A*V*B"
    assert kronecker("inv(X)", "X").jvp_text() == "-inv(X)*V*inv(X)"
    assert kronecker("X'*X", "X").jvp_text() == "V'*X + X'*V"
    source = kronecker("A*X*B", "X", {"A": "m,n", "X": "n,p", "B": "p,q"}).source()
    assert "kron" not in source and "@" in source
    assert "np.kron" in kronecker("A*X*B", "X").source(materialize=True)


def test_materialized_jacobian_is_np_kron():
    k = kronecker("A*X*B", "X", {"A": "m,n", "X": "n,p", "B": "p,q"}, layout="numerator")
    rng = np.random.default_rng(3)
    A, X, B = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    J = k.to_numpy(materialize=True)(A=A, X=X, B=B)
    assert np.allclose(J, np.kron(B.T, A))


@pytest.mark.parametrize("text,wrt,shapes,printed", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_the_printed_jacobian_parses_back_and_is_judged_correct(text, wrt, shapes, printed):
    for layout in ("numerator", "denominator"):
        k = kronecker(text, wrt, shapes, layout=layout)
        v = matcalc.verify(text, wrt, k.text, shapes=shapes, layout=layout)
        assert v.ok, (text, layout, v.diagnosis)


# \otimes and \operatorname{vec} read back, and so do the sized identity I_{m}, I_{m n} and the commutation
# matrix K_{m,n} (a subscript on I or K is its size to the LaTeX reader): every row, both layouts.
@pytest.mark.parametrize("text,wrt,shapes,printed", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_the_latex_jacobian_reads_back_in(text, wrt, shapes, printed):
    for layout in ("numerator", "denominator"):
        k = kronecker(text, wrt, shapes, layout=layout)
        v = matcalc.verify(text, wrt, k.latex, shapes=shapes, layout=layout)
        assert v.ok, (k.latex, v.claim, v.diagnosis)


def test_a_latex_identity_of_the_wrong_size_is_not_correct():
    v = matcalc.verify("W*x", "W", r"x^\top \otimes I_{n}", shapes={"W": "m,n", "x": "n"}, layout="numerator")
    assert not v.ok
    v = matcalc.verify("W*x", "W", r"x^\top \otimes I_{m}", shapes={"W": "m,n", "x": "n"}, layout="numerator")
    assert v.ok, v.diagnosis


WRONG_CLAIMS = [
    ("A*X*B", "kron(A, B')", "transpose"),          # the row-major vec: the factors the other way round
    ("A*X*B", "-kron(B', A)", "sign"),
    ("A*X*B", "3*kron(B', A)", "factor"),
    ("A*X*B", "kron(B, A')", "transpose"),          # the denominator layout's shape
    ("A*X*B", "kron(B', A')", "shape"),
    ("inv(X)", "-kron(inv(X), inv(X))", None),
    ("inv(X)", "kron(inv(X)', inv(X))", "sign"),
    ("X'*X", "kron(X', I(n)) + kron(I(n), X')", None),
    ("X'", "I(m*n)", "missing factor"),
    ("X*A", "kron(A, I(m))*K(m, n)", None),
    ("W*x", "kron(x, I(m))", "transpose"),
    ("W*x", "kron(I(m), x')", "transpose"),
    ("exp(X)", "diag(vec(X))", None),
    ("relu(X + 3)", "I(m*n)", None),           # right wherever X > -3, which the usual spread rarely leaves
    ("abs(X - 2)", "-I(m*n)", None),           # right only where X < 2
]
SHAPES = {"A*X*B": {"A": "m,n", "X": "n,p", "B": "p,q"}, "inv(X)": {"X": "n,n"}, "X'*X": {"X": "m,n"},
          "X'": {"X": "m,n"}, "X*A": {"X": "m,n", "A": "n,n"}, "W*x": {"W": "m,n", "x": "n"},
          "exp(X)": {"X": "m,n"}, "relu(X + 3)": {"X": "m,n"}, "abs(X - 2)": {"X": "m,n"}}


@pytest.mark.parametrize("text,claim,kind", WRONG_CLAIMS, ids=[f"{t} {c}" for t, c, _ in WRONG_CLAIMS])
def test_wrong_kronecker_claims_are_rejected_and_named(text, claim, kind):
    wrt = "W" if "W" in text else "X"
    v = matcalc.verify(text, wrt, claim, shapes=SHAPES[text], layout="numerator")
    assert not v.ok, claim
    assert v.kind == kind, (claim, v.kind, v.diagnosis)


def test_a_matrix_claim_for_a_tensor_derivative_is_read_as_the_vec_jacobian():
    v = matcalc.verify("W*x", "W", "x'", shapes={"W": "m,n", "x": "n"})
    assert not v.ok and v.kind == "shape" and "kron(x, I(m))" in v.diagnosis
    assert matcalc.verify("W*x", "W", "kron(x, I(m))", shapes={"W": "m,n", "x": "n"}).ok


def test_the_language_operators_match_numpy():
    typed, (claim,) = elaborate_many("A", {"A": "m,n", "B": "p,q", "X": "m,n", "g": "m*n"},
                                     ("kron(A, B) + 0*kron(A, B)",))
    rng = np.random.default_rng(0)
    A, B, X = rng.standard_normal((2, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 3))
    env = {"A": A, "B": B, "X": X, "m": 2, "n": 3, "p": 4, "q": 5}
    assert np.allclose(evaluate(claim, (), env), np.kron(A, B))
    for text, want in [("vec(X)", X.reshape(-1, order="F")), ("K(m, n)*vec(X)", X.T.reshape(-1, order="F")),
                       ("unvec(vec(X) + 0*vec(X), m, n)", X), ("kron(B', A)*vec(ones(n)*ones(p)')",
                                                               (A @ np.ones((3, 4)) @ B).reshape(-1, order="F"))]:
        typed, (node,) = elaborate_many("A + X", {"A": "m,n", "B": "p,q", "X": "m,n"}, (text,))
        assert np.allclose(evaluate(node, (), env), want), text


def test_derivatives_through_vec_kron_and_K_against_autograd():
    rng = np.random.default_rng(4)
    A, X, V = rng.standard_normal((2, 3)), rng.standard_normal((4, 5)), rng.standard_normal((8, 15))
    d = matcalc.derive("sum(V .* kron(A, X))", wrt="X", shapes={"A": "m,n", "X": "p,q", "V": "m*p,n*q"})
    got = d.to_numpy()(A=A, X=X, V=V)
    want = grad(lambda X: anp.sum(V * anp.kron(A, X)))(X)
    assert np.allclose(got, want)
    d = matcalc.derive("sum(V .* kron(X, A))", wrt="X", shapes={"A": "m,n", "X": "p,q", "V": "m*p,n*q"})
    assert np.allclose(d.to_numpy()(A=A, X=X, V=V), grad(lambda X: anp.sum(V * anp.kron(X, A)))(X))
    u = rng.standard_normal(20)
    d = matcalc.derive("u'*K(p, q)*vec(X)", wrt="X", shapes={"X": "p,q"})
    want = grad(lambda X: anp.dot(u, anp.reshape(X, -1)))(X)     # K vec(X) = vec(X') = X row-major
    assert np.allclose(d.to_numpy()(u=u, X=X), want)
    d = matcalc.derive("norm2(kron(B', A)*vec(X))^2", wrt="X", shapes={"A": "m,n", "X": "n,p", "B": "p,q"})
    B, Xs = rng.standard_normal((4, 5)), rng.standard_normal((3, 4))
    want = grad(lambda X: anp.sum((A @ X @ B) ** 2))(Xs)
    assert np.allclose(d.to_numpy()(A=A, X=Xs, B=B), want)


def test_sizes_are_products_and_mismatches_are_named():
    typed = elaborate("kron(B', A)*vec(X) - vec(A*X*B)")
    assert typed.root.shape[1] == 1 and "*" in str(typed.root.shape[0])
    assert elaborate("sum(vec(X) .* y)").names["y"].shape[0] == "p*q"
    with pytest.raises(ShapeError, match="declare the shapes"):
        elaborate("K(m, n)*vec(X)")
    with pytest.raises(ShapeError, match="kron takes 2 arguments"):
        elaborate("kron(A)")
    with pytest.raises(ShapeError, match="exp takes one argument"):
        elaborate("exp(X, Y)")
    with pytest.raises(ShapeError, match="sizes"):
        elaborate("K(x + 1, n)")
    with pytest.raises(MatcalcError):
        kronecker("A*X*B", "Y")


def test_latex_output():
    k = kronecker("A*X*B", "X", layout="numerator")
    assert k.latex == r"B^\top \otimes A"
    assert kronecker("X'", "X", {"X": "m,n"}, layout="numerator").latex == "K_{m,n}"
    assert r"\otimes I_{m}" in kronecker("W*x", "W", {"W": "m,n", "x": "n"}, layout="numerator").latex


def test_cli_format_kron():
    out = CliRunner().invoke(main, ["derive", "A*X*B", "--wrt", "X", "--format", "kron", "--layout", "numerator"])
    assert out.exit_code == 0
    assert "∂vec(F)/∂vec(X)' = kron(B', A)" in out.output and "A*V*B" in out.output
    out = CliRunner().invoke(main, ["check", "A*X*B", "--wrt", "X", "--claim", "kron(A, B')", "--layout", "numerator"])
    assert out.exit_code != 0 or "WRONG" in out.output
    assert "stacks rows" in out.output
    out = CliRunner().invoke(main, ["derive", "kron(A)", "--wrt", "A"])
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_a_kronecker_tower_is_refused_before_it_is_allocated():
    nested = "sum(kron(X, kron(X, kron(X, kron(X, kron(X, kron(X, kron(X, X))))))))"
    out = CliRunner().invoke(main, ["check", nested, "--wrt", "X", "--claim", "X"])
    assert out.exit_code == 2 and "memory budget" in out.output and "Traceback" not in out.output
    # a literal size the checker cannot shrink: the random u would take 7 GB, and is refused before drawing
    out = CliRunner().invoke(main, ["check", "u'*K(30000, 30000)*u", "--wrt", "u", "--claim", "2*u"])
    assert out.exit_code == 2 and "memory budget" in out.output and "Traceback" not in out.output


def test_derived_code_applies_the_commutation_matrix_as_a_transpose():
    d = matcalc.derive("u'*K(3, 4)*u", wrt="u")
    assert "eye" not in d.source() and "kron" not in d.source()
    u = np.random.default_rng(5).standard_normal(12)
    K = np.eye(12)[(np.arange(3)[:, None] + 3 * np.arange(4)[None, :]).reshape(-1)]
    assert np.allclose(d.to_numpy()(u=u), (K + K.T) @ u)
    A = np.arange(12.0).reshape((3, 4), order="F")
    assert np.allclose(K @ A.reshape(-1, order="F"), A.T.reshape(-1, order="F"))      # K(3,4) vec(A) = vec(A')


def _mutants(text: str) -> list[str]:
    """Edits of a right Kronecker Jacobian a person could make by mistake."""
    import re

    out = []
    m = re.search(r"kron\(([^(),]+(?:\([^()]*\))?'?), ([^(),]+(?:\([^()]*\))?'?)\)", text)
    if m:
        a, b = m.group(1), m.group(2)
        out.append(text[:m.start()] + f"kron({b}, {a})" + text[m.end():])                 # operands swapped
        flip = a[:-1] if a.endswith("'") else a + "'"
        out.append(text[:m.start()] + f"kron({flip}, {b})" + text[m.end():])              # a transpose lost
    out += [re.sub(r"\*K\([^()]*\)", "", text, count=1), text.replace(" + ", " - ", 1),
            f"1.001*({text})", f"-({text})", re.sub(r"K\((\w+), (\w+)\)", r"K(\2, \1)", text, count=1)]
    return [t for t in dict.fromkeys(out) if t != text]


@pytest.mark.parametrize("text,wrt,shapes,printed", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_mutants_of_right_jacobians_are_judged_by_the_numbers(text, wrt, shapes, printed):
    """Each mutant is rejected exactly when it differs from the measured Jacobian (judged here without
    matcalc's verdict: evaluated against central differences of the expression)."""
    k = kronecker(text, wrt, shapes, layout="numerator")
    declared = {n: (node.shape if node.shape[1] != 1 else node.shape[:1]) if not node.is_scalar else ()
                for n, node in k.typed.names.items()}
    for mutant in _mutants(k.text):
        try:
            _, (node,) = elaborate_many(text, declared, (mutant,), targets=[k.shape])
        except MatcalcError:
            continue                                     # does not type: not a claim of the right shape
        differs = False
        for env, _ in instances(k.typed):
            truth = measured_jacobian(k.typed, wrt, env)
            got = np.asarray(evaluate(node, k.typed.dims, env), dtype=float)
            if got.size != truth.size or relative(got.reshape(truth.shape), truth) > 1e-6:
                differs = True
        v = matcalc.verify(text, wrt, mutant, shapes=shapes, layout="numerator")
        assert v.ok == (not differs), (mutant, v.diagnosis)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_kron_vec_and_K_compile_for_other_array_libraries(backend):
    rng = np.random.default_rng(6)
    A, X, V = rng.standard_normal((2, 3)), rng.standard_normal((4, 5)), rng.standard_normal((8, 15))
    d = matcalc.derive("sum(V .* kron(A, X)) + sum(vec(X))*0.5", wrt="X",
                       shapes={"A": "m,n", "X": "p,q", "V": "m*p,n*q"})
    want = d.to_numpy()(A=A, X=X, V=V)
    if backend == "torch":
        import torch

        got = d.compile("torch")(A=torch.tensor(A), X=torch.tensor(X), V=torch.tensor(V)).numpy()
    else:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        got = np.asarray(d.compile("jax")(A=jnp.asarray(A), X=jnp.asarray(X), V=jnp.asarray(V)))
    assert np.allclose(got, want)


def test_a_derivative_through_kron_has_no_index_form_and_says_so():
    out = CliRunner().invoke(main, ["derive", "kron(A, X)", "--wrt", "X", "--format", "index"])
    assert out.exit_code == 2 and "--format kron" in out.output and "G" not in out.output.split("error:")[0]
    out = CliRunner().invoke(main, ["derive", "kron(A, X)", "--wrt", "X", "--method", "differential"])
    assert out.exit_code == 0 and "df = kron(A, dX)" in out.output and "vec/Kronecker form" in out.output


def test_gradients_through_kronecker_products_of_constants_print_as_matrix_algebra():
    cases = [("norm2(kron(B', A)*vec(X) - vec(C))^2", {"A": "m,n", "X": "n,p", "B": "p,q", "C": "m,q"},
              "2*A'*(A*X*B - C)*B'"),
             ("norm2(K(m, n)*vec(X) - vec(Y))^2", {"X": "m,n", "Y": "n,m"}, "2*(X - Y')"),
             ("y'*kron(B', A)*vec(X)", {"A": "m,n", "X": "n,p", "B": "p,q"}, "A'*unvec(y, m, q)*B'")]
    for text, shapes, printed in cases:
        d = matcalc.derive(text, wrt="X", shapes=shapes)
        assert d.text == printed
        assert max_error_against_truth(d) < 1e-6


@pytest.mark.parametrize("claim,layout,ok,kind", [
    ("kron(x', I)", "numerator", True, None),            # the identity's size is the one the Jacobian asks for
    (r"x^\top \otimes I", "numerator", True, None),
    ("kron(x, I)", "denominator", True, None),
    ("kron(x, I)", "numerator", False, "transpose"),     # the other layout's form, said so
    ("kron(I, x')", "numerator", False, "transpose"),    # the row-major vec
    ("-kron(x', I)", "numerator", False, "sign"),
    ("I", "numerator", False, None),
])
def test_an_unsized_identity_in_a_kronecker_claim_takes_the_jacobians_size(claim, layout, ok, kind):
    v = matcalc.verify("W*x", "W", claim, shapes={"W": "m,n", "x": "n"}, layout=layout)
    assert v.ok == ok, (claim, v.diagnosis)
    if kind is not None:
        assert v.kind == kind, (claim, v.kind, v.diagnosis)
