"""matcalc in a notebook (issue 27): every public object renders right, and the magics work, in a real
kernel (nbclient + ipykernel) running tests/data/notebooks/tour.ipynb; the magics' own behaviour is
also tested in process (matcalc.notebook.run), where a failure is quicker to read."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import matcalc
from matcalc.notebook import run

TOUR = Path(__file__).parent / "data" / "notebooks" / "tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tour notebook run top to bottom in a fresh kernel of this very interpreter."""
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "kernels" / "matcalc-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "matcalc test", "language": "python"}))
    nb = nbformat.read(TOUR, as_version=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(home))
    try:
        NotebookClient(nb, timeout=300, kernel_name="matcalc-test",
                       resources={"metadata": {"path": str(TOUR.parent)}}).execute()   # (cwd: the notebook's folder)
    finally:
        mp.undo()
    return nb


def _outputs(nb, source_start: str) -> list:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    assert cells, source_start
    return cells[0].outputs


def _bundle(nb, source_start: str) -> dict:
    results = [o for o in _outputs(nb, source_start) if o.output_type == "execute_result"]
    assert len(results) == 1, (source_start, _outputs(nb, source_start))
    return results[0]["data"]


def test_no_cell_of_the_tour_raises(executed):
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def test_a_gradient_is_labelled_as_a_gradient(executed):
    data = _bundle(executed, "import matcalc")
    assert data["text/latex"] == r"$$\frac{\partial f}{\partial x} = \left(A + A^\top\right) x$$"
    assert data["text/plain"].startswith("<matcalc gradient of \"x'*A*x\" wrt x")
    assert "### Derivation" in data["text/markdown"] and "```python" in data["text/markdown"]


def test_a_hessian_is_labelled_as_a_second_derivative(executed):
    data = _bundle(executed, "matcalc.derive(\"x'*A*x\", wrt=\"x\", order=2)")
    assert data["text/latex"].startswith(r"$$\frac{\partial^2 f}{\partial x\,\partial x^\top} = ")
    assert "Hessian" in data["text/plain"] and data["text/markdown"].startswith("## Hessian of")


def test_a_hessian_vector_product_says_so(executed):
    data = _bundle(executed, "matcalc.derive(\"sum(exp(X*A))\"")
    assert data["text/latex"].startswith(r"$$\nabla^2_{X} f\,[V] = ")
    assert "Hessian-vector product" in data["text/plain"]


def test_the_numerator_layout_jacobian_is_labelled_by_its_layout(executed):
    data = _bundle(executed, "matcalc.derive(\"W*x\"")
    assert data["text/latex"] == r"$$\frac{\partial f}{\partial x^\top} = W$$"
    assert "numerator layout" in data["text/plain"]


def test_kronecker_index_differential_and_verdicts_render(executed):
    k = _bundle(executed, "matcalc.kronecker(")
    assert k["text/latex"] == r"$$\frac{\partial \operatorname{vec}(F)}{\partial \operatorname{vec}(X)^\top} = " \
                              r"B^\top \otimes A$$"
    assert k["text/plain"].startswith("<matcalc Kronecker Jacobian") and "`A*V*B`" in k["text/markdown"]
    t = _bundle(executed, "matcalc.tensor_index(")
    assert t["text/markdown"] == "`df_i/dW_kl = delta_ik*x_l`"
    dd = _bundle(executed, "differential(")
    assert dd["text/latex"] == r"$$dF = -X^{-1} \mathrm{d}X X^{-1}$$"
    v = _bundle(executed, "matcalc.verify(")
    assert v["text/plain"].startswith("<matcalc Verdict") and v["text/markdown"].startswith("**❌")
    s = _bundle(executed, "matcalc.verify_steps(")
    assert s["text/plain"] == "<matcalc StepsVerdict CORRECT: 1 line>" and "✅" in s["text/markdown"]


def test_the_line_magic_returns_the_object_and_underscore_holds_it(executed):
    data = _bundle(executed, "%matcalc derive")
    assert data["text/latex"].startswith(r"$$\frac{\partial f}{\partial W} = ")
    assert _bundle(executed, "type(_)")["text/plain"] == "('Derivation', \"(softmax(W*x + b) - y)*x'\")"


def test_the_cell_magics_take_the_cell_as_the_file_or_the_expression(executed):
    assert _bundle(executed, "%%matcalc check --derivation")["text/plain"] == "<matcalc StepsVerdict CORRECT: 2 lines>"
    data = _bundle(executed, "%%matcalc derive --wrt x")
    assert data["text/latex"] == r"$$\frac{\partial f}{\partial x} = b + \left(A + A^\top\right) x$$"


def test_a_magic_error_is_the_one_line_message_with_its_caret(executed):
    outs = _outputs(executed, "%matcalc derive \"tr(A*X\"")
    assert [o.output_type for o in outs] == ["stream"] and outs[0].name == "stderr"
    assert outs[0].text == "error: unclosed '(' (column 3)\n  tr(A*X\n    ^\n"


# ---------------------------------------------------------------- in process

def test_run_returns_the_library_object():
    d = run("derive \"x'*A*x\" --wrt x --assume 'A symmetric'")
    assert isinstance(d, matcalc.Derivation) and str(d) == "2*A*x"
    v = run("check \"x'*A*x\" --wrt x --claim 2*A*x")
    assert isinstance(v, matcalc.Verdict) and not v.ok and v.kind == "assumption"
    assert run("derive \"A*X*B\" --wrt X --format kron --layout numerator").text == "kron(B', A)"


def test_run_with_no_expression_derives_the_default(capsys):
    d = run("derive")
    assert str(d) == "(softmax(W*x + b) - y)*x'"


