"""SymPy both ways (issue 26): every case of SymPy's own test_derivatives.py, built with SymPy objects
(tests/sympy_cases.py), read by matcalc.from_sympy, derived in both layouts, and judged outside the
engine: central finite differences of the SymPy expression itself (evaluated by tests/sympy_eval.py,
which shares no code with matcalc), at sizes k = 2, 3, 4 (every symbol of those cases is k×k or k×1, so
an instance's sizes are its k). Where SymPy's `.diff` answers, its answer is evaluated too and must
agree with the truth in one of the layouts and with matcalc in that layout. The result comes back as
SymPy (`Derivation.to_sympy`), whose value is the derivative, and `from_sympy(d.to_sympy())` reads back
to a claim the checker accepts and that evaluates to the derivative.

A matrix-valued expression (A wrt A, a matrix by a scalar, a row vector by a matrix) has no matrix-form
derivative: `matcalc.derive` says so and names --format kron, and the vec/Kronecker Jacobian
(`matcalc.kronecker`, from the same SymPy object) is compared entry by entry with the truth.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import sympy_eval as SE
from plain_eval import value as plain_value
from sympy.matrices.expressions import HadamardProduct, MatrixSymbol
from sympy_cases import CASES, ELEMENT_CASES

import matcalc
from matcalc import UnsupportedError
from matcalc.language.sympy_bridge import from_sympy, to_sympy

SIZES = ((2, 11), (3, 12), (4, 13))          # (k, seed) of each instance
TOL = 1e-6

# cases with a symbolic exponent: matcalc's exponents are numbers, and from_sympy says so
REFUSED = {"HadamardPower(x, i)": "exponent i", "Trace(X**k)": "exponent k", "Trace(A*X**k)": "exponent k"}


def _kind(expr, wrt) -> str:
    if str(expr) in REFUSED:
        return "refused"
    f = tuple(expr.shape) if getattr(expr, "is_Matrix", False) else (1, 1)
    x = tuple(wrt.shape) if isinstance(wrt, MatrixSymbol) else (1, 1)
    vector_f = f == (1, 1) or 1 in f
    if f == (1, 1) or (vector_f and 1 in x):
        return "derive"
    return "kron"


def _ids(cases):
    return [f"{c[0]}-{i}-{str(c[1])[:40]}" for i, c in enumerate(cases)]


def _tensor(expr, wrt, env, dims):
    """T[p, q, r, s] = ∂F_pq/∂X_rs by central differences of the SymPy expression (F, X as 2-D)."""
    fd = SE.finite_difference(expr, wrt, env, dims)
    f = SE.value(expr, env, dims)
    fr, fc = (f.shape if f.ndim == 2 else (1, 1))
    x = np.asarray(env[wrt.name])
    xr, xc = (x.shape if x.ndim == 2 else (1, 1))
    return fd.reshape(fr, fc, xr, xc)


def _truth(T, layout):
    """The derivative in a layout: X's shape for a scalar (denominator); the Jacobian ∂f_i/∂x_j of a
    vector (numerator), its transpose in denominator layout."""
    fr, fc, xr, xc = T.shape
    if (fr, fc) == (1, 1):
        den = T[0, 0]
    else:
        den = T.reshape(fr * fc, xr * xc).T
    return den if layout == "denominator" else den.T


def _kron_truth(T, layout):
    fr, fc, xr, xc = T.shape
    num = T.transpose(1, 0, 3, 2).reshape(fc * fr, xc * xr)        # vec stacks columns
    return num if layout == "numerator" else num.T


def _sized(text: str) -> str:
    """Every size in SymPy's cases is k: a bare I (whose size plain_eval infers only where it can) is I(k)."""
    return re.sub(r"\bI\b(?!\()", "I(k)", text)


def _plain_env(env, dims):
    return {n: (np.array([[v]]) if np.ndim(v) == 0 else np.asarray(v)) for n, v in env.items()}


def _as2d(v, shape):
    v = np.asarray(v, dtype=float)
    return v.reshape(shape) if v.size == int(np.prod(shape)) else v


def _close(got, want) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.size != want.size:
        return False
    got = got.reshape(want.shape)
    return bool(np.linalg.norm(got - want) <= TOL * max(1.0, np.linalg.norm(want)))


