"""Index notation: parsing, entry-by-entry values, index <-> matrix rewrites, derivative claims, LaTeX sums.

Every rewrite is checked NUMERICALLY, both ways, on random instances whose dimensions all differ (so a
swapped index changes a shape or a value instead of hiding), and derivative claims against central finite
differences of the original expression."""

import numpy as np
import pytest

import matcalc
from matcalc.check import numeric
from matcalc import tables as rules
from matcalc.compile.codegen import evaluate
from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.compile.index_eval import derivative_values, index_values
from matcalc.language.index import analyze, to_sympy
from matcalc.engine.index_matrix import NoMatrixForm, to_index, to_matrix
from matcalc.language.index_parse import parse_index, parse_index_derivative
from matcalc.check.reading import read_input
from matcalc.language.shapes import elaborate

from oracle import TOLERANCE, arrays_and_sizes, declared_shapes, instances, truth, typed_like


def latex_to_ascii(text: str) -> str:
    """LaTeX as the library reads it: sums over indices through the checked index-to-matrix rewriter."""
    return read_input(text, "latex")


def _instance(matrix_text: str, shapes=None, seed: int = 0, start: int = 0):
    """Arrays for every name of a matrix expression, all dimensions of different sizes."""
    typed = elaborate(matrix_text, shapes)
    sizes = numeric.dimension_sizes([typed.root] + list(typed.names.values()), start=start)
    inst = numeric.sample(typed.root, typed.names, rng=np.random.default_rng(seed), sizes=sizes,
                          dim_scalars=typed.dims)
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k not in env})
    return typed, env


def _matrix_value(typed, env):
    return np.asarray(evaluate(typed.root, typed.dims, env), dtype=float)


def _assert_same(index_text, matrix_text, free, shapes=None):
    """The index expression's entries equal the matrix expression's, on three random instances."""
    for seed in range(3):
        typed, env = _instance(matrix_text, shapes, seed, start=seed)
        want = _matrix_value(typed, env)
        if want.ndim == 2 and len(free) == 1:  # a column (n×1) or a row (1×n)
            want = want.reshape(-1)
        ranges = dict(zip(free, want.shape))  # `delta_ij` alone says nothing of its size
        got = index_values(index_text, free, shapes, env, ranges)
        assert got.shape == want.shape, (index_text, matrix_text, got.shape, want.shape)
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12), (index_text, matrix_text)


# ---------------------------------------------------------------- index -> matrix, and back

