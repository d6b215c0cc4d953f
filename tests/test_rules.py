"""Every row of every table in rules/ is checked numerically, against finite differences or by
evaluating both sides of an identity on random instances."""

import numpy as np
import pytest

import matcalc
from matcalc.check import numeric
from matcalc import tables as rules
from matcalc.compile.codegen import evaluate
from matcalc.language.shapes import elaborate_many

from oracle import TOLERANCE, max_error_against_truth, printed_value, instances, truth


@pytest.mark.parametrize("row", rules.identity_rows(), ids=lambda r: f"d/d{r.wrt} {r.expression}")
def test_identity_row_is_true_and_derived(row):
    d = matcalc.derive(row.expression, wrt=row.wrt, assume=row.assume, shapes=dict(row.shapes) or None)
    assert max_error_against_truth(d) < TOLERANCE
    for inst in instances(d, count=3, seed=11):
        want = truth(d, inst)
        stated = np.asarray(printed_value(d, inst, row.gradient), dtype=float)
        if stated.ndim == 0 and want.ndim == 0:
            pass
        elif stated.size == want.size:
            stated = stated.reshape(want.shape)
        assert numeric.relative_error(stated, want) < TOLERANCE, f"the table row itself is wrong: {row}"


def _expression_exercising(row) -> tuple[str, str, dict]:
    """A scalar expression whose derivative goes through the function's rule, and its variable."""
    name = row.printed
    kind = row.kind
    if kind == "elementwise" and row.arity == 2:      # both partials at once: d/dx of f(x, 2*x + y)
        return f"w'*{name}(x, 2*x + y)", "x", {}
    if row.axis:
        return (f"{name}(Z, 1)*w", "Z", {}) if row.axis == 1 else (f"w'*{name}(Z, 2)", "Z", {})
    if kind == "shaped":
        return f"sum(W .* {name}(Z))", "Z", {}
    if kind == "elementwise":
        return f"w'*{name}(x)", "x", {}
    if kind == "reduce" and row.arg == "vector":
        return f"{name}(x)", "x", {}
    if kind == "reduce":
        return f"{name}(X)", "X", {"X": ("n", "n")} if row.arg == "square" else {"X": ("n", "k")}
    if kind == "square":
        return f"a'*{name}(X)*b", "X", {}
    if kind == "vector":
        return f"w'*{name}(z)", "z", {}
    if kind == "rows":
        return f"sum(W .* {name}(Z))", "Z", {}
    if kind == "rowreduce":
        return f"w'*{name}(Z)", "Z", {}
    if kind == "tomatrix":
        return f"sum(A .* {name}(v))", "v", {}
    if kind == "tovector":
        return f"w'*{name}(A)", "A", {}
    raise AssertionError(f"no test expression for function kind {kind!r}: add one")


@pytest.mark.parametrize("row", list(rules.functions().values()), ids=lambda r: r.name)
def test_function_rule_against_finite_differences(row):
    assert row.source and row.rule
    text, wrt, shapes = _expression_exercising(row)
    d = matcalc.derive(text, wrt=wrt, shapes=shapes or None)
    assert max_error_against_truth(d) < TOLERANCE, str(d)