def _sympy_answer(expr, wrt):
    """SymPy's own .diff, or None where it does not answer (an error, or an unevaluated derivative)."""
    try:
        ans = expr.diff(wrt)
    except Exception:                      # noqa: BLE001  (SymPy raises TypeError/NotImplementedError)
        return None
    if ans.has(sp.Derivative) or type(ans).__name__ == "ArrayDerivative":
        return None
    return ans


def _sympy_value(ans, env, dims):
    try:
        return SE.value(ans, env, dims), "matrix"
    except (SE.Unsupported, TypeError, AttributeError, KeyError):
        return SE.array_value(ans, env, dims), "array"


# ---------------------------------------------------------------- the cases with a matrix-form derivative

DERIVE = [c for c in CASES if _kind(c[1], c[2]) == "derive"]
KRON = [c for c in CASES if _kind(c[1], c[2]) == "kron"]
SYMPY_DISAGREES = []      # filled by the runs below: SymPy answers that match the truth in no layout


@pytest.mark.parametrize("case", DERIVE, ids=_ids(DERIVE))
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_sympy_case_derived_in_both_layouts(case, layout):
    _, expr, wrt = case
    d = matcalc.derive(expr, wrt, layout=layout)
    back = from_sympy(d.to_sympy(), also=(wrt,))
    source = from_sympy(expr, also=(wrt,))
    for k, seed in SIZES:
        env, dims = SE.instance(expr, k, seed, (wrt,))
        truth = _truth(_tensor(expr, wrt, env, dims), layout)
        printed = plain_value(_sized(str(d)), _plain_env(env, dims), dims, truth.shape)
        assert _close(printed, truth), (str(d), k)
        as_sympy = SE.value(d.to_sympy(), env, dims)
        assert _close(as_sympy, truth), (d.to_sympy(), k)
        assert _close(plain_value(_sized(back.text), _plain_env(env, dims), dims, truth.shape), truth), (back.text, k)
    # the round trip read back is a claim the checker accepts (its own random instances, autograd + FD);
    # not for tr(inv(X)*inv(C)*B*X), constant (= tr(inv(C)*B)) so its derivative is 0 everywhere: the
    # checker finds no instance to judge it on (a gap of check/, noted in issue 26's report)
    if str(expr) == "Trace(X**(-1)*C**(-1)*B*X)":
        return
    v = matcalc.verify(source.text, wrt.name, back.text, shapes=source.shapes, layout=layout)
    assert v.ok, (back.text, v.diagnosis if hasattr(v, "diagnosis") else v)


@pytest.mark.parametrize("case", DERIVE + KRON, ids=_ids(DERIVE + KRON))
def test_sympy_own_answer_agrees_where_it_answers(case):
    """SymPy's .diff against the truth and against matcalc: where SymPy answers, its answer is the truth
    in one layout and matcalc's answer in that layout is the same numbers."""
    _, expr, wrt = case
    ans = _sympy_answer(expr, wrt)
    if ans is None:
        with pytest.raises(Exception):          # noqa: B017  (SymPy's refusal, whatever its type)
            result = expr.diff(wrt)
            assert not (result.has(sp.Derivative) or type(result).__name__ == "ArrayDerivative")
        return
    matrix_form = _kind(expr, wrt) == "derive"
    for k, seed in SIZES[:2]:
        env, dims = SE.instance(expr, k, seed, (wrt,))
        T = _tensor(expr, wrt, env, dims)
        got, kind = _sympy_value(ans, env, dims)
        if kind == "array":                      # SymPy's array: the variable's axes, then the function's
            want = T.transpose(2, 3, 0, 1)
            assert _close(np.squeeze(got), np.squeeze(want)), (str(ans), k)
            continue
        if matrix_form:
            layouts = [lay for lay in ("denominator", "numerator") if _close(got, _truth(T, lay))]
            assert layouts, ("SymPy's answer matches the truth in no layout", str(ans), k)
            mine = matcalc.derive(expr, wrt, layout=layouts[0])
            assert _close(SE.value(mine.to_sympy(), env, dims), got)
        else:                                    # a matrix by a scalar: SymPy writes dF/dt in F's shape
            assert _close(got, T[:, :, 0, 0]), (str(ans), k)
            J = _kron_values(expr, wrt, env, dims, "numerator")
            assert _close(J.reshape(T.shape[1], T.shape[0]).T, got)


# ---------------------------------------------------------------- matrix-valued: the vec/Kronecker Jacobian


