"""What a new user's `pip install .` costs, and how fast `matcalc derive` starts in it.

For each source (the checkout by default; `--ref main` adds a git revision, exported with `git
archive`), in a fresh virtual environment (`python3 -m venv`, then `pip install <source>`, no cache):

- packages: the distributions `pip install` added (pip list after, less pip list of the new venv;
  matcalc itself included)
- MB: what they added on disk (the venv's size after, less its size new)
- the README's first command, `matcalc derive`, run from an empty folder: its exit code, the wall
  time of the process (median of `--repeat` runs) and, from `python -X importtime -m matcalc derive`,
  the total import time and every top-level package it imported, and whether any of the heavy ones
  (sympy, autograd, scipy, sklearn, matplotlib, torch, jax, starlette) is among them
- `matcalc train`: its exit code and its first line on stderr (without the [train] extra it must
  name the extra)

    python benchmarks/install_bench.py [--ref main] [--repeat 5] [--keep]

It needs the package index pip is configured with; it prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sympy", "autograd", "scipy", "sklearn", "matplotlib", "torch", "jax", "starlette", "uvicorn")


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def _packages(python: Path) -> dict:
    out = _run([str(python), "-m", "pip", "list", "--format=json"]).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


def _export(ref: str, into: Path) -> Path:
    """The tree of a git revision of this repository, as a folder pip can install."""
    src = into / f"src-{ref.replace('/', '_')}"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src


def _copy_checkout(into: Path) -> Path:
    """The checkout as it is on disk (uncommitted edits included), copied so that pip's build leaves
    nothing in it."""
    src = into / "src-checkout"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__",
                                                             ".pytest_cache", ".hypothesis"))
    return src


def measure(label: str, source: Path, work: Path, repeat: int) -> dict:
    venv = work / f"venv-{label}"
    subprocess.run(["python3", "-m", "venv", str(venv)],
                   check=True)
    python = venv / "bin" / "python"
    before, size_before = _packages(python), _size(venv)
    t0 = time.perf_counter()
    inst = _run([str(python), "-m", "pip", "install", "--no-cache-dir", "--quiet", str(source)])
    install_s = time.perf_counter() - t0
    if inst.returncode != 0:
        return {"label": label, "error": inst.stderr.strip().splitlines()[-1:]}
    after = _packages(python)
    added = sorted(set(after) - set(before))
    site = next((venv / "lib").glob("python*/site-packages"))
    per_package = _sizes_by_package(python, added, site)
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    matcalc = venv / "bin" / "matcalc"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    runs, rc = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = _run([str(matcalc), "derive"], cwd=empty, env=env)
        runs.append(time.perf_counter() - t0)
        rc = r.returncode
    imp = _run([str(python), "-X", "importtime", "-m", "matcalc", "derive"], cwd=empty, env=env)
    modules, total_us = _importtime(imp.stderr)
    train = _run([str(matcalc), "train", "--epochs", "1"], cwd=empty, env=env)
    return {
        "label": label, "packages": len(added), "names": added, "per_package": per_package,
        "mb": (_size(venv) - size_before) / 1e6, "install_s": install_s,
        "derive_rc": rc, "derive_s": statistics.median(runs), "import_ms": total_us / 1000,
        "modules": len(modules), "top": sorted({m.split(".")[0] for m in modules}),
        "heavy": sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY}),
        "train_rc": train.returncode,
        "train_msg": (train.stderr.strip().splitlines() or train.stdout.strip().splitlines() or [""])[0][:160],
    }


def _sizes_by_package(python: Path, names, site: Path) -> list:
    """MB on disk per added distribution, from the RECORD files pip wrote."""
    rows = []
    for dist in site.glob("*.dist-info"):
        record = dist / "RECORD"
        name = dist.name.split("-")[0].lower().replace("_", "-")
        if not record.exists():
            continue
        total = 0
        for line in record.read_text().splitlines():
            rel = line.split(",")[0]
            p = (site / rel).resolve()
            if p.is_file():
                total += p.stat().st_size
        rows.append((name, total / 1e6))
    return sorted(rows, key=lambda r: -r[1])


def _importtime(stderr: str):
    """(every module imported, the total import time in µs) from `python -X importtime`'s lines
    `import time: self | cumulative | name`, the name indented by its nesting."""
    modules, total = [], 0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|", 2)
        modules.append(name.strip())
        if not name[1:].startswith(" "):      # a top-level import: its cumulative time counts once
            total += int(cumulative)
    return modules, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", action="append", default=[], help="also measure this git revision (e.g. main)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of `matcalc derive` timed (median)")
    ap.add_argument("--keep", action="store_true", help="keep the virtual environments (printed)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="matcalc-install-"))
    results = []
    try:
        for ref in args.ref:
            results.append(measure(ref, _export(ref, work), work, args.repeat))
        results.append(measure("checkout", _copy_checkout(work), work, args.repeat))
    finally:
        if args.keep:
            print(f"(virtual environments kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'source':<10} {'packages':>8} {'MB':>7} {'derive rc':>9} {'derive s':>9} {'imports ms':>10} "
          f"{'modules':>7}  heavy imported by derive")
    for r in results:
        if "error" in r:
            print(f"{r['label']:<10} install failed: {r['error']}")
            continue
        print(f"{r['label']:<10} {r['packages']:>8} {r['mb']:>7.0f} {r['derive_rc']:>9} {r['derive_s']:>9.2f} "
              f"{r['import_ms']:>10.0f} {r['modules']:>7}  {', '.join(r['heavy']) or 'none'}")
    for r in results:
        if "error" in r:
            continue
        print(f"\n{r['label']}: pip install . added {r['packages']} packages, {r['mb']:.0f} MB "
              f"(install {r['install_s']:.0f} s):")
        print("  " + ", ".join(f"{n} {mb:.1f}" for n, mb in r["per_package"] if n in
                                  {x.replace("_", "-") for x in r["names"]}))
        print(f"  matcalc derive imports {r['modules']} modules, top-level packages: {', '.join(r['top'])}")
        print(f"  matcalc train --epochs 1: exit {r['train_rc']}: {r['train_msg']}")


if __name__ == "__main__":
    main()
