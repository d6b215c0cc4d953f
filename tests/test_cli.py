"""The command line: what a user sees, exit codes, and no traceback ever."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from matcalc.cli.app import main


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def test_default_derivation_shows_steps_and_the_result():
    result = run("derive")
    assert result.exit_code == 0
    assert "softmax Jacobian" in result.output
    assert "where  z = W*x + b,  s = softmax(z)" in result.output
    for line in ("∂f/∂z = -(diag(s) - s*s')*(y ./ s)", "= sum(y)*s - y", "= s - y", "∂f/∂W = (s - y)*x'"):
        assert line in result.output
    assert result.output.rstrip().endswith("(softmax(W*x + b) - y)*x'")


def test_expression_may_start_with_a_minus():
    result = run("derive", "-y'*log(softmax(W*x + b))", "--wrt", "b", "--assume", "sum(y) = 1")
    assert result.exit_code == 0
    assert result.output.rstrip().endswith("softmax(W*x + b) - y")


@pytest.mark.parametrize("fmt,needle", [
    ("latex", r"\operatorname{softmax}"),
    ("numpy", "def d_dW(W, b, x, y):"),
    ("json", '"result": "(softmax(W*x + b) - y)*x\'"'),
])
def test_output_formats(fmt, needle):
    result = run("derive", "-y'*log(softmax(W*x + b))", "--wrt", "W", "--assume", "sum(y) = 1", "--format", fmt)
    assert result.exit_code == 0
    assert needle in result.output
    if fmt == "json":
        data = json.loads(result.output)
        assert data["layout"] == "denominator" and data["steps"]


def test_numerator_layout_and_shapes_option():
    result = run("derive", "W*x + b", "--wrt", "x", "--shape", "W=3,4", "--layout", "numerator")
    assert result.exit_code == 0
    assert result.output.rstrip().endswith("W")
    assert "W 3×4" in result.output


@pytest.mark.parametrize("args,message", [
    (["derive", "W*x +", "--wrt", "W"], "ends too early"),
    (["derive", "W*x + b", "--wrt", "W", "--shape", "W=c,d", "--shape", "x=e"], "W*x: c×d times e×1"),
    (["derive", "foo(x)", "--wrt", "x"], "unknown function 'foo'"),
    (["derive", "tr(x)", "--wrt", "x"], "tr(x)"),
    (["derive", "det(A)", "--wrt", "A", "--shape", "A=3,4"], "square"),
    (["derive", "x'*A*x", "--wrt", "x", "--shape", "Wc,d"], "NAME=d1,d2"),
    (["derive", "x'*A*x", "--wrt", "x", "--assume", "A is lovely"], "forms understood"),
    (["derive", "x'*A*x", "--wrt", "z"], "does not appear"),
    (["derive", "x'*A*x"], "--wrt is required"),
    (["derive", "(" * 5000 + "x" + ")" * 5000, "--wrt", "x"], "nested deeper"),
])
def test_bad_input_exits_2_with_a_clear_message(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_layout_is_rejected_by_the_option():
    result = run("derive", "a'*x", "--wrt", "x", "--layout", "mixed")
    assert result.exit_code == 2


def test_rules_lists_every_table_with_sources():
    result = run("rules")
    assert result.exit_code == 0
    for table in ("functions", "operators", "simplify", "identities"):
        assert f"== {table}" in result.output
    assert "Matrix Cookbook" in result.output
    data = json.loads(run("rules", "--table", "identities", "--format", "json").output)
    assert len(data["identities"]) >= 30


def test_the_command_starts_as_a_process():
    done = subprocess.run([sys.executable, "-m", "matcalc.cli", "derive", "x'*A*x", "--wrt", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.rstrip().endswith("(A + A')*x")
    bad = subprocess.run([sys.executable, "-m", "matcalc.cli", "derive", "x'*", "--wrt", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "^" in bad.stderr


def test_steps_with_shapes_annotate_each_factor():
    """--shapes writes each step's shapes, as the batched-MLP post does; the product's shapes must chain
    (inner dimensions equal) and end at the gradient's shape, which is W2's."""
    import re

    result = CliRunner().invoke(main, ["derive", "-sum(Y .* log(softmax_rows(relu(X*W1 + b1')*W2 + b2')))/m",
                                       "--wrt", "W2", "--shape", "X=m,64", "--shape", "W1=64,32",
                                       "--shape", "W2=32,10", "--assume", "Y one-hot", "--shapes"])
    assert result.exit_code == 0, result.output
    step_lines = [line for line in result.output.splitlines() if re.match(r"\s+(\d+\.|=) ", line)]
    assert step_lines and all(line.rstrip().endswith("]") for line in step_lines), step_lines
    last = step_lines[-1]
    assert last.startswith("   7. ∂f/∂W2 = (1/m)*a'*(S - Y)"), last
    note = re.search(r"\[([^\]]*)\]$", last).group(1)
    factors, out = note.split(" → ")
    shapes = [s.split("×") for s in factors.split(" · ")]
    assert all(a[1] == b[0] for a, b in zip(shapes, shapes[1:])), note      # each product contracts
    assert (shapes[0][0], shapes[-1][1]) == tuple(out.split("×")) == ("32", "10")


def test_shapes_without_steps_flag_shows_steps():
    result = CliRunner().invoke(main, ["derive", "x'*A*x", "--wrt", "x", "--shapes"])
    assert result.exit_code == 0, result.output
    assert "steps:" in result.output and "[" in result.output