# (index expression, its matrix form, free indices of the matrix's rows/cols)
PAIRS = [
    ("sum_k A_ik*B_kj", "A*B", ("i", "j")),
    ("a_i*b_j", "a*b'", ("i", "j")),
    ("delta_ij", "I", ("i", "j")),
    ("sum_j W_ij*x_j", "W*x", ("i",)),
    ("s_i*(delta_ik - s_k)", "diag(s) - s*s'", ("i", "k")),
    ("(s_i - y_i)*x_j", "(s - y)*x'", ("i", "j")),
    ("sum_i a_i*b_i", "a'*b", ()),
    ("exp(z_i)", "exp(z)", ("i",)),
    ("x_i*y_i", "x .* y", ("i",)),
    ("sum_j W_ij*x_j + b_i", "W*x + b", ("i",)),
    ("A_ji", "A'", ("i", "j")),
    ("sum_k A_ki*B_kj", "A'*B", ("i", "j")),
    ("sum_k A_ik*B_jk", "A*B'", ("i", "j")),
    ("sum_i X_ii", "tr(X)", ()),
    ("x_i/y_i", "x ./ y", ("i",)),
    ("2*x_i^2", "2*x.^2", ("i",)),
    ("sum_k A_ik*x_k*B_kj", "A*diag(x)*B", ("i", "j")),
    ("sum_{i,j} X_ij", "sum(X)", ()),
    ("sum_{i,j} X_ij*Y_ij", "sum(X .* Y)", ()),
    ("softmax(W*x + b)_i - y_i", "softmax(W*x + b) - y", ("i",)),
    ("sum_k A_ik*delta_kj", "A", ("i", "j")),
    ("alpha*x_i", "alpha*x", ("i",)),
    ("sum(y)*s_i - y_i", "sum(y)*s - y", ("i",)),
    ("sigmoid(x_i)*(1 - sigmoid(x_i))*delta_ij", "diag(sigmoid(x) .* (1 - sigmoid(x)))", ("i", "j")),
    ("inv(X)_ji", "inv(X)'", ("i", "j")),
    ("x_i*A_ij", "diag(x)*A", ("i", "j")),
    ("A_ij*B_ij*C_ji", "A .* B .* C'", ("i", "j")),
    ("exp(z_i)/sum_j exp(z_j)", "exp(z)/sum(exp(z))", ("i",)),
    ("sum_{i,j} x_i*A_ij*x_j", "x'*A*x", ()),
    ("sum_j (A_ij + A_ji)*x_j", "(A + A')*x", ("i",)),
    ("-x_i", "-x", ("i",)),
    ("log(x_i) - 1/x_i", "log(x) - 1 ./ x", ("i",)),
    ("delta_ik - s_k", "I - s'", ("i", "k")),
    ("X_ij + b_j", "X + b'", ("i", "j")),
    ("X_ij + c_i", "X + c", ("i", "j")),
    ("det(X)*inv(X)_ji", "det(X)*inv(X)'", ("i", "j")),
    ("sum_k X_ki*(S_kj - Y_kj)/m", "X'*(S - Y)/m", ("i", "j")),
    ("sum_k A_ik*x_k*B_kj", "A*diag(x)*B", ("i", "j")),
    ("alpha*(A_ji + y_i*x_j)", "alpha*(A' + y*x')", ("i", "j")),
]


@pytest.mark.parametrize("index_text, matrix_text, free", PAIRS, ids=[p[0] for p in PAIRS])
def test_to_matrix(index_text, matrix_text, free):
    got = to_matrix(index_text, free=free or None)
    assert got == matrix_text
    _assert_same(index_text, got, free)


@pytest.mark.parametrize("index_text, matrix_text, free", PAIRS, ids=[p[0] for p in PAIRS])
def test_to_index_round_trip(index_text, matrix_text, free):
    """matrix -> index -> values equal the matrix's; and index -> matrix gives the matrix back."""
    text = to_index(matrix_text, free or None)
    _assert_same(text, matrix_text, free)
    _assert_same(index_text, to_matrix(text, free=free or None), free)


def test_to_index_reads_like_a_hand_derivation():
    assert to_index("diag(s) - s*s'", ("i", "k")) == "s_i*(delta_ik - s_k)"
    assert to_index("(s - y)*x'") == "(s_i - y_i)*x_j"
    assert to_index("A*B") == "sum_k A_ik*B_kj"
    assert to_index("W*x + b") == "sum_j W_ij*x_j + b_i"
    assert to_index("inv(X)'") == "inv(X)_ji"
    assert to_index("x'*A*x") == "sum_{i,j} x_i*A_ij*x_j"
    assert to_index("x ./ y") == "x_i/y_i"
    assert to_index("softmax(W*x + b) - y") == "softmax(W*x + b)_i - y_i"
    assert to_index("A*diag(x)*B") == "sum_k A_ik*x_k*B_kj"  # the delta of diag(x) summed away
    assert to_index("X + b'") == "X_ij + b_j"
    assert to_index("(1/m)*X'*(softmax_rows(X*W + b') - Y)") == "sum_k X_ki*(softmax_rows(X*W + b')_kj - Y_kj)/m"


def test_to_index_takes_a_typed_node():
    d = matcalc.derive("-y'*log(softmax(W*x + b))", wrt="W", assume=["sum(y) = 1"])
    text = to_index(d.result)
    assert text == "(softmax(W*x + b)_i - y_i)*x_j"
    _assert_same(text, str(d), ("i", "j"))


