"""Named definitions before the objective (`h = tanh(W1*x); z = W2*h + b; -y'*log(softmax(z))`).

Every derived result is compared with central finite differences of the original expression (evaluated
from the *printed* result, which may itself be a program of definitions) and, for scalar functions, with
HIPS autograd; the written-out tree is checked to be the very node the definitions build, so nothing
about the engine's view of the expression changes but its shape as a DAG.
"""

from __future__ import annotations

import subprocess
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli import main
from matcalc.compile.codegen import Plan
from matcalc.errors import MatcalcError, ParseError
from matcalc.language import expr as E
from matcalc.language.parse import parse
from matcalc.language.shapes import elaborate

from oracle import arrays, autograd_gradient, instances, max_error_against_truth, truth


def resnet(k: int) -> str:
    lines = ["h0 = x"] + [f"h{i + 1} = h{i} + tanh(A{i}*h{i})" for i in range(k)]
    return "; ".join(lines) + f"; sum(h{k}.^2)"


def written_out(k: int) -> str:
    h = "x"
    for i in range(k):
        h = f"({h} + tanh(A{i}*{h}))"
    return f"sum({h}.^2)"


MLP = "h = tanh(W1*x); z = W2*h + b; -y'*log(softmax(z))"


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("text", [
    "h = tanh(W*x); sum(h)",
    "h = tanh(W*x)\nsum(h)",
    "h = tanh(W*x);\n\nsum(h);",
    "h = tanh(W*x\n  + b)\nsum(h)",          # a line break inside parentheses continues the line
    "h = tanh(W*x) +\n  b\nsum(h)",          # ... and after an operator
    "h = tanh(W*x)\n  + b\nsum(h)",          # ... and before one that cannot start an expression
])
def test_statements_separated_by_semicolons_or_line_breaks(text):
    tree = parse(text)
    assert tree.kind == "program" and [d.kind for d in tree.args[:-1]] == ["define"]
    assert tree.args[0].value == "h"


def test_a_defined_name_is_one_node_of_the_written_out_tree():
    for k in (1, 2, 5):
        assert elaborate(resnet(k)).root is not None
        typed = elaborate(resnet(k))
        # the same function: every defined name is a node, shared wherever it is used
        assert len(E.walk(typed.root)) < 12 * k + 8
        assert len(typed.definitions) == k + 1
    mlp = elaborate(MLP)
    assert mlp.definitions["z"].args[0].args[1] is mlp.definitions["h"]      # W2*h holds h itself


@pytest.mark.parametrize("text, words", [
    ("h = x; h = 2*x; sum(h)", "defined twice"),
    ("h = z + 1; z = x; sum(h + z)", "used before it is defined"),
    ("h = h + x; sum(h)", "defined in terms of itself"),
    ("exp = x; sum(exp)", "is a function"),
    ("h = tanh(W*x);", "ends with the definition of h"),
    ("sum(y) = 1", "a definition is a name"),
])
def test_bad_definitions_are_refused_with_a_caret(text, words):
    with pytest.raises(ParseError, match=words) as err:
        elaborate(text)
    assert "^" in str(err.value)


def test_a_line_break_between_statements_is_not_read_as_latex():
    d = matcalc.derive("h = tanh(W*x)\nz = W2*h\nsum(z)", wrt="W")
    assert d.expression == "h = tanh(W*x); z = W2*h; sum(z)"


# ---------------------------------------------------------------- deriving through definitions


@pytest.mark.parametrize("text, wrt, assume", [
    (MLP, "W1", ["sum(y) = 1"]),
    (MLP, "W2", []),
    (MLP, "b", ["sum(y) = 1"]),
    (MLP, "x", []),
    (resnet(3), "A0", []),
    (resnet(3), "A2", []),
    (resnet(3), "x", []),
    ("s = sum(x); u = s*x + A*x; u'*u", "x", []),
    ("g = A*x; g .* g", "x", []),
    ("a = W*x; b = a .* a; c = b + a; c'*c", "W", []),
])
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_derivative_through_definitions_matches_finite_differences(text, wrt, assume, layout):
    d = matcalc.derive(text, wrt=wrt, assume=assume, layout=layout)
    assert max_error_against_truth(d) < 1e-6, str(d)
    if d.typed.root.is_scalar and not assume:
        for inst in instances(d, count=2, seed=4):
            want = autograd_gradient(d, inst)
            got = np.asarray(d.to_numpy()(**arrays(d, inst)), dtype=float)
            got = got.T if layout == "numerator" and got.ndim == 2 else got
            assert np.allclose(got, want, rtol=1e-8, atol=1e-10)