def _kron_values(expr, wrt, env, dims, layout):
    """The materialised Jacobian of matcalc.kronecker, through its compiled callable (vectors 1-D)."""
    kj = matcalc.kronecker(expr, wrt, layout=layout)
    arrays = {n: (v if np.ndim(v) == 0 else (v[:, 0] if v.shape[1] == 1 else v)) for n, v in env.items()}
    arrays.update(dims)
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", kj.source(materialize=True)))
    return np.asarray(kj.to_numpy(materialize=True)(**{n: v for n, v in arrays.items() if n in names}), dtype=float)


@pytest.mark.parametrize("case", KRON, ids=_ids(KRON))
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_sympy_matrix_valued_case_as_kronecker_jacobian(case, layout):
    _, expr, wrt = case
    scalar_variable = tuple(getattr(wrt, "shape", (1, 1))) == (1, 1)
    if scalar_variable:     # a matrix by a scalar has a matrix form: dF/dt in F's shape (numerator layout)
        direct = matcalc.derive(expr, wrt, layout=layout)
    else:
        with pytest.raises(UnsupportedError, match="kron"):
            matcalc.derive(expr, wrt, layout=layout)
    for k, seed in SIZES:
        env, dims = SE.instance(expr, k, seed, (wrt,))
        T = _tensor(expr, wrt, env, dims)
        truth = _kron_truth(T, layout)
        got = _kron_values(expr, wrt, env, dims, layout)
        assert _close(got, truth), (str(expr), k)
        if scalar_variable:
            want = T[:, :, 0, 0] if layout == "numerator" else T[:, :, 0, 0].T
            assert _close(SE.value(direct.to_sympy(), env, dims), want), (str(direct), k)


# ---------------------------------------------------------------- refused, and index-level cases


@pytest.mark.parametrize("case", [c for c in CASES if _kind(c[1], c[2]) == "refused"],
                         ids=lambda c: str(c[1]))
def test_symbolic_exponents_are_refused_with_the_reason(case):
    _, expr, wrt = case
    with pytest.raises(UnsupportedError, match=REFUSED[str(expr)]):
        matcalc.derive(expr, wrt)


def test_symbolic_elementwise_power_written_as_exp_log_matches_sympy():
    """x.^i, refused as such, is exp(i*log(x)) where x > 0: derived so, it equals SymPy's answer for
    hadamard_power(x, i).diff(i) (log(x) .* x.^i) and the finite differences."""
    from sympy_cases import i, x

    original = sp.matrices.expressions.hadamard_power(x, i)
    rewritten = (i * x.applyfunc(sp.log)).applyfunc(sp.exp)
    ans = original.diff(i)
    assert isinstance(ans, HadamardProduct)
    for layout in ("numerator", "denominator"):
        d = matcalc.derive(rewritten, i, layout=layout)
        for k, seed in SIZES:
            env, dims = SE.instance(original, k, seed, (i,))
            truth = _truth(_tensor(original, i, env, dims), layout)
            assert _close(SE.value(d.to_sympy(), env, dims), truth)
            sympy_num = SE.value(ans, env, dims)
            assert _close(sympy_num, truth if layout == "numerator" else truth.T)


@pytest.mark.parametrize("case", ELEMENT_CASES, ids=lambda c: f"{c[0]}-{str(c[1])[:30]}")
def test_sympy_entrywise_cases_agree_with_the_entries_of_the_derivative(case):
    """SymPy's `expr[e].diff(X[v])` (or the trace rewritten as a Sum) at whole-number indices equals the
    entry of matcalc's derivative; the entry itself, an index expression, is refused by from_sympy."""
    _, expr, wrt, entry, var = case
    element = expr.rewrite(sp.Sum) if entry is None else expr[entry]
    target = wrt if var is None else wrt[var]
    with pytest.raises(UnsupportedError, match="index expression"):
        from_sympy(element)
    answer = element.diff(target).doit()
    free = [s for s in (*(entry or ()), *(var or ())) if isinstance(s, sp.Symbol)]
    for k, seed in SIZES[:2]:
        env, dims = SE.instance(expr, k, seed, (wrt,))
        T = _tensor(expr, wrt, env, dims)
        for values in np.ndindex(*([k] * len(free))):
            idx = dict(zip(free, values))
            if entry is not None and wrt in free and False:
                continue
            local = {**env}
            got = SE.evaluate(answer, local, dims, indices=idx)
            p, q = (int(SE.evaluate(e, env, dims, indices=idx)) for e in (entry or (0, 0)))
            r, s = (int(SE.evaluate(e, env, dims, indices=idx)) for e in (var or (0, 0)))
            if isinstance(wrt, sp.Symbol) and wrt in free:      # (i**2*x).applyfunc(sin)[i, 0] by i: i is both
                continue
            assert abs(float(got) - T[p, q, r, s]) <= 1e-6 * max(1.0, abs(T[p, q, r, s])), (str(answer), idx)
    # and matcalc's own matrix-form derivative has those entries
    if _kind(expr, wrt) == "derive":
        d = matcalc.derive(expr, wrt, layout="numerator")
        env, dims = SE.instance(expr, 3, 5, (wrt,))
        assert _close(SE.value(d.to_sympy(), env, dims), _truth(_tensor(expr, wrt, env, dims), "numerator"))