def test_default_free_order_is_alphabetical_for_matrix_form():
    assert to_matrix("A_ji") == "A'"
    assert to_matrix("s_k*s_i") == "s*s'"
    assert to_matrix("s_k*s_i", free=("k", "i")) == "s*s'"


@pytest.mark.parametrize("text, message", [
    ("a_i*b_j*c_k", "3 free indices"),
    ("sum_k A_ik*B_jk*C_lk", "free indices"),
    ("x_j*e_i", "3 free indices"),
    ("sum_k A_ik*B_kj*C_kl*D_km", "free indices"),
])
def test_no_matrix_form_is_a_clear_error(text, message):
    with pytest.raises(MatcalcError, match=message):
        to_matrix(text)


def test_index_shared_by_three_matrices_has_no_matrix_form():
    with pytest.raises(NoMatrixForm, match="shared by 3 matrices"):
        to_matrix("sum_{k,l} A_ik*B_kj*C_kl*D_il*E_lj")


def test_contraction_order_is_found():
    """sum_{j,k} A_ij*B_jk*C_kl*D_jl: j touches three matrices until k is summed first."""
    got = to_matrix("sum_{j,k} A_ij*B_jk*C_kl*D_jl")
    _assert_same("sum_{j,k} A_ij*B_jk*C_kl*D_jl", got, ("i", "l"))


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize("text, same_as", [
    ("W_{ij}", "W_ij"), ("W[i,j]", "W_ij"), ("W_{i,j}", "W_ij"),
    (r"\mathrm{softmax}(z)_i", "softmax(z)_i"), (r"\operatorname{softmax}(z)_i", "softmax(z)_i"),
    (r"s_i \delta_{ik}", "s_i*delta_ik"), ("δ_ik s_k", "delta_ik*s_k"),
    (r"\sum_k A_{ik} B_{kj}", "sum_k A_ik*B_kj"), (r"\sum_{k} A_{ik} B_{kj}", "sum_k A_ik*B_kj"),
    ("sum_{k} A_ik*B_kj", "sum_k A_ik*B_kj"), ("sum_k (A_ik*B_kj)", "sum_k A_ik*B_kj"),
    (r"\sum_{k=1}^{n} A_{ik} B_{kj}", "sum_k A_ik*B_kj"),
    ("s_i(delta_ik - s_k)", "s_i*(delta_ik - s_k)"), ("ŷ_i(δ_ik − ŷ_k)", "yhat_i*(delta_ik - yhat_k)"),
    (r"\hat{y}_i (\delta_{ik} - \hat{y}_k)", "yhat_i*(delta_ik - yhat_k)"),
    (r"\frac{e^{z_i}}{\sum_{j=1}^{N} e^{z_j}}", "exp(z_i)/sum_j exp(z_j)"),
    (r"y_i x_j \mathbf{e}_i", "y_i*x_j*e_i"), ("(W*x + b)_i", "sum_j W_ij*x_j + b_i"),
    (r"(W x + b)_i", "(W*x + b)_i"), ("x_i .* y_i", "x_i*y_i"), (r"x_i \cdot y_i", "x_i*y_i"),
    (r"\left(s_i - y_i\right) x_j", "(s_i - y_i)*x_j"), ("W1_ij*x_j", "W1_ij*x_j"),
    ("sigmoid(a_i)", r"\sigma(a_i)"), ("(y'*s)*x_i", "sum_k y_k*s_k*x_i"),
])
def test_notations_mean_the_same(text, same_as):
    ix_a, ix_b = analyze(text), analyze(same_as)
    assert ix_a.free == ix_b.free or set(ix_a.free) == set(ix_b.free)
    free = tuple(sorted(set(ix_a.free)))
    # one instance fits both: draw arrays for the union of names
    names = dict(ix_a.names)
    names.update(ix_b.names)
    rng = np.random.default_rng(3)
    sizes = {}
    arrays = {}
    for name, shape in names.items():
        dims = [d for d in shape if d != 1]
        for d in dims:
            sizes.setdefault(d, 3 + len(sizes))
        arrays[name] = rng.uniform(0.5, 1.5, size=tuple(sizes[d] for d in dims))
    for name in set(ix_a.elab_names) | set(ix_b.elab_names):
        if name not in arrays:
            node = (ix_a.elab_names.get(name) or ix_b.elab_names[name])
            dims = [d for d in node.shape if d != 1]
            for d in dims:
                sizes.setdefault(d, 3 + len(sizes))
            arrays[name] = rng.uniform(0.5, 1.5, size=tuple(sizes[d] for d in dims))
    ranges = {i: sizes[d] for i, d in ix_a.ranges.items() if d in sizes}
    ranges.update({"ρ": sizes[ix_b.ranges["ρ"]]} if "ρ" in ix_b.ranges and ix_b.ranges["ρ"] in sizes else {})
    a = index_values(ix_a, free, arrays=arrays, ranges=ranges)
    b = index_values(ix_b, free, arrays=arrays, ranges=ranges)
    assert a.shape == b.shape and np.allclose(a, b)


