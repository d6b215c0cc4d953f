"""One budget every path honours, and a CLI that never exits 0 on input it did not process (issue 25).

- Derivation files: 100,000 lines stop at `--time-limit 2` with the budget's message (they ran 67 s past a
  10 s budget); a shape error on line 3 of 800 lines costs one more typing, not one per line (77 s), and
  finds exactly the lines the old one-typing-per-line search found; the lines compiled together give the
  verdicts line-by-line evaluation gives; a derivation over the size limit is refused up front.
- A budget once passed stays passed: work that swallowed BudgetExceeded cannot return a verdict.
- The library's bare errors are TypeErrors that say what was expected (`shapes=b"x"`,
  `verify_steps(None)`); a constant function prints no autograd warning.
- The CLI: an expression that starts with '-' is the expression (`-y'*log(softmax(W2*tanh(W1*x)))` printed
  the usage text and exited 0), a misspelled option is refused (exit 2), a closed pipe ends quietly.

No test asserts a time: a subprocess timeout only turns a hang into a failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
import oracle
from matcalc.budget import Budget, BudgetExceeded, limit
from matcalc.check import derivation_file as D
from matcalc.check import numeric
from matcalc.check.chain_file import verify_chain
from matcalc.cli.app import main
from matcalc.errors import MatcalcError, ShapeError

DATA = Path(__file__).resolve().parent / "data"
SHAPE_ERROR_FILE = "shape: x=n y=k\nx'*A*x\nx'*A*y\n" + "x'*A*x\n" * 800


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def matcalc_process(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"matcalc {' '.join(args)[:80]} ran past {timeout} s")


# ---------------------------------------------------------------- derivation files and the budget


@pytest.mark.parametrize("name, text", [
    ("100,000 equal lines", "x'*A*x\n" * 100_000),
    ("25,000 distinct lines", "".join(f"x'*A*x + {k}*alpha - {k}*alpha\n" for k in range(25_000))),
    ("a chain-rule file of 40,000 lines", "L: x'*A*x\n" + "dL/dx = (A + A')*x\n" * 40_000),
])
def test_a_long_derivation_stops_at_the_time_limit(tmp_path, name, text):
    path = tmp_path / "long.txt"
    path.write_text(text)
    # half a second: the equal lines finish in about 2 s on a quiet machine, so a budget of 2 s would test
    # the machine's speed, not the budget
    done = matcalc_process("check", "--derivation", str(path), "--time-limit", "0.5")
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert done.stderr.startswith("error: ") and "time budget of 0.5 s" in done.stderr, done.stderr
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1


def test_a_shape_error_costs_one_more_typing_not_one_per_line(monkeypatch):
    calls = []
    real = D.elaborate_many
    monkeypatch.setattr(D, "elaborate_many", lambda *a, **k: calls.append(1) or real(*a, **k))
    v = matcalc.verify_steps(SHAPE_ERROR_FILE)
    assert not v.ok and v.first_bad == 3 and v.steps[-1].kind == "shape"
    assert "x'*A*y: 1×n times k×1" in v.diagnosis
    assert len(calls) == 2                   # all lines (fails at line 3), then the line above it


def test_the_shape_error_file_through_the_cli():
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(SHAPE_ERROR_FILE)
    result = cli("check", "--derivation", fh.name, "--time-limit", "60")
    Path(fh.name).unlink()
    assert result.exit_code == 1 and "line 3 cannot follow" in result.stdout, result.output[-1000:]


def _one_typing_per_line(ck):
    """The search as it was: drop the last line until the rest types (the oracle for the new one)."""
    from matcalc.engine.assumptions import parse_assumptions
    from matcalc.language.shapes import elaborate_many

    a = parse_assumptions(ck.assume)
    head = [ck.expression] if ck.expression is not None else []
    n, error = len(ck.texts), None
    while n >= 1:
        try:
            elaborate_many((head + ck.texts)[0], ck.shapes, tuple((head + ck.texts[:n])[1:]) + a.expressions())
            return n, error
        except ShapeError as err:
            if n == 1:
                raise ShapeError(str(err)) from None
            error = str(err)
            n -= 1


TYPINGS = [
    (["x'*A*x", "x'*A*y", "x'*A*x"], {"x": "n", "y": "k"}, [], None),
    (["x'*A*x", "A*y", "x"], {"x": "n", "y": "k"}, ["A symmetric"], None),        # an assumption fails
    (["A*x"] * 20 + ["A*y"] + ["A*x"] * 20, {"x": "n", "y": "k"}, [], None),
    (["A*x"] * 20 + ["y'*A"] + ["A*x"] * 5, {"x": "n", "y": "k"}, ["A*A = A"], None),  # bisected
    (["(A + A')*x", "2*A*x", "A*y", "x"], {"y": "k"}, [], ("x'*A*x", "x")),
    ([f"{k}*W*x" for k in range(1, 30)] + ["W*y"] + ["W*x"] * 9, {"x": "d", "y": "e", "W": "c,d"}, [], None),
    (["X*b", "b'*X", "X*b"], {"X": "m,n"}, ["X invertible"], None),
    (["x'*A*x", "sum(y)*x'*A*x"], {}, ["sum(y) = 1"], None),
]


@pytest.mark.parametrize("texts, shapes, assume, head", TYPINGS)
def test_the_lines_that_type_are_those_one_typing_per_line_finds(texts, shapes, assume, head):
    expression, wrt = head or (None, None)
    ck = D._StepsChecker(texts, list(range(1, len(texts) + 1)), texts, shapes, assume, expression, wrt,
                         "denominator")
    try:
        want = _one_typing_per_line(ck)
    except ShapeError:
        with pytest.raises(ShapeError):
            ck._type()
        return
    with limit(Budget(seconds=120)):
        assert ck._type() == want


def test_a_first_line_that_does_not_type_with_the_expression_is_named():
    with pytest.raises(ShapeError, match="line 3 and the expression"):
        matcalc.verify_steps("f: x'*A*x\nwrt: x\nA*y\n", shapes={"x": "n", "y": "k"})


def _verdict_of(text):
    return matcalc.verify_steps(text, budget=Budget(seconds=300)).as_dict()


@pytest.mark.parametrize("name", ["softmax_ce.txt", "softmax_ce_broken.txt", "softmax_batched.txt"])
def test_lines_compiled_together_judge_as_lines_compiled_alone(monkeypatch, name):
    text = (DATA / name).read_text()
    together = _verdict_of(text)
    real = D.compile_nodes
    monkeypatch.setattr(D, "compile_nodes", lambda outputs, *a, **k: real(outputs, *a, **k)
                        if len(outputs) == 1 else (_ for _ in ()).throw(ValueError("one at a time")))
    assert _verdict_of(text) == together


def test_a_wrong_line_deep_in_a_long_derivation_is_named():
    lines = [f"x'*A*x + {k}*alpha - {k}*alpha" for k in range(1500)]
    lines[1234] = "2*x'*A*x"
    lines[1235] = "x'*A*x"                              # right again: only the slip is named
    v = matcalc.verify_steps(lines, budget=Budget(seconds=300))
    assert not v.ok and v.first_bad == 1235
    bad = [s for s in v.steps if not s.ok]
    assert [s.line for s in bad] == [1235] and bad[0].kind == "factor" and "2" in bad[0].diagnosis


def test_a_derivation_over_the_size_limit_is_refused_up_front():
    with pytest.raises(MatcalcError, match="1,000,000"):
        matcalc.verify_steps("x'*x\n" * 300_000)
    with pytest.raises(MatcalcError, match="1,000,000"):
        matcalc.verify_steps(["x'*x"] * 300_000)


def test_a_budget_once_passed_stays_passed():
    b = Budget(seconds=60).start()
    with pytest.raises(BudgetExceeded):
        b.fail("stopped: a limit")
    with pytest.raises(BudgetExceeded, match="a limit"):
        b.check()                                          # however the first error was handled
    b.start()
    b.check()                                              # a new start is a new budget


def test_a_verdict_is_not_returned_from_work_the_budget_cut_short(monkeypatch):
    """The engine's helpers may catch a MatcalcError as 'cannot be evaluated here': a BudgetExceeded
    they swallow must still end the check."""
    from matcalc.check import checker

    real = checker.Checker.measured

    def swallowing(self, *args, **kwargs):
        try:
            from matcalc import budget

            budget._active[-1].fail("stopped: the memory budget (simulated)")
        except BudgetExceeded:
            pass                                           # swallowed, as an `except MatcalcError` would
        return real(self, *args, **kwargs)

    monkeypatch.setattr(checker.Checker, "measured", swallowing)
    with pytest.raises(BudgetExceeded, match="simulated"):
        matcalc.verify("x'*A*x", "x", "(A + A')*x")


# ---------------------------------------------------------------- the library's arguments


@pytest.mark.parametrize("call, phrase", [
    (lambda: matcalc.verify("x'*x", "x", "2*x", shapes=b"x"), "shapes must be a dict"),
    (lambda: matcalc.verify("x'*x", "x", "2*x", assume=b"x > 0"), "assume must be a list"),
    (lambda: matcalc.verify_steps(None), "derivation must be the file's text"),
    (lambda: matcalc.verify_steps(b"x\n= x"), "derivation must be the file's text"),
    (lambda: matcalc.verify_steps(["x", 3]), "derivation must be the file's text"),
    (lambda: matcalc.verify_steps("x'*x\n= x'*x", shapes=b"x"), "shapes must be a dict"),
    (lambda: matcalc.verify_steps("x'*x\n= x'*x", budget=10), "budget must be"),
    (lambda: verify_chain(None), "chain-rule derivation is the file's text"),
    (lambda: verify_chain("L: x'*x\ndL/dx = 2*x", shapes="x=3"), "shapes must be a dict"),
])
def test_bare_errors_are_type_errors_that_say_what_was_expected(call, phrase):
    with pytest.raises(TypeError, match=phrase):
        call()


def test_a_constant_function_prints_no_autograd_warning(tmp_path):
    path = tmp_path / "constant.txt"
    path.write_text("f: alpha*0 + 3\nwrt: alpha\n0\n= 0*1\n")
    done = matcalc_process("check", "--derivation", str(path))
    assert done.returncode == 0 and "CORRECT" in done.stdout, done.stdout + done.stderr
    assert done.stderr == ""


# ---------------------------------------------------------------- the command line


DASHED = "-y'*log(softmax(W2*tanh(W1*x))) + lam*W1"


def test_an_expression_that_starts_with_a_dash_is_checked_not_taken_for_options():
    result = cli("check", DASHED, "--wrt", "W1", "--claim", "x")
    assert "Usage:" not in result.output
    assert result.exit_code == 1 and "SHAPE MISMATCH" in result.stdout, result.output   # was exit 0
    scalar = "-y'*log(softmax(W2*tanh(W1*x))) + lam*norm2(W1)^2"
    right = str(matcalc.derive(scalar, wrt="W1"))
    result = cli("check", "--wrt", "W1", scalar, "--claim", right)
    assert result.exit_code == 0 and "CORRECT" in result.stdout, result.output


def test_an_expression_that_starts_with_a_dash_is_derived():
    text = "-y'*log(softmax(W2*tanh(W1*x)))"
    result = cli("derive", text, "--wrt", "W1", "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    served = json.loads(result.stdout)["result"]
    d = matcalc.derive(text, wrt="W1")
    for inst in oracle.instances(d, count=2, seed=3):        # the printed result against finite differences
        got = np.asarray(oracle.printed_value(d, inst, served), dtype=float)
        want = oracle.truth(d, inst)
        assert numeric.relative_error(got.reshape(want.shape), want) < oracle.TOLERANCE


@pytest.mark.parametrize("args, code, phrase", [
    (("derive", "-x'*x", "--wrtt", "x"), 2, "No such option"),
    (("check", "x'*x", "--wrt", "x", "--claim", "-2*x"), 1, "WRONG (sign)"),
    (("check", "x'*x", "--wrt", "x", "--claim=-2*x"), 1, "WRONG (sign)"),
    (("derive", "--no-steps", "-x'*x", "--wrt", "x"), 0, "-2*x"),
    (("derive", "-x'*x", "-x", "--wrt", "x"), 2, "unexpected extra argument"),
])
def test_dashes_options_and_claims(args, code, phrase):
    result = cli(*args)
    assert result.exit_code == code and phrase in result.output, (result.exit_code, result.output[-800:])
    assert "Traceback" not in result.output


def test_a_closed_pipe_ends_quietly():
    p = subprocess.Popen([sys.executable, "-m", "matcalc", "rules"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()                                       # the reader has gone before the first line
    try:
        _, stderr = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("matcalc rules did not end on a closed pipe")
    assert stderr == b"", stderr.decode(errors="replace")[-1000:]    # was "internal error (BrokenPipeError)"
    assert p.returncode == 141


# ---------------------------------------------------------------- found by the fuzz campaign


@pytest.mark.parametrize("call", [
    lambda: matcalc.verify("x'*A*x", "x", "2*A*x", shapes={"A": "²"}),        # ValueError from int('²')
    lambda: matcalc.derive("x'*x", "x", shapes={"x": "²*n"}),                 # the same, in a product size
    lambda: matcalc.verify("x'*x", "x", "x_i*2²"),                            # AttributeError in the index reader
])
def test_a_superscript_digit_is_refused_not_a_fault(call):
    with pytest.raises(MatcalcError, match="²"):
        call()


def test_a_dashed_expression_before_a_double_dash_is_not_read_as_options():
    result = cli("check", "--wrt", "alpha", "-al*foo((alha*x))", "--", "--time-limit", "5")
    assert result.exit_code == 2 and "Usage:" in result.output and "unexpected extra" in result.output
    result = cli("derive", "--wrt", "x", "--", "-x'*x")
    assert result.exit_code == 0 and result.stdout.strip().splitlines()[-1] == "-2*x"


SWELL_LAYERS = ("exp({})", "sigmoid({})", "tanh({})", "log(1 + ({}).^2)")


def _swell(k: int) -> str:
    u = "W*x"
    for i in range(1, k + 1):
        u = SWELL_LAYERS[(i - 1) % 4].format(f"A{i}*{u}")
    return f"sum({u})"


def test_shared_layers_in_numerator_layout_stop_at_the_budget():
    # the transpose of a 40-layer derivative walked its DAG as a tree: every node it met was interned
    # already, so no node was made, the budget was never looked at, and the campaign waited 8 minutes
    done = matcalc_process("derive", _swell(40), "--wrt", "W", "--layout", "numerator", "--time-limit", "3",
                           "--format", "json", timeout=120)
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr, done.stderr[-800:]
    assert done.returncode == 0 or done.stderr.startswith("error: stopped after"), done.stderr[-800:]


def test_gradient_code_that_interrupts_or_forks_is_judged_without_a_traceback(tmp_path):
    right = "(A + A.T) @ x"
    cases = {"interrupts": ("raise KeyboardInterrupt", 1, "raised KeyboardInterrupt"),
             "forks": (f"import os\n    os.fork()\n    return {right}", 0, "CORRECT")}
    for name, (body, code, phrase) in cases.items():
        path = tmp_path / f"{name}.py"
        path.write_text(f"import numpy as np\n\n\ndef grad(A, x):\n    {body}\n")
        done = matcalc_process("check", "--code", f"{path}:grad", "x'*A*x", "--wrt", "x", timeout=120)
        # the child died with the user's KeyboardInterrupt on the terminal; a forked copy answered too
        # (a right function judged WRONG) and then printed a BrokenPipeError when the parent had gone
        assert done.returncode == code and phrase in done.stdout + done.stderr, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (name, done.stderr[-800:])
