"""How fast matcalc derives, next to SymPy's MatrixSymbol.diff, and how it scales with network depth.

Run from a checkout (`python benchmarks/derive_bench.py`) or with matcalc pip-installed. One run prints:

(a) matcalc vs SymPy on the four expressions SymPy's matrix calculus handles, the softmax
    cross-entropy (matcalc alone: SymPy raises or answers wrongly) and log(det(X));
(b) an L-layer MLP loss differentiated with respect to W1, for L = 1 .. 32;
(c) the start-up time of `python -m matcalc.cli derive ...`;
(d) PASS/MISS against the goals;
(e) Hessians; (f) the guard's cost: every derivation is compared numerically with the expression before it
    is returned (check/guard.py), timed apart from the derivation itself.

Timing: `time.perf_counter`, median of repeats. "cold" is the first call for that expression in this
process (after one warm-up derivation of an unrelated expression, so it does not include loading the
grammar and rule tables; that one-off cost is printed separately). matcalc keeps a module-level memo
table across calls (`factoring._factor_memo`, keyed by hash-consed nodes), so a repeated call of the
same expression is faster than a first one; "fresh" clears such tables (and SymPy's cache) before
every repeat, "warm" does not. The goals are judged on the fresh medians.
"""

from __future__ import annotations

import importlib.util
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "matcalc" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a checkout: benchmark the code next to this script

import matcalc  # noqa: E402

CE = "-y'*log(softmax(W*x + b))"
CE_ASSUME = ["sum(y) = 1"]
DEPTHS = (1, 2, 4, 8, 16, 32)
GOAL_CE_MS = 5.0
GOAL_SPEEDUP = 3.0
GOAL_GROWTH = 3.0
GOAL_CLI_S = 1.0


# ---------------------------------------------------------------------------------------------- timing