def test_latex_subscripts_take_one_character_ascii_takes_all():
    assert parse_index("W_ij").args == ("W", ("i", "j"))
    tree = parse_index(r"W_ij \cdot 1")  # TeX renders W_ij as W_i j
    assert tree.kind == "mul" and tree.args[0].args == ("W", ("i",))


@pytest.mark.parametrize("text, message, column", [
    ("W_ij)", "unexpected ')'", 5),
    ("sum_k", "a sum needs a summand", 6),
    ("(s_i)_j", "not on an index expression", 6),
    ("softmax(z_i)", "softmax(...) of index entries", 1),
    ("x_ijk", "3 indices on x", 1),
    ("W_i2", "an index is a letter", 3),
    ("3 +", "an operand is missing", 4),
    ("delta_i", "the Kronecker delta takes two indices", 1),
    ("x_i^y_i", "an exponent must be a number", 5),
    ("sum_k + 1", "a sum needs a summand", 7),
    (r"\foo_i", "unsupported LaTeX command", 1),
    ("x_i # 2", "unexpected character '#'", 5),
])
def test_parse_errors_point_at_the_column(text, message, column):
    with pytest.raises(ParseError) as err:
        parse_index(text)
    assert message in err.value.message
    assert err.value.column == column
    assert "^" in str(err.value)


@pytest.mark.parametrize("text, expected", [
    ("dL/dW_ij", ("L", (), "W", ("i", "j"))),
    ("ds_i/dz_k", ("s", ("i",), "z", ("k",))),
    ("dz/dW_ij", ("z", (), "W", ("i", "j"))),
    (r"\frac{\partial s_i}{\partial z_k}", ("s", ("i",), "z", ("k",))),
    (r"\frac{\partial CE}{\partial W_{ij}}", ("CE", (), "W", ("i", "j"))),
    ("∂L/∂W_{ij}", ("L", (), "W", ("i", "j"))),
    ("∂ŷ_i/∂z_k", ("yhat", ("i",), "z", ("k",))),
    (r"\frac{\partial \hat{y}_i}{\partial z_k}", ("yhat", ("i",), "z", ("k",))),
    ("d L / d W[i,j]", ("L", (), "W", ("i", "j"))),
    ("dL/db", ("L", (), "b", ())),
    ("dL/dW_1", ("L", (), "W_1", ())),
])
def test_parse_index_derivative(text, expected):
    assert parse_index_derivative(text) == expected


@pytest.mark.parametrize("text, message", [
    ("dL/W_ij", "expected a derivative"),
    ("dL dW", "expected '/'"),
    ("dL/dW_ijk", "3 indices"),
    (r"\frac{\partial L}{W}", "expected a derivative"),
])
def test_parse_index_derivative_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse_index_derivative(text)


# ---------------------------------------------------------------- values and typing

