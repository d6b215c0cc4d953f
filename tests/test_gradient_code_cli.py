"""`matcalc check --code FILE.py:FUNCTION`: the function in a child process that imports only that file;
exit codes as `check`, a one-line message for every way a function can fail, no traceback ever."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.check.code.child import InChild
from matcalc.cli.app import main

DATA = Path(__file__).parent / "data" / "gradient_code"
MLP = "-sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m"
MLP_SHAPES = ["--shape", "X=m,64", "--shape", "W1=64,128", "--shape", "b1=128", "--shape", "W2=128,64",
              "--shape", "b2=64", "--shape", "W3=64,10", "--shape", "b3=10", "--shape", "Y=m,10"]
SIX = "W1,b1,W2,b2,W3,b3"


def run(*args):
    result = CliRunner().invoke(main, ["check", *args])
    assert "Traceback" not in result.output
    return result


def code(file: str, function: str) -> str:
    return f"{DATA / file}:{function}"


def test_the_seed_backprop_is_right_and_shown_beside_matcalcs_formulas_and_numpy():
    r = run("--code", code("seed_mlp.py", "backprop"), MLP, "--wrt", SIX, *MLP_SHAPES, "--assume", "Y one-hot")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("verdict:   CORRECT")
    assert "your code:        backprop(X, Y, W1, b1, W2, b2, W3, b3)" in r.output
    assert "ok  ∂/∂W3 = (1/m)*A2'*(S - Y)" in r.output and "where Z1 = X*W1 + b1'" in r.output
    assert "matcalc's NumPy:" in r.output and "def gradients(" in r.output


def test_a_classic_bug_exits_1_with_its_diagnosis():
    r = run("--code", code("seed_mlp_bugs.py", "backprop_db3_no_mean"), MLP, "--wrt", SIX, *MLP_SHAPES,
            "--assume", "Y one-hot")
    assert r.exit_code == 1
    assert "verdict:   WRONG (factor)" in r.output
    assert "BAD ∂/∂b3 = (1/m)*(S' - Y')*ones(m)" in r.output and "the batch mean's 1/m is missing" in r.output
    assert "why:       b3 is wrong (W1, b1, W2, b2 and W3 right)." in r.output


def test_json_output():
    r = run("--code", code("kinds.py", "least_squares_missing_2"), "norm2(A*x - b)^2", "--wrt", "x",
            "--shape", "x=n", "--shape", "A=m,n", "--shape", "b=m", "--format", "json")
    assert r.exit_code == 1
    out = json.loads(r.output)
    assert out["kind"] == "factor" and out["gradients"]["x"]["kind"] == "factor"
    assert out["function"] == "least_squares_missing_2" and "def d_dx" in out["numpy_source"]


def test_markdown_output_for_a_notebook():
    r = run("--code", code("kinds.py", "tuple_swapped"), "-sum(Y .* log(softmax_rows(X*W + b')))/m", "--wrt", "W,b",
            "--shape", "W=d,k", "--shape", "b=k", "--shape", "X=m,d", "--shape", "Y=m,k", "--assume", "Y one-hot",
            "--format", "markdown")
    assert r.exit_code == 1
    assert r.output.startswith("**❌ wrong** (order) — `tuple_swapped(W, b, X, Y)`")
    assert "| ∂/∂W | ✗ order |" in r.output and "```python" in r.output


@pytest.mark.parametrize("function,expression,wrt,code_,words", [
    ("raises_outer", "a'*X*b", "X", 1, "raised ValueError"),
    ("nan_placeholder", "x'*A*x", "x", 1, "returned NaN at entry 0"),
    ("returns_list", "x'*A*x", "x", 1, "a Python list"),
    ("forgot_return", "x'*A*x", "x", 1, "None (is a return statement missing?)"),
    ("forgot_increment", "x'*A*x", "x", 2, "did not return within the time limit of 2 s"),
    ("dense_jacobian", "sum(exp(x))", "x", 2, "728. TiB"),
])
def test_a_function_that_cannot_be_judged_gets_one_line(function, expression, wrt, code_, words):
    r = run("--code", code("kinds.py", function), expression, "--wrt", wrt, "--time-limit", "2")
    assert r.exit_code == code_, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: your function {function} ") and words in lines[0]


def test_memory_past_the_budget_is_stopped_in_the_child(tmp_path):
    f = tmp_path / "hungry.py"
    f.write_text("import numpy as np\n\ndef grad(x):\n    big = np.ones((8000, 8000))   # 512 MB, touched\n"
                 "    return 2 * x + 0 * big[0, : x.shape[0]]\n")
    r = run("--code", f"{f}:grad", "x'*x", "--wrt", "x", "--memory-limit", "100")
    assert r.exit_code == 2 and "ran out of memory" in r.output and "--memory-limit" in r.output
    assert run("--code", f"{f}:grad", "x'*x", "--wrt", "x", "--memory-limit", "2000").exit_code == 0


def test_a_function_that_kills_its_process_is_a_crash(tmp_path):
    f = tmp_path / "dies.py"
    f.write_text("import os\n\ndef grad(x):\n    os._exit(3)\n")
    r = run("--code", f"{f}:grad", "x'*x", "--wrt", "x")
    assert r.exit_code == 1 and "ended its process (exit code 3)" in r.output


@pytest.mark.parametrize("args,message", [
    (["--code", "nowhere.py:grad", "x'*x", "--wrt", "x"], "no such file"),
    (["--code", "kinds.py", "x'*x", "--wrt", "x"], "FILE.py:FUNCTION"),
    (["--code", "KINDS:nope", "x'*x", "--wrt", "x"], "has no 'nope' (its functions:"),
    (["--code", "KINDS:quad_form_torch", "x'*x", "--wrt", "x", "--claim", "2*x"], "give no --claim"),
    (["--code", "KINDS:quad_form_torch", "--wrt", "x"], "give the EXPRESSION"),
    (["--code", "KINDS:quad_form_torch", "x'*x"], "--wrt is required"),
    (["--code", "KINDS:raises_outer", "x'*A*x", "--wrt", "x"], "takes 'a', 'X', 'b', which are not"),
    (["--code", "KINDS:quad_form_torch", "x'*A*(x", "--wrt", "x"], "unclosed '('"),
])
def test_bad_input_exits_2(args, message):
    args = [a.replace("KINDS", str(DATA / "kinds.py")) for a in args]
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.startswith("error: ")


def test_a_file_that_does_not_import_is_bad_input(tmp_path):
    (tmp_path / "broken.py").write_text("def grad(x)\n    return x\n")
    (tmp_path / "raising.py").write_text("raise RuntimeError('module-level trouble')\n")
    r = run("--code", f"{tmp_path / 'broken.py'}:grad", "x'*x", "--wrt", "x")
    assert r.exit_code == 2 and "broken.py does not parse" in r.output
    r = run("--code", f"{tmp_path / 'raising.py'}:grad", "x'*x", "--wrt", "x")
    assert r.exit_code == 2 and "importing raising.py raised RuntimeError: module-level trouble" in r.output


def test_only_the_named_file_is_imported(tmp_path, monkeypatch):
    """A numpy.py beside the user's file, or in the working directory, shadows nothing; the file's own
    import of a helper beside it works (its folder is on the path, last)."""
    bomb = "raise SystemExit('a file beside the user code was imported in place of numpy')\n"
    (tmp_path / "numpy.py").write_text(bomb)
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    (tmp_path / "grad.py").write_text("import numpy as np\nfrom helper import double\n\n"
                                      "def grad(x):\n    return double(np.asarray(x))\n")
    monkeypatch.chdir(tmp_path)
    r = run("--code", "grad.py:grad", "x'*x", "--wrt", "x")
    assert r.exit_code == 0, r.output


def test_a_file_that_imports_matcalc_itself_gets_the_whole_package(tmp_path):
    (tmp_path / "uses.py").write_text("import matcalc\n\nGRAD = matcalc.derive(\"x'*A*x\", wrt='x').to_numpy()\n\n"
                                      "def grad(x, A):\n    return GRAD(x=x, A=A)\n")
    r = run("--code", f"{tmp_path / 'uses.py'}:grad", "x'*A*x", "--wrt", "x")
    assert r.exit_code == 0, r.output


def test_the_users_prints_and_stdin_do_not_disturb_the_check(tmp_path):
    (tmp_path / "noisy.py").write_text("import sys\n\ndef grad(x):\n    print('x' * 100000)\n"
                                       "    sys.stdin.read()\n    return 2 * x\n")
    r = run("--code", f"{tmp_path / 'noisy.py'}:grad", "x'*x", "--wrt", "x")
    assert r.exit_code == 0 and "CORRECT" in r.output


def test_the_child_is_gone_after_a_timeout():
    child = InChild(str(DATA / "kinds.py"), "forgot_increment", seconds=30)
    child.parameters()
    with pytest.raises(matcalc.MatcalcError, match="did not return"):
        child({"x": np.ones(3), "A": np.eye(3)}, ["x"], True, 1.0)
    assert child.proc.poll() is not None
    child.close()


def test_the_library_runs_a_named_file_in_a_child_too():
    v = matcalc.check_gradient(code("right.py", "seed_mlp_per_sample"), MLP, wrt=SIX.split(","),
                               shapes=dict(s.split("=") for s in MLP_SHAPES[1::2]), assume=["Y one-hot"])
    assert v.ok, v.diagnosis
    v = matcalc.check_gradient(code("kinds.py", "shift_in_place"), "norm2(x - c)^2", wrt="x")
    assert not v.ok and v.kind == "in-place" and "changes its input x" in v.diagnosis