def clear_matcalc_memos() -> list[str]:
    """Empty matcalc's module-level memo dicts (not the interning table, not lru_caches of rule texts)."""
    cleared = []
    for name, module in list(sys.modules.items()):
        if not (name == "matcalc" or name.startswith("matcalc.")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if type(value) is dict and "memo" in attr.lower():
                value.clear()
                cleared.append(f"{name}.{attr}")
    return cleared


def clear_sympy_cache() -> None:
    from sympy.core.cache import clear_cache

    clear_cache()


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def repeat_ms(fn, repeats: int, before=None) -> float:
    """Median wall time (ms) of `repeats` calls; `before` runs untimed ahead of each call."""
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        times.append(timed(fn)[0])
    return statistics.median(times)


def measure(fn, repeats: int, clear) -> dict:
    """cold (first call), fresh median (`clear` before each call), warm median (nothing cleared)."""
    cold, out = timed(fn)
    fresh = repeat_ms(fn, repeats, clear)
    warm = repeat_ms(fn, repeats)
    return {"cold": cold, "fresh": fresh, "warm": warm, "out": out}


def derive_fn(expr: str, wrt: str, assume=()):
    return lambda: matcalc.derive(expr, wrt=wrt, assume=assume)


def table(headers: list[str], rows: list[list[str]], right=()) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


# ------------------------------------------------------------------------------------ (a) vs SymPy


def sympy_cases():
    import sympy as sp

    n = sp.Symbol("n")
    a = sp.MatrixSymbol("a", n, 1)
    x = sp.MatrixSymbol("x", n, 1)
    A = sp.MatrixSymbol("A", n, n)
    X = sp.MatrixSymbol("X", n, n)
    return [
        ("a'*x", "x", lambda: (a.T * x).diff(x), "(a.T*x).diff(x)"),
        ("x'*A*x", "x", lambda: (x.T * A * x).diff(x), "(x.T*A*x).diff(x)"),
        ("tr(A*X)", "X", lambda: sp.Trace(A * X).diff(X), "Trace(A*X).diff(X)"),
        ("tr(inv(X)*A)", "X", lambda: sp.Trace(X.I * A).diff(X), "Trace(X.I*A).diff(X)"),
    ]


def part_a(repeats: int = 30) -> dict:
    import sympy as sp

    print("=" * 100)
    print(f"(a) matcalc.derive vs SymPy MatrixSymbol.diff  (ms; median of {repeats}; "
          f"sympy {sp.__version__})")
    print("=" * 100)
    first, _ = timed(derive_fn("tr(B'*Y*C)", "Y"))
    sympy_first, _ = timed(lambda: sp.Trace(sp.MatrixSymbol("B", 3, 3) * sp.MatrixSymbol("Y", 3, 3))
                           .diff(sp.MatrixSymbol("Y", 3, 3)))
    memos = clear_matcalc_memos()
    print(f"first derivation in the process (loads grammar + rule tables): matcalc {ms(first)} ms, "
          f"sympy {ms(sympy_first)} ms (excluded below)")
    print(f"memo tables cleared for 'fresh': {', '.join(memos) or 'none found'}; SymPy: clear_cache()")

    rows, results, ratios, ratios_warm = [], [], [], []
    for expr, wrt, sym_fn, sym_text in sympy_cases():
        try:
            m = measure(derive_fn(expr, wrt), repeats, clear_matcalc_memos)
            m_text = str(m["out"])
        except Exception as exc:  # another engineer's edit may break a case: report, go on
            m, m_text = None, f"ERROR {type(exc).__name__}: {exc}"
        try:
            s = measure(sym_fn, repeats, clear_sympy_cache)
            s_text = str(s["out"])
        except Exception as exc:
            s, s_text = None, f"ERROR {type(exc).__name__}: {exc}"
        ratio = s["fresh"] / m["fresh"] if m and s else None
        ratio_w = s["warm"] / m["warm"] if m and s else None
        if ratio is not None:
            ratios.append(ratio)
            ratios_warm.append(ratio_w)
        rows.append([f"d/d{wrt} {expr}",
                     ms(m and m["cold"]), ms(m and m["fresh"]), ms(m and m["warm"]),
                     ms(s and s["cold"]), ms(s and s["fresh"]), ms(s and s["warm"]),
                     f"{ratio:.1f}x" if ratio else "n/a", f"{ratio_w:.1f}x" if ratio_w else "n/a"])
        results.append([f"d/d{wrt} {expr}", m_text, f"{sym_text} = {s_text}"])
    print(table(["expression", "mc cold", "mc fresh", "mc warm", "sp cold", "sp fresh", "sp warm",
                 "sp/mc fresh", "sp/mc warm"], rows, right=range(1, 9)))
    print()
    print(table(["expression", "matcalc", "SymPy"], results))
    if ratios:
        print(f"\nspeed-up sympy/matcalc (fresh): geometric mean {geomean(ratios):.1f}x, "
              f"min {min(ratios):.1f}x   (warm: geomean {geomean(ratios_warm):.1f}x, "
              f"min {min(ratios_warm):.1f}x)")

    # -- softmax cross-entropy: matcalc alone
    print(f"\nsoftmax cross-entropy  d/dW {CE}  assuming {CE_ASSUME}")
    ce = None
    try:
        ce = measure(derive_fn(CE, "W", CE_ASSUME), repeats, clear_matcalc_memos)
        print(f"  matcalc: cold {ms(ce['cold'])} ms, fresh median {ms(ce['fresh'])} ms, "
              f"warm median {ms(ce['warm'])} ms  ->  {ce['out']}")
    except Exception as exc:
        print(f"  matcalc: ERROR {type(exc).__name__}: {exc}")
    sympy_softmax()

    # -- log det
    print("\nlog-determinant  d/dX")
    X = sp.MatrixSymbol("X", sp.Symbol("n"), sp.Symbol("n"))
    for label, fn in [("sympy  log(Determinant(X)).diff(X)", lambda: sp.log(sp.Determinant(X)).diff(X)),
                      ("sympy  log(X.det()).diff(X)", lambda: sp.log(X.det()).diff(X))]:
        try:
            out = fn()
            note = "  <- WRONG (zero); the answer is inv(X)'" if getattr(out, "is_ZeroMatrix", False) \
                or out == 0 else ""
            print(f"  {label:40s} = {out}   [{type(out).__name__}]{note}")
        except Exception as exc:
            print(f"  {label:40s} raised {type(exc).__name__}: {exc}")
    for expr in ("logdet(X)", "log(det(X))"):
        try:
            t, d = timed(derive_fn(expr, "X"))
            print(f"  matcalc derive({expr!r:15s}, 'X')      = {d}   ({ms(t)} ms cold)")
        except Exception as exc:
            print(f"  matcalc derive({expr!r}) raised {type(exc).__name__}: {exc}")
    return {"ratios": ratios, "ce_ms": ce["fresh"] if ce else None, "ce_warm": ce["warm"] if ce else None}


def sympy_softmax() -> None:
    """SymPy has no softmax; the two natural spellings of the loss, and what diff makes of them."""
    import sympy as sp

    c, d = sp.symbols("c d")
    W = sp.MatrixSymbol("W", c, d)
    x = sp.MatrixSymbol("x", d, 1)
    b = sp.MatrixSymbol("b", c, 1)
    y = sp.MatrixSymbol("y", c, 1)
    z = W * x + b

    def softmax_form():  # softmax(z) = exp(z) / (1'*exp(z))
        e = z.applyfunc(sp.exp)
        return -sp.Trace(y.T * (e / sp.Trace(sp.OneMatrix(1, c) * e)).applyfunc(sp.log))

    def logsumexp_form():  # log softmax(z) = z - log(1'*exp(z))*1
        lse = sp.log(sp.Trace(sp.OneMatrix(1, c) * z.applyfunc(sp.exp)))
        return -sp.Trace(y.T * (z - lse * sp.OneMatrix(c, 1)))

    for label, build in [("exp(z)/sum(exp(z)) form", softmax_form), ("z - logsumexp(z) form", logsumexp_form)]:
        try:
            loss = build()
            t, out = timed(lambda: loss.diff(W))
            text = str(out)
            verdict = "  <- WRONG: no exp/softmax term; the answer is (softmax(W*x + b) - y)*x'" \
                if "exp" not in text else "  (unverified)"
            print(f"  sympy {label}: returned {type(out).__name__} in {ms(t)} ms: {text[:200]}{verdict}")
        except Exception as exc:
            print(f"  sympy {label}: raised {type(exc).__name__}: {str(exc)[:150]}")


# ------------------------------------------------------------------------------ (b) depth scaling


def mlp_loss(L: int) -> str:
    s = "x"
    for i in range(1, L + 1):
        s = f"W{i}*{s} + b{i}"
        if i < L:
            s = f"relu({s})"
    return f"-y'*log(softmax({s}))"


def check_mlp(text: str, L: int) -> str:
    """A structural check of d/dW1: one step() per hidden layer, every W2..WL transposed, ends in *x'."""
    problems = []
    if text.count("step(") != L - 1:
        problems.append(f"{text.count('step(')} step() for {L - 1} hidden layers")
    missing = [f"W{k}'" for k in range(2, L + 1) if f"W{k}'" not in text]
    if missing:
        problems.append("missing " + ",".join(missing[:3]) + ("..." if len(missing) > 3 else ""))
    if not text.endswith("*x'"):
        problems.append("does not end in *x'")
    if "softmax(" not in text or "- y" not in text:
        problems.append("no softmax(...) - y")
    return "ok" if not problems else "; ".join(problems)


def dag_size(d) -> int | None:
    try:
        from matcalc.language.expr import walk

        return len(walk(d.result))
    except Exception:
        return None


def part_b() -> dict:
    print()
    print("=" * 100)
    print("(b) L-layer MLP loss -y'*log(softmax(WL*relu(...relu(W1*x + b1)...) + bL)), d/dW1, "
          "assuming sum(y) = 1")
    print("=" * 100)
    rows, per = [], {}
    for L in DEPTHS:
        repeats = 31 if L <= 4 else 15 if L <= 8 else 9 if L <= 16 else 5
        try:
            m = measure(derive_fn(mlp_loss(L), "W1", CE_ASSUME), repeats, clear_matcalc_memos)
        except Exception as exc:
            rows.append([L, "ERROR", f"{type(exc).__name__}: {str(exc)[:60]}", "", "", "", "", "", "", ""])
            continue
        text = str(m["out"])
        shared_text, defs = m["out"].shared
        named = len(shared_text) + sum(len(n) + len(t) + 3 for n, t in defs)
        per[L] = (m["fresh"], named)
        nodes = dag_size(m["out"])
        rows.append([L, repeats, ms(m["cold"]), ms(m["fresh"]), ms(m["warm"]), f"{m['fresh'] / L:.2f}",
                     len(text), named, f"{named / L:.0f}", nodes if nodes is not None else "n/a",
                     check_mlp(shared_text, L)])   # str() names repeated parts past its length bound
    print(table(["L", "reps", "cold ms", "fresh ms", "warm ms", "ms/L", "chars inline", "chars named",
                 "named/L", "DAG nodes", "check"], rows, right=range(0, 10)))
    if 2 in per:
        print(f"\nL=2 result: {matcalc.derive(mlp_loss(2), wrt='W1', assume=CE_ASSUME)}")
    print("chars inline = len(str(result)): repeats every forward activation inside each step(...), so it is "
          "quadratic in L;\nchars named = the printed form with repeated subexpressions named once "
          "(Derivation.shared, shown by the CLI), which is what the size goal is judged on.")
    return per


# ---------------------------------------------------------------------------------- (c) CLI start-up


def part_c(runs: int = 5) -> float | None:
    print()
    print("=" * 100)
    cmd = [sys.executable, "-m", "matcalc.cli", "derive", CE, "--wrt", "W", "--assume", CE_ASSUME[0]]
    print(f"(c) CLI start-up: python {' '.join(cmd[1:4])} \"{CE}\" --wrt W --assume \"{CE_ASSUME[0]}\" "
          f"(median of {runs} runs)")
    print("=" * 100)
    env = dict(os.environ)
    pkg_parent = str(Path(matcalc.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    try:
        available = importlib.util.find_spec("matcalc.cli") is not None
    except Exception:
        available = False
    if not available:
        print("CLI not available (no matcalc/cli.py)")
        return None

    def run(argv):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        return time.perf_counter() - t0, proc

    _, proc = run(cmd)  # warm-up: writes __pycache__, fills the OS file cache
    if proc.returncode != 0:
        print(f"CLI failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-400:]}")
        return None
    times = [run(cmd)[0] for _ in range(runs)]
    base = statistics.median(run([sys.executable, "-c", "pass"])[0] for _ in range(runs))
    imp = statistics.median(run([sys.executable, "-c", "import matcalc"])[0] for _ in range(runs))
    cli = statistics.median(times)
    print(f"CLI median {cli * 1e3:.0f} ms (runs: {', '.join(f'{t * 1e3:.0f}' for t in times)} ms)")
    print(f"  of which: bare interpreter {base * 1e3:.0f} ms, `import matcalc` {imp * 1e3:.0f} ms "
          f"(incl. interpreter)")
    lines = proc.stdout.strip().splitlines()
    print("  output:\n" + "\n".join("    | " + line for line in lines[:12]) + ("\n    | ..." if len(lines) > 12 else ""))
    return cli


# ------------------------------------------------------------------------------------- (d) goals


def part_d(a: dict, per: dict, cli: float | None) -> None:
    print()
    print("=" * 100)
    print("(d) goals")
    print("=" * 100)

    def mark(ok) -> str:
        return "n/a " if ok is None else "PASS" if ok else "MISS"

    ce = a.get("ce_ms")
    print(f"[{mark(ce is not None and ce <= GOAL_CE_MS if ce is not None else None)}] softmax cross-entropy "
          f"d/dW median <= {GOAL_CE_MS:.0f} ms: fresh {ms(ce)} ms (warm {ms(a.get('ce_warm'))} ms)")
    r = a.get("ratios") or []
    if len(r) == 4:
        g, lo = geomean(r), min(r)
        print(f"[{mark(g >= GOAL_SPEEDUP)}] >= {GOAL_SPEEDUP:.0f}x faster than SymPy, geometric mean: {g:.1f}x")
        print(f"[{mark(lo >= GOAL_SPEEDUP)}] >= {GOAL_SPEEDUP:.0f}x faster than SymPy, minimum: {lo:.1f}x")
    else:
        print(f"[n/a ] speed-up vs SymPy: only {len(r)} of 4 expressions measured")
    if 4 in per and 32 in per:
        t_growth = (per[32][0] / 32) / (per[4][0] / 4)
        c_growth = (per[32][1] / 32) / (per[4][1] / 4)
        print(f"[{mark(t_growth <= GOAL_GROWTH)}] time linear in L: (ms/L at L=32) / (ms/L at L=4) = "
              f"{t_growth:.2f} (<= {GOAL_GROWTH:.0f})")
        print(f"[{mark(c_growth <= GOAL_GROWTH)}] printed size (named form) linear in L: (chars/L at L=32) / (chars/L at L=4) "
              f"= {c_growth:.2f} (<= {GOAL_GROWTH:.0f})")
    else:
        print("[n/a ] linear growth in L: L=4 or L=32 failed")
    print(f"[{mark(None if cli is None else cli <= GOAL_CLI_S)}] CLI <= {GOAL_CLI_S:.0f} s: "
          f"{'not available' if cli is None else f'{cli:.2f} s'}")


HESSIANS = [
    ("x'*A*x", "x", ()),
    ("norm2(A*x - b)^2", "x", ()),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", ("y in {-1, 1}",)),
    ("logsumexp(x)", "x", ()),
]
GOAL_HESSIAN_MS = 20.0


def part_e(repeats: int = 15) -> list[float]:
    """Second order: the Hessians of issue 5, median fresh time each."""
    print()
    print("=" * 100)
    print("(e) Hessians (order=2), median of", repeats, "fresh derivations")
    print("=" * 100)
    rows, times = [], []
    for expr, wrt, assume in HESSIANS:
        fn = lambda e=expr, w=wrt, a=assume: matcalc.derive(e, wrt=w, assume=a, order=2)  # noqa: E731
        m = measure(fn, repeats, clear_matcalc_memos)
        times.append(m["fresh"])
        rows.append([f"d2/d{wrt}2 {expr}", ms(m["fresh"]), str(m["out"])])
    print(table(["Hessian", "fresh ms", "result"], rows, right=[1]))
    return times


GUARD_CASES = [
    ("a'*x", "x", ()), ("x'*A*x", "x", ()), ("tr(A*X)", "X", ()), ("tr(inv(X)*A)", "X", ()),
    (CE, "W", CE_ASSUME), ("logdet(X)", "X", ()), ("sum(relu(W*x + b))", "W", ()),
    ("g'*(gamma .* (x - sum(x)/n)/sqrt(norm2(x - sum(x)/n)^2/n + eps) + beta)", "x", ()),
]
GOAL_GUARD = 0.20


def part_f(repeats: int = 21) -> list[float]:
    """The guard's cost (check/guard.py): every derivation is compared with central differences of the
    expression before it is returned. Engine derive alone vs the guard alone, fresh medians."""
    from matcalc.check.guard import check_derivation
    from matcalc.engine import derive as engine

    print()
    print("=" * 100)
    print(f"(f) the guard: every result checked numerically before it is returned (median of {repeats}, fresh)")
    print("=" * 100)
    shapes = {"gamma": ("n",), "x": ("n",), "g": ("n",)}
    rows, ratios = [], []
    cases = [(e, w, a, 1) for e, w, a in GUARD_CASES] + [(e, w, a, 2) for e, w, a in HESSIANS[:3]] + \
        [(mlp_loss(4), "W1", CE_ASSUME, 1)]
    for expr, wrt, assume, order in cases:
        sh = {k: v for k, v in shapes.items() if k in expr and "gamma" in expr}
        bare = lambda: engine.derive(expr, wrt=wrt, shapes=sh or None, assume=assume, order=order)  # noqa: E731
        d = matcalc.derive(expr, wrt=wrt, shapes=sh or None, assume=assume, order=order)
        # interleaved, so that both see the same load on a shared machine
        t_d, t_g = [], []
        for _ in range(repeats):
            clear_matcalc_memos()
            t_d.append(timed(bare)[0])
            clear_matcalc_memos()
            t_g.append(timed(lambda: check_derivation(d))[0])
        t_derive, t_guard = statistics.median(t_d), statistics.median(t_g)
        ratio = t_guard / t_derive
        ratios.append(ratio)
        label = f"d{'2' if order == 2 else ''}/d{wrt} {expr}"
        rows.append([label[:60], ms(t_derive), ms(t_guard), f"{100 * ratio:.0f}%", str(d.checked)[-34:]])
    print(table(["derivation", "derive ms", "guard ms", "guard/derive", "evidence"], rows, right=[1, 2, 3]))
    print(f"\nguard/derive: median {100 * statistics.median(ratios):.0f}%, geometric mean "
          f"{100 * geomean(ratios):.0f}%, largest {100 * max(ratios):.0f}%")
    return ratios


def main() -> None:
    t0 = time.perf_counter()
    print(f"matcalc {getattr(matcalc, '__version__', '?')} from {Path(matcalc.__file__).resolve().parent}; "
          f"Python {sys.version.split()[0]}")
    a = part_a()
    per = part_b()
    cli = part_c()
    hessians = part_e()
    guard = part_f()
    part_d(a, per, cli)
    print(f"[{'PASS' if guard and statistics.median(guard) <= GOAL_GUARD else 'MISS'}] the guard costs <= "
          f"{100 * GOAL_GUARD:.0f}% of derive time (median over the cases): "
          f"{100 * statistics.median(guard):.0f}%" if guard else "[n/a ] the guard's cost")
    worst = max(hessians) if hessians else None
    print(f"[{'PASS' if worst is not None and worst <= GOAL_HESSIAN_MS else 'MISS'}] every Hessian <= "
          f"{GOAL_HESSIAN_MS:.0f} ms: slowest {ms(worst)} ms")
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