def test_free_indices_are_inferred_in_order_of_first_appearance():
    assert analyze("s_i*(delta_ik - s_k)").free == ("i", "k")
    assert analyze("x_j*a_i").free == ("j", "i")
    assert analyze("sum_k A_ik*B_kj").free == ("i", "j")
    assert analyze("x_j*e_i").free == ("j", "i", "ρ")
    typed, env = _instance("x*a'")
    assert np.allclose(index_values("x_j*a_i", arrays=env), np.outer(env["a"], env["x"]).T)


def test_a_repeated_index_without_sum_is_free_not_summed():
    typed, env = _instance("A*B")
    with pytest.raises(ShapeError, match="did you mean sum_k"):
        index_values("A_ik*B_kj", ("i", "j"), arrays=env)


def test_an_index_over_two_sizes_is_a_shape_error():
    with pytest.raises(ShapeError, match="index k runs over columns of W = q and entries of x = r"):
        analyze("sum_k W_ik*x_k", {"W": "p,q", "x": "r"})
    with pytest.raises(ShapeError, match="W is a matrix, so it takes 2 indices, got 1"):
        analyze("W_i", {"W": "p,q"})


def test_index_values_broadcasts_a_missing_free_index():
    typed, env = _instance("a*b'")
    got = index_values("a_i", ("i", "j"), arrays=env, ranges={"j": len(env["b"])})
    assert np.allclose(got, np.outer(env["a"], np.ones(len(env["b"]))))


def test_vector_valued_entries_with_unit_vectors():
    """x_j*e_i: for each (i, j) a whole vector (the hidden row axis comes last)."""
    typed, env = _instance("W*x + b")
    p, q = env["W"].shape
    with pytest.raises(ShapeError, match="range of index i is unknown"):
        index_values("x_j*e_i", ("i", "j"), arrays=env)
    v = index_values("x_j*e_i", ("i", "j"), arrays=env, ranges={"i": p})
    assert v.shape == (p, q, p)
    want = np.einsum("ir,j->ijr", np.eye(p), env["x"])
    assert np.allclose(v, want)
    # s_k*(e_k - s): the k-th column of the softmax Jacobian
    z = env["b"]
    s = np.exp(z) / np.exp(z).sum()
    col = index_values("s_k*(e_k - s)", ("k",), arrays={"s": s})
    assert np.allclose(col, (np.diag(s) - np.outer(s, s)).T)


# ---------------------------------------------------------------- derivative claims vs finite differences

def _fd(expression: str, wrt: str, shapes=None, assume=(), seed=0):
    d = matcalc.derive(expression, wrt=wrt, assume=list(assume), shapes=shapes)
    inst = next(iter(instances(d, count=1, seed=seed)))
    fd = numeric.finite_difference(d.typed.root, wrt, inst, d.typed.dims)
    return d, fd, arrays_and_sizes(d, inst)


def test_cross_entropy_gradient_entrywise():
    d, fd, env = _fd("-y'*log(softmax(W*x + b))", "W", assume=["sum(y) = 1"])
    s = np.asarray(evaluate(elaborate("softmax(W*x + b)", declared_shapes(d)).root, (), env))
    env["s"] = s
    claim = derivative_values("dL/dW_ij", "(s_i - y_i)*x_j", arrays=env)
    assert np.allclose(claim, fd, atol=1e-6)  # scalar L: [i, j] is dL/dW_ij, as the gradient
    with pytest.raises(ShapeError, match="index i"):  # swapped indices: x_i cannot run over W's rows
        derivative_values("dL/dW_ij", "(s_j - y_j)*x_i", arrays=env)
    direct = derivative_values(r"\frac{\partial CE}{\partial W_{ij}}",
                               r"(\mathrm{softmax}(W x + b)_i - y_i) x_j", arrays=env)
    assert np.allclose(direct, fd, atol=1e-6)


