"""Hostile and large input (issue 13): every input is derived, checked or refused with a clear message,
in bounded time and memory, and the same input gives the same output in every process.

- Fuzz: seeded random expressions of the grammar (tests/expression_grammar.py) derive, and their
  compiled derivatives agree with HIPS autograd on our own reader of the language (tests/plain_eval.py);
  the same expressions through the CLI, and mutated (mostly invalid) text through the CLI and the
  library, either work or are refused with exit 2 and a message — never a traceback, never an
  "internal error".
- Determinism across processes: ~50 expressions, including the issue's reproducer, derived in three
  processes with different PYTHONHASHSEED values print the same results.
- Each small hostile input of the issue (huge numbers and exponents, matrix powers, shapes, files,
  sizes, training data) is a regression test. No test asserts a time: the CLI runs with --time-limit so
  that a hang becomes a failure (a budget message) instead of a stuck suite; the two inputs the budget
  does not cover run in a subprocess with a timeout.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import expression_grammar as G
import matcalc
import plain_eval as P
from matcalc.budget import Budget
from matcalc.cli.app import main

TESTS = Path(__file__).resolve().parent
TIME_LIMIT = "60"           # seconds: generous, only there to turn a hang into a failure
SIGNATURE = "A:n,n x:n y:n alpha:"
ISSUE_EXPRESSION = "((exp(0.3*((A*x) ./ (1 + (C'*y).^2))) + x))'*((C'*y) .* ((A*x)/2).^2)"
ISSUE_SIGNATURE = "A:n,n C:p,n x:n y:p"


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def assert_no_fault(result) -> None:
    """No traceback, no internal error, no exception escaping the command (sys.exit is fine)."""
    text = result.output
    assert "Traceback" not in text, text[-2000:]
    assert "internal error" not in text, text[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def assert_refused(result, *phrases: str) -> str:
    """Exit 2 with one message: 'error: …' on the first line of stderr (a parse error adds the quoted
    line and a caret under the column), nothing on stdout; the message contains every phrase."""
    assert_no_fault(result)
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:])
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr[-2000:]
    assert len(lines) <= 3, result.stderr[-2000:]
    assert result.stdout == ""
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)
    return result.stderr


def arrays_for(d, env: dict) -> dict:
    """plain_eval's 2-D arrays as the compiled derivative takes them: vectors 1-D, scalars floats."""
    out = {}
    for name, value in env.items():
        if name not in d.typed.names:
            continue
        r, c = d.shapes[name]
        out[name] = float(value[0, 0]) if (r, c) == (1, 1) else value[:, 0] if c == 1 else value
    return out


def error_against_autograd(d, text: str, wrt: str, signature: str, seed: int) -> float | None:
    """Relative error of matcalc's compiled derivative against autograd on plain_eval's reading of
    `text`, on one random instance; None when the truth itself is not finite there."""
    env, dims = P.draw(signature, {}, seed)
    truth = P.derivative(text, wrt, env, dims, d.layout)
    if not np.all(np.isfinite(truth)):
        return None
    with np.errstate(all="ignore"):
        got = np.asarray(d.to_numpy()(**arrays_for(d, env)), dtype=float)
    if got.shape != truth.shape and got.size == truth.size:
        got = got.reshape(truth.shape)
    return P.relative_error(got, truth)


# ---------------------------------------------------------------- fuzz: valid expressions


@pytest.mark.parametrize("seed, depth, count", [(2024, 3, 200), (77, 4, 40)])
def test_random_expressions_derive_and_agree_with_autograd(seed, depth, count):
    skipped = 0
    for i, (text, wrt) in enumerate(G.seeded_expressions(count, seed, depth)):
        d = matcalc.derive(text, wrt=wrt, shapes=G.SHAPES, budget=Budget(seconds=60))
        err = error_against_autograd(d, text, wrt, SIGNATURE, i)
        if err is None:
            skipped += 1
            continue
        assert err < 1e-6, (text, wrt, str(d), err)
    assert skipped <= count // 20


def test_random_expressions_through_the_cli():
    for text, wrt in G.seeded_expressions(60, 5, 3):
        result = cli("derive", text, "--wrt", wrt, *G.SHAPE_OPTIONS, "--time-limit", TIME_LIMIT)
        assert_no_fault(result)
        assert result.exit_code == 0, (text, result.output)
        assert result.stderr == ""
        assert result.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- fuzz: mutated text