def test_definitions_give_the_same_derivative_as_the_written_out_expression():
    for k in (1, 2, 4):
        a, b = matcalc.derive(resnet(k), wrt="A0"), matcalc.derive(written_out(k), wrt="A0")
        for inst in instances(b, count=2, seed=1):
            env = arrays(b, inst)
            assert np.allclose(a.to_numpy()(**env), b.to_numpy()(**env), rtol=1e-10, atol=1e-12)


def test_results_and_steps_use_the_users_names():
    d = matcalc.derive(MLP, wrt="W1", assume=["sum(y) = 1"])
    assert "h" in str(d) and "softmax(z)" in str(d) and "tanh" not in str(d)
    targets = [s.target for s in d.steps]
    assert "∂f/∂h" in targets and "dz = ∂f/∂z" in targets
    text = matcalc.api.text.render_text(d, True)
    assert "where  h = tanh(W1*x),  z = W2*h + b" in text


def test_the_delta_of_each_layer_is_named_as_backprop_writes_it():
    d = matcalc.derive(resnet(3), wrt="A0")
    text = matcalc.api.text.render_text(d, True)
    assert "dh3 = ∂f/∂h3 = 2*h3" in text
    assert "dh2 = ∂f/∂h2 = dh3 + A2'*(dh3 .* (1 - tanh(A2*h2).^2))" in text
    # the printed result is a program that reads back as the same derivative
    assert str(d).startswith("dh3 = 2*h3; dh2 = dh3 + A2'*(dh3 .* (1 - tanh(A2*h2).^2)); ")
    v = matcalc.verify(resnet(3), wrt="A0", claim=str(d))
    assert v.ok, v.diagnosis


def test_a_claim_may_use_the_expressions_names_and_define_its_own():
    assert matcalc.verify("h = tanh(W*x); sum(h)", wrt="W", claim="(1 - h.^2)*x'").ok
    assert matcalc.verify("h = tanh(W*x); sum(h)", wrt="W", claim="t = 1 - h.^2; t*x'").ok
    v = matcalc.verify("h = tanh(W*x); sum(h)", wrt="W", claim="(1 - h.^3)*x'")
    assert not v.ok and v.status == "wrong"


def test_derivative_with_respect_to_a_defined_name_is_that_layers_delta():
    d = matcalc.derive(MLP, wrt="z", assume=["sum(y) = 1"])
    assert str(d) == "softmax(z) - y"
    assert max_error_against_truth(d) < 1e-6
    assert matcalc.verify(MLP, wrt="z", claim="softmax(z) - y", assume=["sum(y) = 1"]).ok
    d = matcalc.derive(resnet(2), wrt="h1")
    assert max_error_against_truth(d) < 1e-6


def test_hessian_vector_product_through_definitions_matches_autograd():
    k, n = 4, 5
    rng = np.random.default_rng(0)
    A = [rng.standard_normal((n, n)) * 0.5 for _ in range(k)]
    x, V = rng.standard_normal(n), rng.standard_normal((n, n))

    def f(A0):
        h = x
        for i in range(k):
            h = h + anp.tanh((A0 if i == 0 else A[i]) @ h)
        return anp.sum(h ** 2)

    want = autograd.grad(lambda A0: anp.sum(V * autograd.grad(f)(A0)))(A[0])
    env = {f"A{i}": A[i] for i in range(k)}
    for layout in ("denominator", "numerator"):
        d = matcalc.derive(resnet(k), wrt="A0", order=2, direction="V", layout=layout)
        got = d.to_numpy()(V=V, x=x, **env)
        assert np.allclose(got if layout == "denominator" else got.T, want, rtol=1e-9, atol=1e-12)


def test_many_definitions_stay_a_small_graph():
    """64 residual blocks stand for 2^64 copies of x written out: the derivative's DAG and its printed
    form grow with the number of blocks."""
    d = matcalc.derive(resnet(64), wrt="A0")
    assert len(E.walk(d.result)) < 3000
    assert len(str(d)) < 8000
    assert str(d).count("dh") > 60