def test_softmax_jacobian_entrywise_in_numerator_layout():
    d, fd, env = _fd("softmax(z)", "z")
    s = np.exp(env["z"]) / np.exp(env["z"]).sum()
    env["s"] = s
    claim = derivative_values("ds_i/dz_k", "s_i*(delta_ik - s_k)", arrays=env)
    assert np.allclose(claim, fd.T, atol=1e-6)  # fd is denominator layout: [k, i]
    dropped = derivative_values("ds_i/dz_k", "-s_i*s_k", arrays=env)  # the δ term left out
    assert not np.allclose(dropped, fd.T, atol=1e-6)
    seed_form = derivative_values(r"\frac{\partial y_i}{\partial d_k}", r"y_i (\delta_{ik} - y_k)",
                                  arrays={"y": s, "d": env["z"]})
    assert np.allclose(seed_form, fd.T, atol=1e-6)


def test_unit_vector_claim_for_a_vector_by_matrix_derivative():
    typed, env = _instance("W*x + b", seed=4)
    fd = numeric.finite_difference(typed.root, "W", numeric.Instance(env, {}))  # [i, j, r] = dz_r/dW_ij
    env["z"] = _matrix_value(typed, env).reshape(-1)
    claim = derivative_values("dz/dW_ij", "x_j*e_i", arrays=env)  # [r, i, j]
    assert claim.shape == (fd.shape[2],) + fd.shape[:2]
    assert np.allclose(np.moveaxis(claim, 0, -1), fd, atol=1e-6)
    with pytest.raises(ShapeError):
        derivative_values("dz/dW_ij", "x_i*e_j", arrays=env)


def test_same_letter_on_both_sides_is_refused():
    with pytest.raises(ParseError, match="distinct letters"):
        derivative_values("ds_i/dz_i", "s_i", arrays={"s": np.ones(3), "z": np.ones(3)})


# ---------------------------------------------------------------- identity tables in index form

@pytest.mark.parametrize("row", rules.identity_rows(), ids=lambda r: f"d/d{r.wrt} {r.expression}")
def test_identity_rows_in_index_form(row):
    """Each row's gradient in index notation equals finite differences entry by entry, and its matrix
    rewrite equals the index expression."""
    d = matcalc.derive(row.expression, wrt=row.wrt, assume=row.assume, shapes=dict(row.shapes) or None)
    node = typed_like(d, row.gradient)
    axes = [n for n in node.shape if n != 1]
    free = ("i", "j")[:len(axes)] if len(axes) == 2 else ("i",)[:len(axes)]
    text = to_index(node, free)
    shapes = declared_shapes(d)
    back = to_matrix(text, shapes, free=free)
    if node.shape[0] == 1 and node.shape[1] != 1:  # a row-vector gradient (d/dalpha of alpha*x)
        back = f"({back})'"
    for inst in instances(d, count=2, seed=5):
        want = truth(d, inst)
        env = arrays_and_sizes(d, inst)
        got = index_values(text, free, shapes, env, dict(zip(free, [n for n in want.shape if n != 1])))
        if got.shape != want.shape and got.size == want.size:
            got = got.reshape(want.shape)
        assert numeric.relative_error(got, want) < TOLERANCE, (row, text)
        rewritten = np.asarray(evaluate(typed_like(d, back), d.typed.dims, env), dtype=float)
        assert np.allclose(rewritten.reshape(got.shape), got), (text, back)
    # the index claim as a user pastes it, its left side naming the entry: the gradient has the denominator
    # layout, so entry [i, j] of a Jacobian is df_j/dx_i
    f_scalar, x_scalar = d.typed.root.is_scalar, d.typed.names[row.wrt].is_scalar
    if f_scalar:
        lhs = f"df/d{row.wrt}" + (f"_{''.join(free)}" if free else "")     # df/dp for a scalar variable
    elif x_scalar:
        lhs = f"df_{free[0]}/d{row.wrt}"
    else:
        lhs = f"df_{free[1]}/d{row.wrt}_{free[0]}"
    claim = f"{lhs} = {text}" if free else text     # a scalar by a scalar has no entries to name
    verdict = matcalc.verify(row.expression, wrt=row.wrt, claim=claim, assume=row.assume,
                             shapes=dict(row.shapes) or None)
    assert verdict.ok, (row, claim, verdict.status, verdict.diagnosis)