def test_mutated_expressions_through_the_cli_derive_or_are_refused():
    rng = random.Random(13)
    refused = 0
    for text, wrt in G.seeded_expressions(150, 31, 3):
        bad = G.mutate(rng, text, times=rng.randint(1, 3))
        result = cli("derive", bad, "--wrt", wrt, *G.SHAPE_OPTIONS, "--time-limit", TIME_LIMIT)
        assert_no_fault(result)
        assert result.exit_code in (0, 2), (bad, result.output)
        if result.exit_code == 2:
            assert_refused(result)
            refused += 1
    assert refused >= 75  # most mutations break the text; the rest must still derive


def test_mutated_claims_are_judged_or_refused():
    """`check` of a valid expression against matcalc's own answer changed three ways: mutated text (a
    verdict, exit 0 or 1, or a refusal, exit 2 — never a fault), doubled (WRONG, exit 1) and split into
    two halves (CORRECT, exit 0)."""
    rng = random.Random(7)
    for text, wrt in G.seeded_expressions(20, 8, 2):
        answer = str(matcalc.derive(text, wrt=wrt, shapes=G.SHAPES))
        claims = [(G.mutate(rng, answer, times=rng.randint(1, 2)), None), (f"2*({answer})", 1),
                  (f"({answer})/2 + ({answer})/2", 0)]
        for claim, expected in claims:
            result = cli("check", text, "--wrt", wrt, "--claim", claim, *G.SHAPE_OPTIONS,
                         "--time-limit", TIME_LIMIT)
            assert_no_fault(result)
            if expected is not None:
                assert result.exit_code == expected, (text, claim, result.output)
            elif result.exit_code == 2:
                assert_refused(result)
            else:
                assert result.exit_code in (0, 1), (text, claim, result.output)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), times=st.integers(0, 4), depth=st.integers(0, 3))
def test_library_derives_or_raises_matcalc_error(seed, times, depth):
    rng = random.Random(seed)
    text, wrt = G.expression(rng, depth)
    text = G.mutate(rng, text, times)
    try:
        d = matcalc.derive(text, wrt=wrt, shapes=G.SHAPES, budget=Budget(seconds=60))
    except matcalc.MatcalcError as err:
        assert str(err).strip()
        return
    assert str(d)
    if times == 0:  # unmutated: the derivative must also be right
        err = error_against_autograd(d, text, wrt, SIGNATURE, seed % 1000)
        assert err is None or err < 1e-6, (text, wrt, str(d), err)


# ---------------------------------------------------------------- determinism across processes

_DETERMINISM_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import expression_grammar as G
import matcalc
from click.testing import CliRunner
from matcalc.budget import Budget
from matcalc.cli.app import main

cases = [(text, wrt, G.SHAPES) for text, wrt in G.seeded_expressions(48, 13, 4)]
cases.append((sys.argv[2], "y", None))
cases.append((sys.argv[2], "x", None))
out = []
for text, wrt, shapes in cases:
    try:
        d = matcalc.derive(text, wrt=wrt, shapes=shapes, budget=Budget(seconds=60))
        out.append([str(d), d.shared, d.latex, d.numpy_source])
    except matcalc.MatcalcError as err:
        out.append(["error", str(err)])
