"""LaTeX as written in papers gives the same derivation as its ASCII twin; the report renders."""

import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.app import main
from matcalc.errors import ParseError

TWINS = [
    (r"-y^T \log(\mathrm{softmax}(Wx+b))", "-y'*log(softmax(W*x + b))", "W", ["sum(y) = 1"]),
    (r"x^\top A x", "x'*A*x", "x", []),
    (r"\operatorname{tr}(X^{-1}A)", "tr(inv(X)*A)", "X", []),
    (r"\log\det X", "logdet(X)", "X", []),
    (r"\|Ax-b\|_2^2", "norm2(A*x - b)^2", "x", []),
    (r"\sum \sigma(Wx)", "sum(sigmoid(W*x))", "W", []),
    (r"a^T (x \odot x)", "a'*(x .* x)", "x", []),
    (r"\frac{1}{m} \sum X", "sum(X)/m", "X", []),
    # as people type it (issue 22): e^{..} in sums, a function of a whole sum, layers as names, powers of calls,
    # an entry of a call inside a sum (read by index notation)
    (r"\log \sum_j e^{z_j}", "log(sum(exp(z)))", "z", []),
    (r"\frac{1}{2}\|W_2 a^{(1)} - y\|_2^2", "norm2(W2*a_1 - y)^2/2", "W2", []),
    (r"\tanh^2(w^T x)", "tanh(w'*x)^2", "w", []),
    (r"\sum_j \mathrm{softmax}(\mathbf{o})_j y_j", "softmax(o)'*y", "o", []),
]


@pytest.mark.parametrize("latex,ascii_text,wrt,assume", TWINS)
def test_latex_and_ascii_give_the_same_derivation(latex, ascii_text, wrt, assume):
    from_latex = matcalc.derive(latex, wrt=wrt, assume=assume)
    from_ascii = matcalc.derive(ascii_text, wrt=wrt, assume=assume)
    assert from_latex.result is from_ascii.result
    forced = matcalc.derive(latex, wrt=wrt, assume=assume, input="latex")
    assert forced.result is from_ascii.result


def test_unsupported_latex_names_the_construct_and_points_at_it():
    with pytest.raises(ParseError) as info:
        matcalc.derive(r"x^T A x + \int x", wrt="x")
    assert r"\int" in str(info.value) and info.value.column == 11


def test_cli_forces_latex_input_and_reports_errors_with_exit_2():
    ok = CliRunner().invoke(main, ["derive", r"x^\top A x", "--wrt", "x", "--input", "latex"])
    assert ok.exit_code == 0 and ok.output.rstrip().endswith("(A + A')*x")
    bad = CliRunner().invoke(main, ["derive", r"\nabla x", "--wrt", "x"])
    assert bad.exit_code == 2 and r"\nabla" in bad.output and "Traceback" not in bad.output


def test_markdown_report_has_every_part():
    d = matcalc.derive("-y'*log(softmax(W*x + b))", wrt="W", assume=["sum(y) = 1"])
    page = d._repr_markdown_()
    for part in ("### Derivation", "### Result", "Numerator layout", "```python", "sum(y) = 1",
                 r"\operatorname{diag}", "Wikipedia: Softmax function"):
        assert part in page
    assert d._repr_latex_().startswith("$$") and r"x^\top" in d._repr_latex_()
    result = CliRunner().invoke(main, ["derive", "x'*A*x", "--wrt", "x", "--format", "markdown"])
    assert result.exit_code == 0 and r"\left(A + A^\top\right) x" in result.output
