"""How many gradients matcalc prints in the textbook's form, and how long they are against the book's.

Run from a checkout: `python benchmarks/textbook_bench.py [--list] [--names a,b]`. Over the 160 rows of
tests/data/textbook_forms.toml (Matrix Cookbook, Bishop's PRML, Goodfellow et al., CS231n, GPML, ESL,
batch and layer norm, attention, RNN, Gaussian likelihoods, KL, PCA, matrix factorization, barriers)
it derives each gradient and prints:

(a) how many print in the book's form up to the order of terms and factors (tests/textbook.py says
    what that comparison forgets and what it keeps), how many print *exactly* the book's text, and
    how many the row's `today` (matcalc's output when the set was written) matched;
(b) the printed length against the book's (the book's text plus its named intermediates, each
    defined once; matcalc's result, or its form with repeated parts named as the CLI also prints it,
    whichever is shorter): the median and worst ratio, and how many are within 1.5x;
(c) with --list, every row: OK/MISS, the ratio, and matcalc's result for a miss;
(d) the time to derive all rows (median of 3 runs, fresh memo tables each run).

Goal: every row textbook, every length within 1.5x of the book's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "matcalc" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / "tests"))

import textbook

import matcalc

GOAL_RATIO = 1.5


def derive_all(rows):
    out = {}
    for row in rows:
        try:
            out[row["name"]] = matcalc.derive(row["expression"], **textbook.call(row))
        except matcalc.MatcalcError as err:
            out[row["name"]] = err
    return out


def printed_length(d) -> int:
    """What matcalc prints: the result, or (as the CLI shows it too) with repeated parts named once,
    whichever is shorter."""
    text = str(d)
    body, defs = d.shared
    named = len(body) + sum(len(n) + len(v) + 5 for n, v in defs) if defs else len(text)
    return min(len(text), named)


def clear_memos():
    for name, module in list(sys.modules.items()):
        if (name == "matcalc" or name.startswith("matcalc.")) and module is not None:
            for attr, value in list(vars(module).items()):
                if type(value) is dict and "memo" in attr.lower():
                    value.clear()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true", help="every row, with matcalc's result for a miss")
    ap.add_argument("--names", default="", help="only these rows (comma-separated)")
    args = ap.parse_args(argv)
    rows = textbook.rows()
    if args.names:
        wanted = set(args.names.split(","))
        rows = [r for r in rows if r["name"] in wanted]
    times = []
    for _ in range(3):
        clear_memos()
        t0 = time.perf_counter()
        derived = derive_all(rows)
        times.append(time.perf_counter() - t0)
    ok = exact = today_ok = 0
    ratios = []
    lines = []
    for row in rows:
        d = derived[row["name"]]
        if isinstance(d, Exception):
            lines.append(f"  ERROR {row['name']}: {d}")
            continue
        text = str(d)
        good = textbook.is_textbook(d, row)
        ok += good
        exact += " ".join(text.split()) == row["book"]
        try:
            today_ok += textbook.same_form(textbook.typed(d, row["today"]), textbook.book_node(d, row))
        except (matcalc.MatcalcError, KeyError):
            pass
        ratio = printed_length(d) / textbook.book_length(row)
        ratios.append((ratio, row["name"]))
        mark = "OK  " if good else "MISS"
        lines.append(f"  {mark} {ratio:5.2f}x  {row['name']}" + ("" if good else f"\n        matcalc: {text}"
                                                                  f"\n        book:    {row['book']}"))
    n = len(rows)
    print(f"textbook forms (tests/data/textbook_forms.toml, {n} rows)")
    print(f"  (a) in the book's form up to the order of terms and factors: {ok} of {n}")
    print(f"      exactly the book's text: {exact} of {n}; the recorded `today` outputs: {today_ok} of {n}")
    if ratios:
        within = sum(r <= GOAL_RATIO for r, _ in ratios)
        worst = max(ratios)
        print(f"  (b) printed length / book's: median {statistics.median(r for r, _ in ratios):.2f}x, "
              f"worst {worst[0]:.2f}x ({worst[1]}); within {GOAL_RATIO}x: {within} of {len(ratios)}")
        over = sorted((r for r in ratios if r[0] > GOAL_RATIO), reverse=True)
        if over:
            print("      over: " + ", ".join(f"{name} {r:.2f}x" for r, name in over))
    print(f"  (d) deriving all {n} rows: {statistics.median(times) * 1e3:.0f} ms "
          f"(median of 3, {statistics.median(times) * 1e3 / max(n, 1):.1f} ms a row)")
    if args.list:
        print("\n".join(lines))
    missed = n - ok
    print(f"goal: every row textbook ({'PASS' if not missed else f'MISS, {missed} to go'}), "
          f"lengths within {GOAL_RATIO}x ({'PASS' if ratios and max(ratios)[0] <= GOAL_RATIO else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