r = CliRunner().invoke(main, ["derive", sys.argv[2], "--wrt", "y", "--steps", "--time-limit", "60"])
out.append([r.exit_code, r.output])
print(json.dumps(out))
"""


def test_same_results_in_processes_with_different_hash_seeds():
    procs = []
    for hash_seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        procs.append(subprocess.Popen([sys.executable, "-c", _DETERMINISM_SCRIPT, str(TESTS), ISSUE_EXPRESSION],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True))
    outputs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout))
    first = outputs[0]
    assert len(first) == 51
    assert sum(1 for entry in first[:48] if entry[0] != "error") == 48  # every grammar expression derived
    assert first[48][0] != "error" and first[49][0] != "error", first[48:50]
    assert first[50][0] == 0, first[50]
    for other in outputs[1:]:
        for k, (a, b) in enumerate(zip(first, other)):
            assert a == b, (k, a, b)


def test_issue_reproducer_is_right():
    d = matcalc.derive(ISSUE_EXPRESSION, wrt="y")
    for seed in range(3):
        err = error_against_autograd(d, ISSUE_EXPRESSION, "y", ISSUE_SIGNATURE, seed)
        assert err is not None and err < 1e-8, (str(d), err)


# ---------------------------------------------------------------- numbers and exponents


@pytest.mark.parametrize("args, phrase", [
    (("derive", "1e9999999999*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "alpha*2^1e10", "--wrt", "alpha"), "out of range"),
    (("derive", "1.5^1e10*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "0.5^1e9*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "2^1000000000*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "1e1000000*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "1e309*alpha", "--wrt", "alpha", "--format", "numpy"), "out of range"),
    (("derive", "10^{1000000} x^T x", "--wrt", "x", "--input", "latex"), "out of range"),
    (("check", "1e309*x", "--wrt", "x", "--claim", "ones(n)"), "out of range"),
    (("check", "alpha^1000000", "--wrt", "alpha", "--claim", "1000000*alpha^999999"), "x.^p"),
    (("derive", "sum(x.^1e13)", "--wrt", "x"), "out of range"),
    (("derive", "sum((2*ones(n)).^1000000)*alpha", "--wrt", "alpha"), "out of range"),
    (("derive", "tr(X^3000)", "--wrt", "X"), "matrix power"),
    (("derive", "X^1000000", "--wrt", "X"), "matrix power"),
    (("derive", "A*x", "--wrt", "x", "--shape", "A=²"), "dimension"),
    (("derive", "A*x", "--wrt", "x", "--shape", "x=3", "--shape", "x=4"), "twice"),
    (("derive", "x'*A*x", "--wrt", "x", "--direction", "V"), "--order 2"),
])
def test_hostile_numbers_and_options_are_refused(args, phrase):
    assert_refused(cli(*args, "--time-limit", TIME_LIMIT), phrase)


def test_elementwise_power_of_a_variable_derives_and_checks():
    """x.^1000000 is one node: derived and checked (issue 12), while 2^1000000 is never folded."""
    right = cli("check", "sum(x.^1000000)", "--wrt", "x", "--claim", "1000000*x.^999999", "--time-limit", TIME_LIMIT)
    assert_no_fault(right)
    assert right.exit_code == 0 and "CORRECT" in right.stdout, right.output
    wrong = cli("check", "sum(x.^1000000)", "--wrt", "x", "--claim", "1000*x.^999", "--time-limit", TIME_LIMIT)
    assert_no_fault(wrong)
    assert wrong.exit_code == 1 and "WRONG" in wrong.stdout, wrong.output
    d = matcalc.derive("sum(x.^1000000)", wrt="x")
    x = 1 + 1e-7 * np.arange(-2, 3)
    np.testing.assert_allclose(d.to_numpy()(x=x), 1e6 * x ** 999999, rtol=1e-12)


# ---------------------------------------------------------------- shapes and sizes


@pytest.mark.parametrize("shapes, error", [
    ("%", TypeError), (b"x=3", TypeError), ({"x": b"3"}, TypeError), ({3: "n"}, TypeError),
    ({"x": "%"}, matcalc.MatcalcError), ({"x": "0"}, matcalc.MatcalcError),
])
def test_library_checks_its_shapes_argument(shapes, error):
    with pytest.raises(error) as info:
        matcalc.derive("sum(x)", wrt="x", shapes=shapes)
    assert "shape" in str(info.value) or "dimension" in str(info.value)


@pytest.mark.parametrize("expression, claim, shape", [
    ("x'*A*x", "(A + A')*x", "x=5000"),
    ("tr(X'*X)", "2*X", "X=8000,8000"),
])
def test_large_declared_sizes_are_checked_on_small_instances(expression, claim, shape):
    wrt = "x" if shape.startswith("x") else "X"
    result = cli("check", expression, "--wrt", wrt, "--claim", claim, "--shape", shape, "--time-limit", TIME_LIMIT)
    assert_no_fault(result)
    assert result.exit_code == 0 and "CORRECT" in result.stdout, result.output


def test_valid_expressions_the_issue_found_refused_now_derive():
    deep = "sum(log(1 + ((A*x)/2 + ((norm2(x)*A')*arctan(0.3*(A*x)))).^2))"
    d = matcalc.derive(deep, wrt="x", shapes={"A": ("n", "n"), "x": ("n",)})
    for seed in range(2):
        err = error_against_autograd(d, deep, "x", "A:n,n x:n", seed)
        assert err is not None and err < 1e-8
    flat = " + ".join(f"{k}*sum(x.^2)" for k in range(1, 201))
    d = matcalc.derive(flat, wrt="x")
    x = np.arange(1.0, 5.0)
    np.testing.assert_allclose(d.to_numpy()(x=x), 2 * sum(range(1, 201)) * x)
    d = matcalc.derive("tr(alpha*I(3))*x", wrt="alpha")
    np.testing.assert_allclose(np.ravel(d.to_numpy()(alpha=0.7, x=x)), 3 * x)


def test_sums_of_vectors_of_different_lengths_derive():
    d = matcalc.derive("alpha*(sum(y) + sum(x))", wrt="alpha")
    assert d.to_numpy()(alpha=2.0, x=np.ones(3), y=np.ones(5)) == pytest.approx(8.0)


@pytest.mark.parametrize("assumption, phrase", [
    ("A = -A'", "circular"), ("A = A*A", "circular"), ("1 = 2", "contradictory"),
])
def test_looping_or_contradictory_assumptions_are_refused(assumption, phrase):
    assert_refused(cli("derive", "x'*A*x", "--wrt", "x", "--assume", assumption, "--time-limit", TIME_LIMIT), phrase)


# ---------------------------------------------------------------- swell: k mixed layers


LAYERS = ("exp({})", "sigmoid({})", "tanh({})", "log(1 + ({}).^2)")


def swell(k: int) -> str:
    """k layers of mixed exp / sigmoid / tanh / log(1 + u.^2) over A_i*u, innermost W*x: inlined, the
    derivative wrt W doubles with each layer."""
    u = "W*x"
    for i in range(1, k + 1):
        u = LAYERS[(i - 1) % 4].format(f"A{i}*{u}")
    return f"sum({u})"


@pytest.mark.parametrize("fmt", ["text", "numpy", "latex", "json"])
def test_swell_outputs_stay_small(fmt):
    """At k = 40 the inlined derivative would be about 7e8 characters; every output format works on
    the shared DAG (the named form), so each stays a few kilobytes."""
    result = cli("derive", swell(40), "--wrt", "W", "--format", fmt, "--time-limit", TIME_LIMIT)
    assert_no_fault(result)
    assert result.exit_code == 0, result.output[-2000:]
    assert len(result.stdout) < 400_000, len(result.stdout)


def test_swell_markdown_report_stays_small():
    result = cli("derive", swell(16), "--wrt", "W", "--format", "markdown", "--time-limit", TIME_LIMIT)
    assert_no_fault(result)
    assert result.exit_code == 0
    assert len(result.stdout) < 100_000, len(result.stdout)


def test_swell_hessian_vector_product_stays_small():
    result = cli("derive", swell(12), "--wrt", "W", "--order", "2", "--direction", "V", "--time-limit", TIME_LIMIT)
    assert_no_fault(result)
    assert result.exit_code == 0, result.output[-2000:]
    assert len(result.stdout) < 100_000, len(result.stdout)


def test_swell_derivative_is_right():
    d = matcalc.derive(swell(8), wrt="W")
    signature = "W:a,b x:b " + " ".join(f"A{i}:a,a" for i in range(1, 9))
    for seed in range(2):
        err = error_against_autograd(d, swell(8), "W", signature, seed)
        assert err is not None and err < 1e-8, err


# ---------------------------------------------------------------- files


def test_endless_derivation_file_is_refused():
    assert_refused(cli("check", "--derivation", "/dev/zero", "--time-limit", TIME_LIMIT), "larger than")


def test_long_latex_line_is_refused():
    text = "x^T x + " * 300_000 + "x^T x"  # 2.4 MB
    assert_refused(cli("derive", text, "--wrt", "x", "--input", "latex", "--time-limit", TIME_LIMIT))


def test_shape_error_late_in_a_long_derivation_is_named(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("shape: A=n,n\nx'*A*x\nx'*A\n" + "= x'*A*x\n" * 800)
    result = cli("check", "--derivation", str(path), "--time-limit", TIME_LIMIT)
    assert_no_fault(result)
    assert result.exit_code == 1 and "line 3" in result.stdout, result.output[-2000:]


def test_derivation_file_errors_do_not_echo_its_contents(tmp_path):
    path = tmp_path / "shadow"
    path.write_text("root:$6$hunter2secrethash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    message = assert_refused(cli("check", "--derivation", str(path), "--time-limit", TIME_LIMIT))
    assert "hunter2" not in message


@pytest.mark.parametrize("claim, code", [("16777216*ones(n)", 0), ("8388608*ones(n)", 1)])
def test_let_bomb_is_judged_quickly(tmp_path, claim, code):
    """24 lets that each double the one before stand for 2^24 copies of x written out; as definitions they
    are 24 shared nodes, so the derivation file is judged (right and wrong) well within the limit."""
    lines = ["shape: x=n", "let a1 = x + x"] + [f"let a{i} = a{i - 1} + a{i - 1}" for i in range(2, 25)]
    path = tmp_path / "bomb.txt"
    path.write_text("\n".join(lines + ["f: sum(a24)", "wrt: x", claim]) + "\n")
    try:
        done = subprocess.run([sys.executable, "-m", "matcalc", "check", "--derivation", str(path),
                               "--time-limit", "10"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the let bomb ran past 20 s despite --time-limit 10")
    assert done.returncode == code, done.stdout[-1000:] + done.stderr[-1000:]
    assert ("CORRECT" if code == 0 else "WRONG") in done.stdout


def test_python_dash_m_matcalc_runs():
    done = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x'*A*x", "--wrt", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "(A + A')*x"


# ---------------------------------------------------------------- training data


def _npy_header(shape, descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _labels() -> bytes:
    return _npy_header((10,), "<i8") + np.arange(10, dtype="<i8").tobytes()


def test_zip_bomb_npz_is_refused_before_unpacking(tmp_path):
    """210 MB of zeros that deflate to about 200 kB: refused from the declared member sizes."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as fh:
            fh.write(_npy_header((210 * 2**20 // 8 // 64, 64)))
            chunk = bytes(2**20)
            for _ in range(210):
                fh.write(chunk)
        archive.writestr("y.npy", _labels())
    assert path.stat().st_size < 1_000_000
    assert_refused(cli("train", "--data", str(path), "--epochs", "1"), "MB", "bomb.npz")


def test_npy_header_declaring_a_huge_shape_is_refused(tmp_path):
    """A member of a few bytes whose header claims 10^9 × 64 floats: refused from the header alone."""
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", _npy_header((10**9, 64)))
        archive.writestr("y.npy", _labels())
    assert_refused(cli("train", "--data", str(path), "--epochs", "1"), "(1000000000, 64)", "MB")


def test_corrupt_npy_header_is_named(tmp_path):
    path = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8, }  \n")
        archive.writestr("y.npy", _labels())
    assert_refused(cli("train", "--data", str(path), "--epochs", "1"), "header", "X.npy")


def test_huge_label_is_refused_before_one_hot(tmp_path):
    path = tmp_path / "label.npz"
    y = np.arange(60) % 3
    y[7] = 3_000_000
    np.savez(path, X=np.random.default_rng(0).standard_normal((60, 4)), y=y)
    assert_refused(cli("train", "--data", str(path), "--epochs", "1"), "3000000", "10,000")


def test_one_hot_targets_too_large_are_refused(tmp_path):
    from matcalc.train.demo import prepare_data

    path = tmp_path / "many.npz"
    n = 40_000
    np.savez(path, X=np.random.default_rng(0).standard_normal((n, 2)), y=np.arange(n) % 9_000)
    with pytest.raises(matcalc.MatcalcError, match="one-hot"):
        prepare_data(str(path), 0)


def test_ordinary_npz_still_trains_its_split(tmp_path):
    from matcalc.train.demo import prepare_data

    path = tmp_path / "ok.npz"
    rng = np.random.default_rng(1)
    np.savez(path, X=rng.standard_normal((50, 3)), y=np.arange(50) % 4)
    Xtr, Xte, ytr, yte = prepare_data(str(path), 0)
    assert Xtr.shape == (40, 3) and Xte.shape == (10, 3)
    assert sorted(set(ytr) | set(yte)) == [0, 1, 2, 3]
    np.testing.assert_allclose(Xtr.mean(axis=0), 0, atol=1e-12)