# ---------------------------------------------------------------- the bridge itself


def test_from_sympy_reads_shapes_numeric_and_symbolic():
    k, m = sp.symbols("k m")
    W = MatrixSymbol("W", 3, 4)
    x = MatrixSymbol("x", 4, 1)
    r = from_sympy(W * x)
    assert r.text == "W*x" and r.shapes == {"W": (3, 4), "x": (4,)}
    A = MatrixSymbol("A", k, m)
    v = MatrixSymbol("v", 1, k)
    s = MatrixSymbol("s", 1, 1)
    r = from_sympy(v * A * A.T * v.T * s)
    assert r.shapes == {"v": (1, "k"), "A": ("k", "m"), "s": ()}
    assert r.typed.root.shape == (1, 1)
    lam = sp.Symbol("lam")
    r = from_sympy(lam * sp.Trace(A.T * A) + k)
    assert r.shapes["lam"] == () and "k" not in r.shapes         # k is the dimension, used as a number
    d = matcalc.derive(lam * sp.Trace(A.T * A) + k, A)
    assert str(d) == "2*lam*A"


def test_derive_takes_sympy_where_it_takes_text_and_wrt_by_name():
    k = sp.Symbol("k")
    X, a, b = MatrixSymbol("X", k, k), MatrixSymbol("a", k, 1), MatrixSymbol("b", k, 1)
    assert str(matcalc.derive(a.T * X * b, "X")) == str(matcalc.derive(a.T * X * b, X)) == "a*b'"
    assert str(matcalc.derive(a.T * X * b, X, layout="numerator")) == "b*a'"
    with pytest.raises(matcalc.ShapeError):
        matcalc.derive(a.T * X * b, X, shapes={"X": ("k", "m")})
    assert matcalc.derive(a.T * X * b, X).to_sympy() == a * b.T
    assert matcalc.derive(a.T * X * b, X, layout="numerator").to_sympy("denominator") == a * b.T
    assert str(matcalc.kronecker(X * a, X).text) == "kron(a', I(k))"
    assert "dX" in matcalc.api.differential(X.inv(), X).text


def test_sympy_results_are_sympy_objects_with_the_symbols_handed_in():
    k = sp.Symbol("k", integer=True, positive=True)
    X = MatrixSymbol("X", k, k)
    d = matcalc.derive(sp.log(sp.Determinant(X)), X)
    out = d.to_sympy()
    assert out == X.T.inv() or out == X.inv().T
    assert out.free_symbols >= {X} and X.shape[0] is k
    t = matcalc.derive("-y'*log(softmax(W*x + b))", wrt="W", assume=["sum(y) = 1"])
    ts = t.to_sympy()
    assert isinstance(ts, sp.MatrixExpr) and {s.name for s in ts.free_symbols if isinstance(s, MatrixSymbol)} == \
        {"W", "x", "b", "y"}


WRITER_CASES = ["softmax(W*x + b)", "logsumexp(z)", "sigmoid(X)", "relu(x) .* step(x)", "norm2(x)", "norm2(X)",
                "norm1(X)", "softmax_rows(X*W)", "logsumexp_rows(Z)", "X*W + b'", "diag(A)", "diag(x)", "1 - s",
                "tanh(x)./(1 + exp(x))", "sqrt(abs(x)) .* sign(x)", "arctan(x) + arcsin(x/4) + arccos(x/4)",
                "logdet(A*A')", "det(A)*inv(A)", "x'*A*x*B", "(x'*y)*A*x", "sum(X)", "tr(A)^3",
                "alpha*x.^3 - x/alpha", "exp(x'*y)*x"]