OPERATOR_CASES = {
    ("add", "term"): ("a'*(x + y)", "x", {}),
    ("mul", "matrix"): ("a'*X*b", "X", {}),
    ("mul", "scalar"): ("alpha*(a'*x)", "alpha", {}),
    ("had", "factor"): ("w'*(x .* y)", "x", {}),
    ("T", "operand"): ("a'*X'*b", "X", {}),
    ("pow", "base"): ("(a'*x)^3", "x", {}),
    ("epow", "base"): ("w'*x.^3", "x", {}),
    ("bcast", "scalar"): ("w'*(x + alpha)", "alpha", {}),
    ("bcast", "row"): ("sum(V .* (X + b'))", "b", {}),
    ("bcast", "column"): ("sum(V .* (X + c))", "c", {"X": ("n", "k"), "c": ("n",)}),
    ("vec", "operand"): ("y'*vec(A*X)", "X", {"A": ("m", "n"), "X": ("n", "k")}),
    ("unvec", "operand"): ("sum(V .* unvec(g, m, n))", "g", {"g": ("m*n",), "V": ("m", "n")}),
    ("kron", "left"): ("sum(V .* kron(X, B))", "X", {"X": ("m", "n"), "B": ("p", "q"), "V": ("m*p", "n*q")}),
    ("kron", "right"): ("sum(V .* kron(A, X))", "X", {"A": ("m", "n"), "X": ("p", "q"), "V": ("m*p", "n*q")}),
    ("vpow", "base"): ("w'*x.^p", "x", {}),
    ("vpow", "exponent"): ("w'*x.^p", "p", {}),
}


def test_every_operator_row_has_a_case():
    assert set(rules.operators()) == set(OPERATOR_CASES)


@pytest.mark.parametrize("key", sorted(OPERATOR_CASES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_operator_rule_against_finite_differences(key):
    row = rules.operators()[key]
    assert row.source and row.rule
    text, wrt, shapes = OPERATOR_CASES[key]
    d = matcalc.derive(text, wrt=wrt, shapes=shapes or None)
    assert max_error_against_truth(d) < TOLERANCE, str(d)


@pytest.mark.parametrize("row", rules.simplify_rows(), ids=lambda r: f"{r.pattern} -> {r.result}")
def test_simplification_identity_holds_numerically(row):
    assert row.source and row.name
    first = elaborate_many(row.pattern)[0]
    declared = {n: (s.shape if s.shape[1] != 1 else s.shape[:1]) if not s.is_scalar else ()
                for n, s in first.names.items()}
    typed, (result,) = elaborate_many(row.pattern, declared, (row.result,), targets=[first.root.shape])
    rng = np.random.default_rng(5)
    for k in range(3):
        sizes = numeric.dimension_sizes([typed.root, result], start=k)
        inst = numeric.sample(typed.root, typed.names, None, rng, sizes=sizes, extra_roots=[result],
                              dim_scalars=typed.dims)       # a size used as a number (sum(ones(n)) = n)
        if "sign" in row.pattern or "abs" in row.pattern:
            inst.env = {n: v + np.sign(v) * 0.1 for n, v in inst.env.items()}
        env = {**inst.dims, **inst.env}
        lhs = np.asarray(evaluate(typed.root, typed.dims, env), dtype=float)
        rhs = np.asarray(evaluate(result, typed.dims, env), dtype=float)
        if rhs.shape != lhs.shape:
            rhs = np.broadcast_to(rhs, lhs.shape) if rhs.ndim == 0 else rhs.reshape(lhs.shape)
        assert numeric.relative_error(lhs, rhs) < 1e-9


def test_tables_ship_with_the_package():
    path = rules.table_path("functions")
    assert path.exists() and path.suffix == ".toml"


@pytest.mark.parametrize("row", [r for r in rules.functions().values() if r.upper is not None],
                         ids=lambda r: r.name)
def test_upper_bounds_hold_numerically(row):
    """The `upper` column: the compiled Hessian takes square roots of weights it proves >= 0 with it."""
    rng = np.random.default_rng(8)
    arg = "z" if row.arg == "vector" else "Z" if row.arg == "matrix" else "x"
    typed = elaborate_many(f"{row.printed}({arg})")[0]
    for scale in (0.1, 1.0, 30.0, 1000.0):
        sizes = numeric.dimension_sizes([typed.root])
        inst = numeric.sample(typed.root, typed.names, None, rng, sizes=sizes)
        env = {**inst.dims, **{n: v * scale for n, v in inst.env.items()}}
        values = np.asarray(evaluate(typed.root, (), env), dtype=float)
        assert np.all(values <= row.upper), (row.name, scale)
