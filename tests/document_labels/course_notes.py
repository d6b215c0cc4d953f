"""Labels and numeric checks for course_notes_regression_mlp_en.md and .err.md"""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, dscalar

n, d, h, c, m = 6, 4, 5, 3, 7
sig = lambda t: 1 / (1 + np.exp(-t))

def inst(rng):
    q = dict(X=rng.normal(size=(n, d)), yv=rng.normal(size=n), w=rng.normal(size=d))
    q.update(x=rng.normal(size=d), yb=float(rng.integers(2)), b=rng.normal(), yvec=rng.integers(2, size=n).astype(float))
    q.update(W1=rng.normal(size=(h, d)), b1=rng.normal(size=h), W2=rng.normal(size=(c, h)), b2=rng.normal(size=c),
             y1=np.eye(c)[rng.integers(c)], XB=rng.normal(size=(m, d)), YB=np.eye(c)[rng.integers(c, size=m)])
    return q

def Lls(q, w=None): w = q["w"] if w is None else w; r = q["X"] @ w - q["yv"]; return r @ r / (2 * n)
def ell(yb, yhat): return -yb * np.log(yhat) - (1 - yb) * np.log(1 - yhat)
def ell_wb(q, w=None, b=None):
    w = q["w"] if w is None else w; b = q["b"] if b is None else b
    return ell(q["yb"], sig(w @ q["x"] + b))
def yhat(q): return sig(q["w"] @ q["x"] + q["b"])
def zlog(q): return q["w"] @ q["x"] + q["b"]
def Lmean(q, w=None):
    w = q["w"] if w is None else w
    p = sig(q["X"] @ w + q["b"]); return np.mean(ell(q["yvec"], p))

def mlp(q, **o):
    p = dict(q); p.update(o)
    z1 = p["W1"] @ p["x"] + p["b1"]; a1 = sig(z1) if "a1" not in o else o["a1"]
    z2 = p["W2"] @ a1 + p["b2"] if "z2" not in o else o["z2"]
    yh = softmax(z2)
    return dict(z1=z1, a1=a1, z2=z2, yh=yh, L=-p["y1"] @ np.log(yh))
def LM(q, **o): return mlp(q, **o)["L"]
def d2(q): r = mlp(q); return r["yh"] - q["y1"]
def d1(q): r = mlp(q); return (q["W2"].T @ d2(q)) * r["a1"] * (1 - r["a1"])
def gM(q, name): return grad(lambda v: LM(q, **{name: v}), q[name])
def gz1(q):
    def Lz1(z1):
        a1 = sig(z1); return LM(q, a1=a1)
    return grad(Lz1, mlp(q)["z1"])

def batch(q, W2=None, b2=None):
    W2 = q["W2"] if W2 is None else W2; b2 = q["b2"] if b2 is None else b2
    Z1 = q["XB"] @ q["W1"].T + q["b1"]; A1 = sig(Z1); Z2 = A1 @ W2.T + b2
    P = softmax(Z2, axis=1)
    return dict(A1=A1, P=P, L=-np.sum(q["YB"] * np.log(P)) / m)

