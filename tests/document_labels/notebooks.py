"""Labels and numeric checks for the notebooks: seed_001_softmax_ce_zh.ipynb (labels mapped from the seed),
batched_mlp_notebook.ipynb and batched_mlp_notebook.err.ipynb."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, dscalar
from . import seed001

m, d, h, c = 7, 5, 4, 3
def inst(rng):
    return dict(X=rng.normal(size=(m, d)), Y=np.eye(c)[rng.integers(c, size=m)], W1=rng.normal(size=(d, h)), b1=rng.normal(size=h),
                W2=rng.normal(size=(h, c)), b2=rng.normal(size=c), z=rng.normal(size=c), y=np.eye(c)[rng.integers(c)], u=rng.normal())
def fwd(q, **o):
    p = dict(q); p.update({k: v for k, v in o.items() if k in q})
    U = o.get("U", p["X"] @ p["W1"] + p["b1"]); H = o.get("H", np.tanh(U))
    Z = o.get("Z", H @ p["W2"] + p["b2"]); P = softmax(Z, axis=1)
    return dict(U=U, H=H, Z=Z, P=P, L=-np.sum(p["Y"] * np.log(P)) / m)
def G(q): r = fwd(q); return (r["P"] - q["Y"]) / m
def gr(q, name):
    if name in q: return grad(lambda v: fwd(q, **{name: v})["L"], q[name])
    return grad(lambda v: fwd(q, **{name: v})["L"], fwd(q)[name])
def pair(fa, fb, desc="lhs vs rhs", expect=None):
    def nf(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return nf
def P_(err, right, wrong): return wrong if err else right

def label_own(fname, err=False):
    D = Doc(fname)
    A = lambda cell, line, *a, **k: add(D, line, *a, cell=cell, **k)
    den = dict(layout="denominator")
    A(0, 5, "shape", "right", "mini-batch", nth=0)
    A(0, 5, "shape", "right", "one-hot labels", nth=1)
    for k, why in enumerate(["first-layer weights", "first-layer bias", "second-layer weights", "second-layer bias"]):
        A(0, 6, "shape", "right", why, nth=k)
    A(0, 7, "definition", "right", "pre-activation", nth=0)
    A(0, 7, "definition", "right", "hidden layer", nth=1)
    A(0, 8, "definition", "right", "logits", nth=0)
    A(0, 8, "definition", "right", "row-wise softmax", nth=1)
    A(0, 9, "definition", "right", "batch-mean cross-entropy")
    A(0, 10, "definition", "right", "the scaled residual, defined once and used in cells 2, 4 and 6")
    A(2, 3, "derivative", "right", "per row: softmax cross-entropy of one example with a one-hot y (l, p, y are one row's)", nth=0, link=(0, 1), **den,
      num=pair(lambda q: grad(lambda z: -q["y"] @ np.log(softmax(z)), q["z"]), lambda q: softmax(q["z"]) - q["y"]))
    t, w, fn = P_(err, ("right", "the batch mean puts 1/m on every row", G),
                  ("wrong", "planted: dropped 1/m; L is the batch mean; right: (1/m)(P - Y), the G of cell 0", lambda q: fwd(q)["P"] - q["Y"]))
    A(2, 5, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: gr(q, "Z"), fn))
    A(2, 7, "definition", "right", "the logits again", nth=1)
    t, w, fn = P_(err, ("right", "h x m times m x c: W_2's shape; G from cell 0", lambda q: fwd(q)["H"].T @ G(q)),
                  ("wrong", "planted: transpose; G^T H is c x h, W_2 is h x c; right: H^T G", lambda q: G(q).T @ fwd(q)["H"]))
    A(2, 9, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: gr(q, "W2"), fn))
    A(2, 9, "derivative", "right", "column sums of G (b_2 is broadcast over the rows)", link=(1, 1), **den,
      num=pair(lambda q: gr(q, "b2"), lambda q: G(q).T @ np.ones(m)))
    A(2, 11, "shape", "right", "h x c, like W_2", nth=0)
    A(4, 5, "derivative", "right", "back through W_2; G already carries the 1/m", link=(0, 1), **den, num=pair(lambda q: gr(q, "H"), lambda q: G(q) @ q["W2"].T))
    A(4, 7, "derivative", "right", "derivative of tanh", nth=1, link=(0, 1), layout="entrywise",
      num=pair(lambda q: dscalar(np.tanh, q["u"]), lambda q: 1 - np.tanh(q["u"])**2))
    t, w, fn = P_(err, ("right", "entrywise tanh' = 1 - H * H", lambda q: gr(q, "H") * (1 - fwd(q)["H"]**2)),
                  ("wrong", "planted: missing term; tanh'(U) = 1 - H * H, not 1 - H", lambda q: gr(q, "H") * (1 - fwd(q)["H"])))
    A(4, 9, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: gr(q, "U"), fn))
    A(4, 11, "definition", "right", "the pre-activation again")
    A(4, 13, "derivative", "right", "U = X W_1 + 1 b_1^T", link=(0, 1), **den, num=pair(lambda q: gr(q, "W1"), lambda q: q["X"].T @ gr(q, "U")))
    A(4, 13, "derivative", "right", "cells 2 and 4 substituted", link=(0, 2), vs_head="right", **den,
      num=pair(lambda q: q["X"].T @ gr(q, "U"), lambda q: q["X"].T @ ((G(q) @ q["W2"].T) * (1 - fwd(q)["H"]**2))))
    t, w, fn = P_(err, ("right", "column sums of dL/dU", lambda q: gr(q, "U").T @ np.ones(m)),
                  ("wrong", "planted: transpose; (dL/dU) 1 is the m-vector of row sums; right: (dL/dU)^T 1", lambda q: gr(q, "U") @ np.ones(h)))
    A(6, 3, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: gr(q, "b1"), fn))
    A(6, 5, "derivative", "right", "unusual but right: ((P - Y)^T H)^T / m = H^T G", link=(0, 1), **den,
      num=pair(lambda q: gr(q, "W2"), lambda q: ((fwd(q)["P"] - q["Y"]).T @ fwd(q)["H"]).T / m))
    return D

# seed 001 as a notebook: these line ranges of the post are its Markdown cells, two code cells between
SEED1_CELLS = [(1, 1), (6, 9), (11, 20), (22, 28), (30, 35), (37, 44), (46, 50), "code1", (52, 61), "code2", (63, 66)]


def seed1_linemap() -> dict:
    """The post's line -> (cell, line in the cell) of seed_001_softmax_ce_zh.ipynb."""
    linemap = {}
    for cell, spec in enumerate(SEED1_CELLS):
        if isinstance(spec, tuple):
            for line in range(spec[0], spec[1] + 1):
                linemap[line] = (cell, line - spec[0] + 1)
    return linemap


def build():
    linemap = seed1_linemap()
    seed001.label("seed_001_softmax_ce_zh.ipynb", docobj=Doc("seed_001_softmax_ce_zh.ipynb"), linemap=linemap)
    label_own("batched_mlp_notebook.ipynb")
    label_own("batched_mlp_notebook.err.ipynb", err=True)