def test_generated_code_names_the_users_values():
    d = matcalc.derive(resnet(2), wrt="A0")
    source = d.numpy_source
    assert "    h1 = " in source and "dh2 = " in source
    inst = next(instances(d, count=1, seed=2))
    assert np.allclose(d.to_numpy()(**arrays(d, inst)), truth(d, inst), rtol=1e-6)


# ---------------------------------------------------------------- the faces


def test_cli_derive_and_check_read_definitions():
    runner = CliRunner()
    res = runner.invoke(main, ["derive", "h = tanh(W1*x)\nz = W2*h + b\n-y'*log(softmax(z))", "--wrt", "W1",
                               "--assume", "sum(y) = 1", "--steps"])
    assert res.exit_code == 0, res.output
    assert "∂f/∂h = " in res.output and "where  h = tanh(W1*x),  z = W2*h + b" in res.output
    res = runner.invoke(main, ["check", MLP, "--wrt", "z", "--claim", "softmax(z) - y", "--assume", "sum(y) = 1"])
    assert res.exit_code == 0 and "CORRECT" in res.output, res.output
    res = runner.invoke(main, ["derive", "h = x; h = x; sum(h)", "--wrt", "x"])
    assert res.exit_code == 2 and "defined twice" in res.output


def test_web_api_derives_and_checks_definitions():
    from matcalc.web.handlers import run

    status, body = run("derive", {"expression": MLP, "wrt": "W1", "assume": ["sum(y) = 1"]})
    assert status == 200, body
    assert "h" in body["result"] and any(s["target"] == "∂f/∂h" for s in body["steps"])
    assert body["where"][0]["name"] == "h"
    status, body = run("check", {"expression": MLP, "wrt": "W2", "claim": "(softmax(z) - y)*h'",
                                 "assume": ["sum(y) = 1"]})
    assert status == 200 and body["status"] == "correct", body


def test_derivation_file_definitions_are_the_languages(tmp_path):
    text = ("assume: sum(y) = 1\ns = softmax(z)\nlet t = s - y\nf: -y'*log(s)\nwrt: z\n"
            "-(diag(s) - s*s')*(y ./ s)\n= s*sum(y) - y\n= t\n")
    v = matcalc.verify_steps(text)
    assert v.ok, v.diagnosis
    bad = text.replace("= t\n", "= t + y\n")
    v = matcalc.verify_steps(bad)
    assert not v.ok and v.first_bad == 8


def test_chain_file_definitions_are_the_languages():
    text = ("shape: W=c,d x=d\nassume: sum(y) = 1\nz = W*x + b\nlet s = softmax(z)\nL: -y'*log(s)\n"
            "dL/ds = -y ./ s\nds/dz = diag(s) - s*s'\ndL/dz = ds/dz * dL/ds\n      = s - y\ndL/dW = (s - y)*x'\n")
    v = matcalc.verify_steps(text)
    assert v.ok, v.diagnosis
    v = matcalc.verify_steps(text.replace("dL/dW = (s - y)*x'", "dL/dW = x*(s - y)'"))
    assert not v.ok


def test_a_doubling_chain_of_definitions_is_judged_quickly():
    text = "; ".join(["a1 = x + x"] + [f"a{i} = a{i - 1} + a{i - 1}" for i in range(2, 31)] + ["sum(a30)"])
    d = matcalc.derive(text, wrt="x", shapes={"x": "n"})
    assert str(d) == "1073741824*ones(n)"
    assert matcalc.verify(text, wrt="x", claim="1073741824*ones(n)", shapes={"x": "n"}).ok
    assert not matcalc.verify(text, wrt="x", claim="536870912*ones(n)", shapes={"x": "n"}).ok


def test_python_dash_m_derives_a_program():
    done = subprocess.run([sys.executable, "-m", "matcalc", "derive", "h = W*x; h'*h", "--wrt", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "2*W'*h"


def test_errors_never_escape_as_tracebacks_for_definitions():
    for text in ("h = ; sum(h)", "= x; sum(x)", "h = x\n\n", "h = x; ; sum(h)", "h = (x; sum(h)"):
        with pytest.raises(MatcalcError):
            matcalc.derive(text, wrt="x")


def test_plan_of_a_definition_program_evaluates_once_per_shared_node():
    typed = elaborate(resnet(20))
    plan = Plan({"v": typed.root}, set())
    assert len(plan.steps) < 150       # 2^20 copies of x written out; 20 blocks of a few steps here
