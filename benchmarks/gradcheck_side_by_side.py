"""The same buggy gradient functions, checked by torch.autograd.gradcheck and by matcalc.check_gradient.

    python benchmarks/gradcheck_side_by_side.py [--markdown]

torch.autograd.gradcheck checks a backward pass against finite differences of the forward. To give it a
NumPy gradient function, the function is made the backward of a torch.autograd.Function whose forward
is the loss (float64, written in torch): what a person does to check a hand-written backprop with
gradcheck. Each row: the function (tests/data/gradient_code), what gradcheck says (its verdict, or the
first line of the GradcheckError or RuntimeError it raises), and matcalc's verdict and diagnosis.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import matcalc  # noqa: E402

DATA = ROOT / "tests" / "data" / "gradient_code"
CASES = {c["function"]: c for c in tomllib.loads((DATA / "manifest.toml").read_text())["case"]}
ROWS = ["backprop_db3_no_mean", "backprop_dA2_extra_mean", "grad_W3_no_transpose_square", "backprop_dW1_transposed",
        "backprop_db3_sum_no_axis", "grad_b3_keepdims", "backprop_mask_wrong_layer", "backprop_no_relu_mask",
        "backprop_softmax_no_subtract", "backprop_sign_flipped", "grad_W3_without_onehot", "backprop_updates_in_place",
        "quad_form_assumes_symmetric", "least_squares_column", "column_vector_broadcast", "backprop"]
SIZES = (3, 5, 4, 6, 7, 2)


def load(file: str):
    spec = importlib.util.spec_from_file_location(f"side_{file[:-3]}", DATA / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def torch_loss(expression: str):
    """The forward of the two expressions the rows use, in torch."""
    if expression.startswith("-sum(Y .* log(softmax_rows("):
        def f(X, Y, W1, b1, W2, b2, W3, b3):
            a1 = torch.relu(X @ W1 + b1)
            a2 = torch.relu(a1 @ W2 + b2)
            return -(Y * torch.log_softmax(a2 @ W3 + b3, dim=1)).sum() / X.shape[0]
        return f
    if expression == "x'*A*x":
        return lambda x, A: x @ A @ x
    if expression == "norm2(A*x - b)^2":
        return lambda x, A, b: ((A @ x - b) ** 2).sum()
    if expression == "norm2(x - y)^2":
        return lambda x, y: ((x - y) ** 2).sum()
    raise ValueError(expression)


def instance(case, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {n: [d for d in s.split(",") if d] for n, s in case["shapes"].items()}
    tokens = sorted({d for s in shapes.values() for d in s})
    size = {d: SIZES[i % len(SIZES)] for i, d in enumerate(tokens)}
    arrays = {}
    for name, s in shapes.items():
        shape = tuple(size[d] for d in s)
        if name == "Y" and "Y one-hot" in case["assume"]:
            arrays[name] = np.eye(shape[1])[rng.integers(shape[1], size=shape[0])]
        else:
            arrays[name] = rng.standard_normal(shape)
    return arrays


def gradcheck_says(case, fn) -> str:
    names = [case["wrt"]] if isinstance(case["wrt"], str) else list(case["wrt"])
    arrays = instance(case)
    forward = torch_loss(case["expression"])
    order = list(arrays)

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):
            ctx.save_for_backward(*tensors)
            return forward(**dict(zip(order, tensors)))

        @staticmethod
        def backward(ctx, g):
            given = {k: t.detach().numpy() for k, t in zip(order, ctx.saved_tensors)}
            out = fn(**given)
            if not isinstance(out, (dict, tuple)):
                out = {names[0]: out}
            elif isinstance(out, tuple):
                out = dict(zip(names, out))
            return tuple(g * torch.as_tensor(np.asarray(out[k], dtype=float)) if k in names else None
                         for k in order)

    tensors = [torch.tensor(arrays[k], dtype=torch.float64, requires_grad=k in names) for k in order]
    try:
        ok = torch.autograd.gradcheck(Loss.apply, tensors, eps=1e-6, atol=1e-5, rtol=1e-3)
        return f"passes (returns {ok})"
    except Exception as err:  # noqa: BLE001 — what gradcheck says is the point
        first = str(err).strip().splitlines()[0]
        first = re.sub(r"\s+", " ", first)
        return f"{type(err).__name__}: {first}"


def matcalc_says(case, fn) -> str:
    v = matcalc.check_gradient(fn, case["expression"], wrt=case["wrt"], shapes=case["shapes"],
                               assume=case["assume"], layout=case["layout"])
    head = "CORRECT" if v.ok else f"{v.status.upper()} ({v.kind})"
    return f"{head}: {v.diagnosis}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--width", type=int, default=0, help="cut each cell at this many characters (0: never)")
    args = ap.parse_args()
    modules = {}
    if args.markdown:
        print("| function | torch.autograd.gradcheck | matcalc.check_gradient |")
        print("|---|---|---|")
    for name in ROWS:
        case = CASES[name]
        modules.setdefault(case["file"], load(case["file"]))
        fn = getattr(modules[case["file"]], name)
        g, m = gradcheck_says(case, fn), matcalc_says(case, fn)
        if args.width:
            g, m = (t if len(t) <= args.width else t[:args.width - 1] + "…" for t in (g, m))
        if args.markdown:
            print(f"| `{name}` | {g.replace('|', '/')} | {m.replace('|', '/')} |")
        else:
            print(f"{name}\n  gradcheck: {g}\n  matcalc:   {m}\n")


if __name__ == "__main__":
    main()