def pair(fa, fb, desc="lhs vs rhs", expect=None):
    def nf(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return nf
def P(err, right, wrong): return wrong if err else right

def label(fname, err=False):
    D = Doc(fname)
    A = lambda *a, **k: add(D, *a, **k)
    den = dict(layout="denominator")
    A(7, "other", "right", "the gradient-descent update; it typechecks because the gradient has w's shape")
    A(14, "shape", "right", "design matrix", nth=1)
    A(15, "shape", "right", "targets", nth=0)
    A(15, "shape", "right", "weights", nth=1)
    A(17, "definition", "right", "mean squared error with the conventional 1/2")
    A(19, "definition", "right", "the residual", nth=0)
    A(19, "derivative", "right", "gradient of a squared norm", nth=1, **den,
      num=pair(lambda q: grad(lambda r: r @ r, q["X"] @ q["w"] - q["yv"]), lambda q: 2 * (q["X"] @ q["w"] - q["yv"])))
    gls = lambda q: grad(lambda w: Lls(q, w), q["w"])
    f22 = [gls, lambda q: grad(lambda w: (q["X"] @ w - q["yv"]) @ (q["X"] @ w - q["yv"]), q["w"]) / (2 * n),
           lambda q: 2 * q["X"].T @ (q["X"] @ q["w"] - q["yv"]) / (2 * n),
           lambda q: q["X"].T @ (q["X"] @ q["w"] - q["yv"]) / n]
    A(22, "derivative", "right", "L written with r", link=(0, 1), **den, num=pair(f22[0], f22[1]))
    A(22, "derivative", "right", "chain rule: dr/dw contributes X^T", link=(0, 2), vs_head="right", **den, num=pair(f22[1], f22[2]))
    t, w, fn = P(err, ("right", "the 2 cancels the 1/2", f22[3]),
                 ("wrong", "planted: factor 2; right: (1/n) X^T (Xw - y)", lambda q: 2 * q["X"].T @ (q["X"] @ q["w"] - q["yv"]) / n))
    A(22, "derivative", t, w, link=(0, 3), vs_head=t, **den, num=pair(f22[2], fn))
    A(30, "other", "right", "the normal equations: the stationarity condition grad L = 0, true at the minimiser, not an identity")
    A(31, "derivative", "right", "the gradient multiplied out", **den, link=(0, 1),
      num=pair(gls, lambda q: q["X"].T @ q["X"] @ q["w"] / n - q["X"].T @ q["yv"] / n))
    A(34, "derivative", "right", "unusual but right: ((Xw - y)^T X)^T = X^T (Xw - y)", **den, link=(0, 1),
      num=pair(gls, lambda q: ((q["X"] @ q["w"] - q["yv"]) @ q["X"]).T / n))
    A(47, "assumption", "right", "binary labels", nth=0)
    A(47, "definition", "right", "the logistic sigmoid", nth=1)
    A(47, "shape", "right", "one example", nth=2)
    A(49, "definition", "right", "binary cross-entropy of one example")
    A(51, "definition", "right", "the prediction", nth=0)
    A(51, "definition", "right", "the logit", nth=1)
    ent = dict(layout="entrywise")
    dl_dyh = lambda q: dscalar(lambda p: ell(q["yb"], p), yhat(q))
    t, w, fn = P(err, ("right", "derivative of the binary cross-entropy in the probability", lambda q: -q["yb"] / yhat(q) + (1 - q["yb"]) / (1 - yhat(q))),
                 ("wrong", "planted: sign; right: -y/y-hat + (1 - y)/(1 - y-hat)", lambda q: -q["yb"] / yhat(q) - (1 - q["yb"]) / (1 - yhat(q))))
    A(54, "derivative", t, w, link=(0, 1), **ent, num=pair(dl_dyh, fn))
    A(56, "derivative", "right", "derivative of the sigmoid", link=(0, 1), **ent,
      num=pair(lambda q: dscalar(sig, zlog(q)), lambda q: sig(zlog(q)) * (1 - sig(zlog(q)))))
    dl_dz = lambda q: dscalar(lambda z: ell(q["yb"], sig(z)), zlog(q))
    A(60, "derivative", "right", "chain rule", link=(0, 1), **ent, num=pair(dl_dz, lambda q: dl_dyh(q) * dscalar(sig, zlog(q))))
    A(60, "derivative", "right", "y-hat (1 - y-hat) cancels", link=(0, 2), vs_head="right", **ent,
      num=pair(lambda q: dl_dyh(q) * dscalar(sig, zlog(q)), lambda q: yhat(q) - q["yb"]))
    A(62, "derivative", "right", "expanded form; equals y-hat - y", nth=0, link=(0, 1), **ent,
      num=pair(dl_dz, lambda q: -q["yb"] * (1 - yhat(q)) + (1 - q["yb"]) * yhat(q)))
    A(62, "derivative", "right", "gradient of w^T x + b in w", nth=1, link=(0, 1), **den,
      num=pair(lambda q: grad(lambda w: w @ q["x"] + q["b"], q["w"]), lambda q: q["x"]))
    A(64, "derivative", "right", "chain rule with dz/dw = x", link=(0, 1), **den,
      num=pair(lambda q: grad(lambda w: ell_wb(q, w=w), q["w"]), lambda q: (yhat(q) - q["yb"]) * q["x"]))
    A(64, "derivative", "right", "dz/db = 1", link=(1, 1), **ent,
      num=pair(lambda q: dscalar(lambda b: ell_wb(q, b=b), q["b"]), lambda q: yhat(q) - q["yb"]))
    A(66, "definition", "right", "batched predictions", nth=2)
    A(67, "definition", "right", "mean loss")
    A(69, "derivative", "right", "mean of the per-example gradients", link=(0, 1), **den,
      num=pair(lambda q: grad(lambda w: Lmean(q, w), q["w"]), lambda q: q["X"].T @ (sig(q["X"] @ q["w"] + q["b"]) - q["yvec"]) / n))
    A(73, "shape", "right", "one input", nth=0)
    for k, why in enumerate(["first-layer weights", "first-layer bias", "second-layer weights", "second-layer bias"]):
        A(74, "shape", "right", why, nth=k)
    for g, why in enumerate(["first pre-activation", "hidden activation (sigmoid)", "logits", "softmax output"]):
        A(77, "definition", "right", why, link=(g, 1))
    A(79, "definition", "right", "cross-entropy", nth=0)
    A(79, "assumption", "right", "one-hot label", nth=2)
    A(80, "definition", "right", "notation for the output-layer gradient", nth=0)
    A(80, "definition", "right", "notation for the hidden-layer gradient", nth=1)
    gz2 = lambda q: grad(lambda z: LM(q, z2=z), mlp(q)["z2"])
    A(83, "derivative", "right", "softmax cross-entropy with 1^T y = 1 (delta_2 is dL/dz_2, line 80)", link=(0, 1), **den, num=pair(gz2, d2))
    t, w, fn = P(err, ("right", "outer product, c x h like W_2", lambda q: np.outer(d2(q), mlp(q)["a1"])),
                 ("wrong", "planted: transpose; a_1 delta_2^T is h x c (the numerator-layout form, line 98), in these denominator-layout notes it must be delta_2 a_1^T", lambda q: np.outer(mlp(q)["a1"], d2(q))))
    A(83, "derivative", t, w, link=(1, 1), **den, num=pair(lambda q: gM(q, "W2"), fn))
    A(83, "derivative", "right", "dz_2/db_2 = I", link=(2, 1), **den, num=pair(lambda q: gM(q, "b2"), d2))
    ga1 = lambda q: grad(lambda a: LM(q, a1=a), mlp(q)["a1"])
    A(83, "derivative", "right", "back through W_2", link=(3, 1), **den, num=pair(ga1, lambda q: q["W2"].T @ d2(q)))
    A(83, "derivative", "right", "elementwise activation: Hadamard with sigma'", link=(4, 1), **den,
      num=pair(gz1, lambda q: ga1(q) * sig(mlp(q)["z1"]) * (1 - sig(mlp(q)["z1"]))))
    t, w, fn = P(err, ("right", "sigma'(z_1) = a_1 (1 - a_1)", lambda q: (q["W2"].T @ d2(q)) * mlp(q)["a1"] * (1 - mlp(q)["a1"])),
                 ("wrong", "planted: missing term; sigma'(z_1) = a_1 (1 - a_1), not a_1", lambda q: (q["W2"].T @ d2(q)) * mlp(q)["a1"]))
    A(83, "derivative", t, w, link=(4, 2), vs_head=t, **den, num=pair(lambda q: ga1(q) * sig(mlp(q)["z1"]) * (1 - sig(mlp(q)["z1"])), fn))
    A(83, "derivative", "right", "outer product, h x d like W_1", link=(5, 1), **den, num=pair(lambda q: gM(q, "W1"), lambda q: np.outer(d1(q), q["x"])))
    A(83, "derivative", "right", "dz_1/db_1 = I", link=(6, 1), **den, num=pair(lambda q: gM(q, "b1"), d1))
    A(94, "shape", "right", "the gradient has W_1's shape", nth=0)
    A(96, "derivative", "right", "unusual but right: (x delta_1^T)^T = delta_1 x^T", link=(0, 1), **den,
      num=pair(lambda q: gM(q, "W1"), lambda q: np.outer(q["x"], d1(q)).T))
    A(97, "derivative", "right", "expanded: (y-hat - y) a_1^T", link=(0, 1), **den,
      num=pair(lambda q: gM(q, "W2"), lambda q: np.outer(mlp(q)["yh"], mlp(q)["a1"]) - np.outer(q["y1"], mlp(q)["a1"])))
    A(98, "derivative", "right", "numerator layout: the transpose of the denominator-layout gradient", nth=0, link=(0, 1), layout="numerator",
      num=pair(lambda q: gM(q, "W2").T, lambda q: np.outer(mlp(q)["a1"], d2(q))))
    A(98, "shape", "right", "a_1 delta_2^T is h x c", nth=1)
    A(102, "shape", "right", "mini-batch, rows are examples", nth=1)
    for k, why in enumerate(["batched first layer (W_1 is h x d)", "hidden activations", "batched logits"]):
        A(103, "definition", "right", why, nth=k)
    A(104, "definition", "right", "row-wise softmax")
    A(105, "definition", "right", "batch-mean cross-entropy", nth=0)
    A(105, "shape", "right", "one-hot label rows", nth=1)
    A(106, "definition", "right", "residual without 1/m", nth=0)
    gBW2 = lambda q: grad(lambda W: batch(q, W2=W)["L"], q["W2"])
    t, w, fn = P(err, ("right", "c x m times m x h: W_2's shape; the batch mean gives the 1/m", lambda q: (batch(q)["P"] - q["YB"]).T @ batch(q)["A1"] / m),
                 ("wrong", "planted: dropped 1/m; right: (1/m) Delta_2^T A_1", lambda q: (batch(q)["P"] - q["YB"]).T @ batch(q)["A1"]))
    A(108, "derivative", t, w, link=(0, 1), **den, num=pair(gBW2, fn))
    A(108, "derivative", "right", "column sums of Delta_2, over m", link=(1, 1), **den,
      num=pair(lambda q: grad(lambda b: batch(q, b2=b)["L"], q["b2"]), lambda q: (batch(q)["P"] - q["YB"]).T @ np.ones(m) / m))
    return D

def build():
    label("course_notes_regression_mlp_en.md")
    label("course_notes_regression_mlp_en.err.md", err=True)