@pytest.mark.parametrize("line,message", [
    ("", "usage: %matcalc derive"),
    ("train", "usage: %matcalc derive"),
    ("derive \"x'*A*x\"", "--wrt is required"),
    ("derive \"x'*A*x\" --wrt x --layout mixed", "Invalid value for '--layout'"),
    ("check \"x'*A*x\" --wrt x", "give an EXPRESSION, --wrt and --claim"),
    ("derive 'x'*A*x' --wrt x", "cannot read the magic's words"),
])
def test_run_says_what_is_wrong_in_one_line(capsys, line, message):
    assert run(line) is None
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_cell_is_refused_where_a_command_takes_none(capsys):
    assert run("rules", "x'*A*x") is None
    assert "takes no cell" in capsys.readouterr().err


def test_importing_matcalc_does_not_import_ipython():
    import subprocess

    code = "import sys, matcalc; matcalc.derive(\"x'*A*x\", wrt='x'); print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_code_cells_gradient_is_checked_from_the_notebook(executed):
    right = _bundle(executed, "%matcalc check --code grad_W")
    assert right["text/plain"] == "<matcalc code verdict correct: grad_W as d/dW of \"-y'*log(softmax(W*x + b))\">"
    assert right["text/markdown"].startswith("**✅ correct** — `grad_W(W, x, b, y)`")
    wrong = _bundle(executed, "matcalc.check_gradient(")
    assert wrong["text/plain"].startswith("<matcalc code verdict wrong") and wrong["text/markdown"].startswith("**❌")


def test_the_code_magic_finds_a_function_of_the_notebook(capsys):
    def grad(x, A):
        return (A + A.T) @ x

    assert run("check --code grad \"x'*A*x\" --wrt x", None, {"grad": grad}).ok
    assert run("check --code nothing \"x'*A*x\" --wrt x", None, {}) is None
    assert "no function of that name" in capsys.readouterr().err


def test_the_notebook_checks_its_own_derivation_cells_as_a_document(executed):
    """`%matcalc check --document tour.ipynb`: the tour's Markdown cells read in order, each equation with its cell
    (0-based among all cells) and line (1-based within the cell); the report object is returned and rendered."""
    data = _bundle(executed, "%matcalc check --document tour.ipynb")
    assert data["text/plain"].startswith("<matcalc DocumentReport of 'tour.ipynb': ")
    assert {"text/html", "text/markdown"} <= set(data)
    derivation = next(k for k, c in enumerate(executed.cells) if c.source.startswith("## A derivation and its code"))
    lines = executed.cells[derivation].source.split("\n")
    report = matcalc.check_document(TOUR.read_text(encoding="utf-8"), name="tour.ipynb")
    claims = [e for e in report.equations if e.role == "derivative"]
    assert len(claims) == 3 and all(e.verdict == "CORRECT" for e in claims), [(e.verdict, e.why) for e in claims]
    for e in report.equations:
        assert e.cell == derivation, (e.cell, e.latex)
        assert " ".join(e.latex.split())[:12] in " ".join(lines[e.line - 1].split()), (e.line, e.latex)
    for e in claims:
        assert f"cell {derivation}, line {e.line}" in data["text/html"]
    assert data["text/html"].count("<tr><td>✓</td>") == 3


def test_a_notebook_and_a_cell_checked_as_documents_show_their_wrong_equations(executed):
    errs = _bundle(executed, "matcalc.check_document(")
    assert errs["text/plain"].startswith("<matcalc DocumentReport of 'batched_mlp_notebook.err.ipynb': ")
    assert errs["text/markdown"].startswith("**❌ WRONG — cell 2, line 5: off by a factor of m")
    assert errs["text/html"].count("<tr><td>✗</td>") == 4
    cell = _bundle(executed, "%%matcalc check --document")
    assert cell["text/plain"].startswith("<matcalc DocumentReport of 'the cell': ")
    assert "<tr><td>✗</td><td>line 2</td>" in cell["text/html"]        # (the line of the body, the magic's line apart)


def test_the_document_magic_returns_the_report_and_says_what_is_wrong_in_one_line(capsys, tmp_path):
    from matcalc.check.documents import DocumentReport

    nb = Path(__file__).parent / "data" / "documents" / "seed_001_softmax_ce_zh.ipynb"
    got = run(f"check --document {nb}")
    assert isinstance(got, DocumentReport) and got.ok and all(e.cell is not None for e in got.equations)
    assert got.as_dict() == matcalc.check_document(nb.read_text(encoding="utf-8"), name=str(nb)).as_dict()
    cell = run("check --document", "Let $x \\in \\mathbb{R}^n$.\n$$\\frac{\\partial (x^T x)}{\\partial x} = x$$")
    assert [(e.line, e.verdict) for e in cell.equations] == [(1, "UNREAD"), (2, "WRONG")], cell
    for line, words in [(f"check --document {tmp_path / 'none.md'}", "cannot read the document"),
                        (f"check x --document {nb}", "--document checks a document"),
                        ("check --document", "requires an argument")]:
        assert run(line) is None
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and "Traceback" not in err, err
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"cells": 3}', encoding="utf-8")
    assert run(f"check --document {bad}") is None
    assert "notebook" in capsys.readouterr().err


def test_the_magics_take_abstract_functions():
    """--function f as on the command line: derive, a claim about f, and a derivation cell."""
    d = run('derive "sum(f(W*x))" --wrt W --function f')
    assert str(d) == "f'(W*x)*x'"
    assert run("""check "sum(f(W*x))" --wrt W --function f --claim "f'(W*x)*x'" """).ok
    assert not run("""check "sum(f(W*x))" --wrt W --function f --claim "f(W*x)*x'" """).ok
    steps = run("check --derivation --function f", "f: sum(f(W*x))\nwrt: W\nf'(W*x)*x'\n")
    assert steps.ok, steps