# ---------------------------------------------------------------- LaTeX index sums (issue 8, item 4)

def test_latex_double_sum_is_translated_right():
    assert latex_to_ascii(r"\sum_{ij} W_{ij} x_j y_i") == "y'*W*x"
    assert latex_to_ascii(r"\sum_i\sum_j A_{ij} x_i x_j") == "x'*A*x"
    _assert_same(r"\sum_{ij} W_{ij} x_j y_i", "y'*W*x", ())
    _assert_same(r"\sum_i\sum_j A_{ij} x_i x_j", "x'*A*x", ())


def test_latex_double_sums_give_the_right_derivatives():
    from oracle import max_error_against_truth

    d = matcalc.derive(r"\sum_{ij} W_{ij} x_j y_i", wrt="W")
    assert max_error_against_truth(d) < TOLERANCE
    _assert_same("y_i*x_j", str(d), ("i", "j"))
    d = matcalc.derive(r"\sum_i\sum_j A_{ij} x_i x_j", wrt="x")
    assert max_error_against_truth(d) < TOLERANCE
    _assert_same("sum_j (A_ij + A_ji)*x_j", str(d), ("i",))


def test_latex_sums_that_were_right_stay_as_they_were():
    assert latex_to_ascii(r"\sum_i x_i^2") == "sum(x.^2)"
    assert latex_to_ascii(r"\sum_i \sum_j X_{ij}") == "sum(sum(X))"
    assert latex_to_ascii(r"\sum_{ij} A_{ij} B_{ij}") == "sum((A) .* (B))"


def test_latex_sum_with_transposed_indices_is_not_a_hadamard_product():
    text = latex_to_ascii(r"\sum_{ij} A_{ij} B_{ji}")
    assert text == "sum(A .* B')"  # = tr(A*B), not sum(A .* B)
    _assert_same(r"\sum_{ij} A_{ij} B_{ji}", text, (), shapes={"A": "p,q", "B": "q,p"})


def test_latex_sum_without_matrix_form_is_refused():
    with pytest.raises(ParseError, match="no matrix form") as err:
        latex_to_ascii(r"\sum_{k} A_{ik} B_{jk} C_{lk}")
    assert err.value.column == 1


# ---------------------------------------------------------------- SymPy objects

def test_to_sympy_builds_indexed_objects_and_agrees_numerically():
    import sympy as sp

    e = to_sympy("s_i*(delta_ik - s_k)")
    assert e.has(sp.KroneckerDelta) and e.atoms(sp.Indexed)
    shapes = {"A": (2, 3), "B": (3, 4)}
    expr = to_sympy("sum_k A_ik*B_kj", shapes)
    assert isinstance(expr, sp.Sum)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    i, j = sorted(expr.free_symbols - {sp.IndexedBase("A").label, sp.IndexedBase("B").label}, key=str)[:2]
    explicit = expr.doit()
    values = {sp.IndexedBase("A")[r, c]: A[r, c] for r in range(2) for c in range(3)}
    values.update({sp.IndexedBase("B")[r, c]: B[r, c] for r in range(3) for c in range(4)})
    ours = index_values("sum_k A_ik*B_kj", ("i", "j"), shapes, {"A": A, "B": B})
    for r in range(2):
        for c in range(4):
            v = explicit.subs({sp.Idx("i", 2): r, sp.Idx("j", 4): c}).xreplace(values)
            assert abs(float(v) - ours[r, c]) < 1e-12
    collapsed = to_sympy("sum_k A_ik*delta_kj", {"A": (3, 3)}).doit()
    assert sp.IndexedBase("A")[sp.Idx("i", 3), sp.Idx("j", 3)] in collapsed.atoms(sp.Indexed)