@pytest.mark.parametrize("text", WRITER_CASES)
def test_to_sympy_writes_every_operation_with_its_value(text):
    """Each matcalc operation written as SymPy has the same value (tests/sympy_eval vs tests/plain_eval,
    two evaluators that share nothing), and reads back to the same value."""
    from matcalc.language.shapes import elaborate

    typed = elaborate(text)
    node = typed.root
    expr = to_sympy(node)
    back = from_sympy(expr)
    rng = np.random.default_rng(3)
    sizes = {}
    for name, n in typed.names.items():
        for dim in n.shape:
            if isinstance(dim, str):
                sizes.setdefault(dim, 2 + len(sizes))
    env = {}
    for name, n in typed.names.items():
        r, c = (sizes.get(dd, dd) for dd in n.shape)
        a = rng.uniform(0.5, 1.5, (r, c))
        if r == c and r > 1:
            a += 2 * r * np.eye(r)
        env[name] = a if (r, c) != (1, 1) else float(a[0, 0])
    shape = tuple(sizes.get(dd, dd) for dd in node.shape)
    want = plain_value(text, _plain_env(env, sizes), sizes, shape)
    assert _close(SE.value(expr, env, sizes), want), (text, expr)
    assert _close(plain_value(back.text, _plain_env(env, sizes), sizes, shape), want), (text, back.text)


def test_bad_sympy_input_is_a_clear_error():
    k = sp.Symbol("k")
    X = MatrixSymbol("X", k, k)
    x = MatrixSymbol("x", k, 1)
    with pytest.raises(TypeError):
        from_sympy("x'*A*x")                      # text is never handed to SymPy
    with pytest.raises(UnsupportedError, match="index expression"):
        from_sympy(X[0, 1] * 2)
    with pytest.raises(UnsupportedError, match="matrix root"):
        from_sympy(sp.MatPow(X, sp.Rational(1, 2)))
    with pytest.raises(UnsupportedError, match="not a matcalc name"):
        from_sympy(MatrixSymbol("X_{1}", k, k))
    with pytest.raises(UnsupportedError, match="name of a matcalc function"):
        from_sympy(MatrixSymbol("exp", k, k))
    with pytest.raises(matcalc.MatcalcError, match="both named"):
        from_sympy(MatrixSymbol("A", k, k) + MatrixSymbol("A", k, k).T * 0 + sp.Trace(MatrixSymbol("A", 3, 3)) * X)
    with pytest.raises(UnsupportedError, match="size"):
        from_sympy(MatrixSymbol("Y", k - 1, k))
    with pytest.raises(matcalc.ShapeError):
        from_sympy(sp.MatMul(MatrixSymbol("W", 3, 4), MatrixSymbol("v", 3, 1), check=False))
    with pytest.raises(UnsupportedError, match="no reading"):
        from_sympy(sp.BlockMatrix([[X, X]]))
    from matcalc.language.shapes import elaborate

    with pytest.raises(UnsupportedError, match="SymPy has no matrix expression for matcalc's vec"):
        to_sympy(elaborate("vec(X)").root)
    assert matcalc.derive(x.T * x, x).text == "2*x"


def test_the_bridge_never_sympifies_text():
    source = (Path(matcalc.__file__).parent / "language" / "sympy_bridge.py").read_text()
    for forbidden in ("sympify(", "parse_expr(", "S(", "eval(", "exec("):
        assert forbidden not in source.replace("self.nodes", ""), forbidden


def test_matcalc_derive_cold_start_imports_only_what_it_uses():
    """The README's first command loads no SymPy, NumPy, autograd, checker, code generator, trainer or web
    server (module names, not times: a test never asserts a speed)."""
    import subprocess
    import sys

    code = ("import runpy, sys; sys.argv = ['matcalc', 'derive']\n"
            "try:\n    runpy.run_module('matcalc', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "(softmax(W*x + b) - y)*x'" in out.stdout
    modules = set(out.stdout.split("MODULES", 1)[1].split())
    for heavy in ("sympy", "numpy", "autograd", "scipy", "sklearn", "matplotlib", "torch", "jax", "starlette",
                  "matcalc.check.verify", "matcalc.compile.codegen", "matcalc.train", "matcalc.web",
                  "matcalc.cli.check", "matcalc.cli.train", "matcalc.cli.serve", "matcalc.language.sympy_bridge"):
        assert heavy not in modules, heavy
