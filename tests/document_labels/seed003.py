"""Labels and numeric checks for seed_003_mlp_notes_zh.md (handwritten batched 3-layer MLP notes).
Reading adopted (R1, the project's): L is the batch-mean cross-entropy (1/m) sum_s Loss_s;
grad-y_pred = Yhat - Y (line 28, no 1/m); grad-z_l follows the notes' convention grad-z_3 = grad-y_pred,
grad-z_l = (grad-z_{l+1} W_{l+1}^T) * f'(z^{(l)}) (no 1/m), so that dL/dW_l = (1/m) a^{(l-1)T} grad-z_l.
Shapes: a^{(1)} m x 128, W_2 128 x 64, W_3 64 x 10 -> here d1 = 6, d2 = 4, c = 3, m = 5, input d0 = 7."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, jac, dscalar

K = 4                       # classes in the per-sample part
m, d0, d1, d2, c = 5, 7, 6, 4, 3
f = np.tanh
fp = lambda u: 1 - np.tanh(u)**2

def inst(rng, case=None):
    z = rng.normal(size=K); t = int(rng.integers(K))
    j = t if case == "j=t" else int((t + 1 + rng.integers(K - 1)) % K)
    y = np.eye(K)[t]
    X = rng.normal(size=(m, d0)); W1 = rng.normal(size=(d0, d1)); b1 = rng.normal(size=d1)
    W2 = rng.normal(size=(d1, d2)); b2 = rng.normal(size=d2); W3 = rng.normal(size=(d2, c)); b3 = rng.normal(size=c)
    Y = np.eye(c)[rng.integers(c, size=m)]
    return dict(z=z, t=t, j=j, y=y, X=X, W1=W1, b1=b1, W2=W2, b2=b2, W3=W3, b3=b3, Y=Y)

def fwd(q, **over):
    p = dict(q); p.update({k: v for k, v in over.items() if k in q})
    r = {}
    def layer(name, val): r[name] = over.get(name, val); return r[name]
    z1 = layer("z1", p["X"] @ p["W1"] + p["b1"]); a1 = layer("a1", f(z1))
    z2 = layer("z2", a1 @ p["W2"] + p["b2"]); a2 = layer("a2", f(z2))
    z3 = layer("z3", a2 @ p["W3"] + p["b3"])
    r["Yh"] = softmax(z3, axis=1)
    r["L"] = -np.sum(p["Y"] * np.log(r["Yh"])) / m
    return r

def Lof(q, **over): return fwd(q, **over)["L"]
def G3(q): r = fwd(q); return r["Yh"] - q["Y"]                 # grad-y_pred = grad-z_3
def G2(q): r = fwd(q); return (G3(q) @ q["W3"].T) * fp(r["z2"])  # the notes' grad-z_2 (no 1/m)
def dW3(q): return grad(lambda w: Lof(q, W3=w), q["W3"])
def db3(q): return grad(lambda b: Lof(q, b3=b), q["b3"])
def dW2(q): return grad(lambda w: Lof(q, W2=w), q["W2"])
def da2(q): r = fwd(q); return grad(lambda a: Lof(q, a2=a), r["a2"])
def dz3(q): r = fwd(q); return grad(lambda z: Lof(q, z3=z), r["z3"])

def dz2(q): r = fwd(q); return grad(lambda z: Lof(q, z2=z), r["z2"])
def chainW2(q):
    r = fwd(q); Jz = jac(lambda w: r["a1"] @ w + q["b2"], q["W2"])
    return np.einsum("sk,skpq->pq", dz2(q), Jz)
def chainA2(q):
    r = fwd(q); Jz = jac(lambda a: a @ q["W3"] + q["b3"], r["a2"])
    return np.einsum("sk,skpq->pq", dz3(q), Jz)
def chain_contract(q):
    r = fwd(q); Jz = jac(lambda w: (r["a2"] @ w + q["b3"]), q["W3"])      # (m, c, d2, c)
    return np.einsum("sk,skpq->pq", dz3(q), Jz)

# per-sample softmax part
def yh(q): return softmax(q["z"])
def dyh(q, a, b): return grad(lambda z: softmax(z)[a], q["z"])[b]
def loss_z(q): return lambda z: -np.log(softmax(z)[q["t"]])
def ez(q, a): return np.exp(q["z"][a])
def sz(q): return np.exp(q["z"]).sum()

def pair(fa, fb, desc="lhs vs rhs", case=None, expect=None):
    def n(rng):
        q = inst(rng, case); return [(desc, fa(q), fb(q), expect)]
    return n
def multi(*items, case=None):
    """items: (desc, fa, fb, expect)"""
    def n(rng):
        q = inst(rng, case); return [(d, fa(q), fb(q), e) for d, fa, fb, e in items]
    return n
def P(variant, kind, right, wrong): return wrong if variant == kind else right

def label(fname, variant=None):
    d = Doc(fname)
    A = lambda *a, **k: add(d, *a, **k)
    A(7, "definition", "right", "sloppy: softmax(z_j) means the j-th entry of softmax(z); this y_j is the prediction, written \\hat{y}_j from line 9 on", link=(0, 1))
    A(7, "definition", "right", "the softmax written out", link=(0, 2))
    A(9, "definition", "right", "per-sample cross-entropy (sum over the classes j)")
    A(11, "assumption", "right", "the true class is t", nth=1)
    A(11, "assumption", "right", "one-hot label", nth=2)
    A(11, "other", "right", "the loss under the one-hot assumption", nth=3, case="y_t = 1",
      num=pair(lambda q: -q["y"] @ np.log(yh(q)), lambda q: -np.log(yh(q)[q["t"]])))
    t, w, fn = P(variant, "factor2", ("right", "d(-log p)/dp", lambda q: -1 / yh(q)[q["t"]]),
                 ("wrong", "planted: factor 2; right: -1/\\hat{y}_t", lambda q: -2 / yh(q)[q["t"]]))
    A(11, "derivative", t, w, nth=4, layout="entrywise",
      num=pair(lambda q: dscalar(lambda p: -np.log(p), yh(q)[q["t"]]), fn))
    A(11, "assumption", "right", "case condition for line 13", nth=5)
    cjt = dict(case="j = t", layout="entrywise")
    meant = lambda q: (ez(q, q["t"]) * sz(q) - ez(q, q["t"]) * ez(q, q["t"])) / sz(q)**2
    misread = lambda q: (ez(q, q["t"]) * sz(q) - ez(q, q["t"]) * ez(q, q["t"])) / (np.exp(q["z"])**2).sum()
    step4 = lambda q: ez(q, q["t"]) / sz(q) - (ez(q, q["t"]) / sz(q))**2
    A(13, "derivative", "right", "restates \\hat{y}_t", link=(0, 1), **cjt,
      num=pair(lambda q: dyh(q, q["t"], q["t"]), lambda q: grad(lambda z: np.exp(z[q["t"]]) / np.exp(z).sum(), q["z"])[q["t"]]))
    dbl = "the denominator \\sum_k e^{z_k}^2 is a double superscript (not valid TeX); (\\sum_k e^{z_k})^2 is meant"
    A(13, "derivative", "ill-posed", dbl + ", with which the quotient rule is right; read as \\sum_k (e^{z_k})^2 it is wrong", link=(0, 2), vs_head="ill-posed", **cjt,
      num=multi(("meant: (sum e)^2", lambda q: dyh(q, q["t"], q["t"]), meant, True), ("misread: sum (e^2)", lambda q: dyh(q, q["t"], q["t"]), misread, False)))
    A(13, "derivative", "ill-posed", dbl + " (left side of this link); with it the split is right", link=(0, 3), vs_head="right", **cjt,
      num=multi(("meant", meant, step4, True), ("vs head", lambda q: dyh(q, q["t"], q["t"]), step4, True)))
    t, w, fn = P(variant, "missing_term", ("right", "\\hat{y}_t = e^{z_t}/\\sum_k e^{z_k}", lambda q: yh(q)[q["t"]] * (1 - yh(q)[q["t"]])),
                 ("wrong", "planted: missing term; right: \\hat{y}_t (1 - \\hat{y}_t)", lambda q: yh(q)[q["t"]]))
    A(13, "derivative", t, w, link=(0, 4), vs_head=t, **cjt, num=pair(step4, fn))
    A(15, "assumption", "right", "case condition for line 17", nth=0)
    A(17, "derivative", "ill-posed", "index mismatch: the left side \\partial\\hat{y}_t/\\partial z_t has no j; \\partial\\hat{y}_t/\\partial z_j = -\\hat{y}_t\\hat{y}_j is meant (right for j != t); read literally it is false, \\partial\\hat{y}_t/\\partial z_t = \\hat{y}_t(1 - \\hat{y}_t)",
      case="j != t", layout="entrywise",
      num=multi(("meant: d yhat_t / d z_j", lambda q: dyh(q, q["t"], q["j"]), lambda q: -yh(q)[q["t"]] * yh(q)[q["j"]], True),
                ("literal: d yhat_t / d z_t", lambda q: dyh(q, q["t"], q["t"]), lambda q: -yh(q)[q["t"]] * yh(q)[q["j"]], False)))
    # line 20: the j = t case (its label j=t stands on line 22)
    f20 = [lambda q: grad(loss_z(q), q["z"])[q["t"]],
           lambda q: dscalar(lambda p: -np.log(p), yh(q)[q["t"]]) * dyh(q, q["t"], q["t"]),
           lambda q: -1 / yh(q)[q["t"]] * yh(q)[q["t"]] * (1 - yh(q)[q["t"]]),
           lambda q: yh(q)[q["t"]] - 1,
           lambda q: yh(q)[q["t"]] - q["y"][q["t"]]]
    why20 = ["chain rule: L = -log \\hat{y}_t depends on z only through \\hat{y}_t (case j = t: its label stands on line 22, after the chain)",
             "lines 11 and 13 substituted", "\\hat{y}_t cancels", "y_t = 1"]
    for k in range(1, 5):
        A(20, "derivative", "right", why20[k-1], link=(0, k), vs_head=None if k == 1 else "right", **cjt, num=pair(f20[k-1], f20[k], case="j=t"))
    A(22, "assumption", "right", "case label of the chain on line 20 (written after it)", nth=0)
    A(24, "assumption", "right", "case condition for the chain on this line", nth=0)
    cnt = dict(case="j != t", layout="entrywise")
    f24 = [lambda q: grad(loss_z(q), q["z"])[q["j"]],
           lambda q: dscalar(lambda p: -np.log(p), yh(q)[q["t"]]) * dyh(q, q["t"], q["j"]),
           lambda q: -1 / yh(q)[q["t"]] * (-yh(q)[q["t"]] * yh(q)[q["j"]]),
           lambda q: yh(q)[q["j"]],
           lambda q: yh(q)[q["j"]] - q["y"][q["j"]],
           lambda q: yh(q)[q["j"]] - 0]
    why24 = ["chain rule through \\hat{y}_t", "line 11 and the j != t derivative substituted", "\\hat{y}_t cancels", "y_j = 0 for j != t", "y_j = 0"]
    for k in range(1, 6):
        t, w, fn = ("right", why24[k-1], f24[k])
        if k == 5:
            t, w, fn = P(variant, "swap_jt", (t, w, fn), ("wrong", "planted: swapped indices j and t; right: \\hat{y}_j - 0", lambda q: yh(q)[q["t"]] - 0))
        A(24, "derivative", t, w, nth=1, link=(0, k), vs_head=None if k == 1 else t, **cnt, num=pair(f24[k-1], fn))
    def n26(fn):
        def n(rng):
            return [(f"dL/dz_j (FD) vs claim, {cs}", grad(loss_z(q), q["z"])[q["j"]], fn(q), None) for cs in ("j=t", "j!=t") for q in [inst(rng, cs)]]
        return n
    t, w, fn = P(variant, "sign", ("right", "both cases together: the softmax cross-entropy gradient", lambda q: yh(q)[q["j"]] - q["y"][q["j"]]),
                 ("wrong", "planted: sign; right: \\hat{y}_j - y_j", lambda q: q["y"][q["j"]] - yh(q)[q["j"]]))
    A(26, "derivative", t, w, link=(0, 1), layout="entrywise", num=n26(fn))
    A(28, "definition", "right", "grad-y_pred: the per-sample output gradients stacked, \\hat{Y} - Y (m x 10), without 1/m")
    A(29, "shape", "right", "the shape of grad-y_pred (continues line 28)")
    A(33, "derivative", "ill-posed", "z^{(1)} where z^{(3)} is meant (z^{(1)} is never defined; as layer 1's pre-activation it does not depend on w_3) and a stray superscript on w_3^{(1)}; through z^{(3)} the chain rule is right",
      num=multi(("meant: chain rule through z3", dW3, chain_contract, True)))
    A(35, "definition", "ill-posed", "w_3 (64 x 10) times a^{(2)} (m x 64, line 36) does not conform; the batched layer is z^{(3)} = a^{(2)} w_3 + b_3 (b_3 added to every row)")
    A(36, "shape", "right", "the shapes of w_3 and a^{(2)}, written under them")
    A(38, "derivative", "ill-posed", "z^{(1)} for z^{(3)}; and \\partial z^{(3)}/\\partial w_3 is a 4-index tensor (a^{(2)}_{sp}\\delta_{kq}), of which a^{(2)} is only the factor", link=(0, 1))
    A(38, "shape", "right", "a^{(2)} is m x 64", link=(0, 2))
    A(40, "shape", "right", "a^{(2)T} (64 x m) times grad-y_pred (m x 10)", link=(0, 1))
    A(41, "shape", "right", "the product is 64 x 10, W_3's shape (continues line 40)", continues=40)
    meantW3 = lambda q: fwd(q)["a2"].T @ G3(q) / m
    A(43, "derivative", "ill-posed", "grad-y_true is never defined (grad-y_pred = y_pred - y_true is, line 28); with grad-y_pred it is the right (1/m) a^{(2)T}(\\hat{Y} - Y) for the batch-mean loss",
      layout="denominator", num=multi(("meant: grad-y_pred", dW3, meantW3, True)))
    A(45, "derivative", "ill-posed", "z^{(1)} where z^{(3)} is meant", link=(0, 1))
    A(45, "derivative", "ill-posed", "left side through z^{(1)}; right side: np.sum without axis sums all m x 10 entries to a scalar; with axis=0 (line 46) (1/m) times the column sums is the right dL/db_3",
      link=(0, 2), vs_head="ill-posed", layout="denominator",
      num=multi(("meant: axis=0", db3, lambda q: G3(q).sum(axis=0) / m, True), ("literal: np.sum of everything", db3, lambda q: np.array(G3(q).sum() / m), False)))
    A(46, "shape", "right", "summing over axis 0 takes m x 10 to 10")
    A(48, "shape", "right", "dL/da^{(2)} is m x 64", link=(0, 1))
    A(48, "derivative", "ill-posed", "z^{(1)} where z^{(3)} is meant", link=(0, 2))
    A(48, "derivative", "ill-posed", "left side through z^{(1)}; grad-y_true is never defined. With grad-y_pred, (1/m)(\\hat{Y} - Y) w_3^T is the right dL/da^{(2)} for the batch-mean loss (the 1/m belongs here; lines 100-117 argue the opposite)",
      link=(0, 3), vs_head="ill-posed", layout="denominator",
      num=multi(("meant: (1/m) G3 W3^T", da2, lambda q: G3(q) @ q["W3"].T / m, True), ("without 1/m", da2, lambda q: G3(q) @ q["W3"].T, False)))
    A(48, "shape", "right", "(m x 10)(10 x 64) = m x 64", link=(0, 4))
    A(49, "shape", "right", "grad-y_true (read as grad-y_pred) is m x 10")
    A(50, "shape", "right", "w_3 is 64 x 10")
    A(53, "derivative", "ill-posed", "a^{(1)} where a^{(2)} is meant: \\partial L/\\partial a^{(1)} (m x 128) cannot multiply \\partial a^{(2)}/\\partial z^{(2)} (m x 64); the right chain is \\partial L/\\partial z^{(2)} = \\partial L/\\partial a^{(2)} \\odot f'(z^{(2)})",
      link=(0, 1), num=multi(("meant: dL/da2 * f'(z2)", lambda q: dz2(q), lambda q: da2(q) * fp(fwd(q)["z2"]), True)))
    A(55, "derivative", "right", "chain rule (the product is the contraction over the entries of z^{(2)})",
      num=pair(dW2, chainW2, "dL/dW2 (FD) vs contraction of dL/dz2 with dz2/dW2"), latex=r"\frac{\partial L}{\partial W_2} = \frac{\partial L}{\partial z^{(2)}} \cdot \frac{\partial z^{(2)}}{\partial W_2}")
    A(55, "shape", "right", "a^{(1)} is m x 128", latex=r"a^{(1)} \in \mathbb{R}^{m \times 128}")
    A(55, "shape", "right", "W_2 is 128 x 64", latex=r"W_2 \in \mathbb{R}^{128 \times 64}")
    A(57, "shape", "right", "grad-z_2 is m x 64", link=(0, 1))
    conv = "implicit left side dL/dW_2 (lines 55 and 61); grad-z_2 is not defined in the notes: with their convention grad-z_3 = grad-y_pred (no 1/m), grad-z_2 = (grad-z_3 W_3^T) * f'(z^{(2)})"
    t, w, fn = ("right", conv + ", and (1/m) a^{(1)T} grad-z_2 is the right dL/dW_2", lambda q: fwd(q)["a1"].T @ G2(q) / m)
    t, w, fn = P(variant, "drop_1m", (t, w, fn), ("wrong", "planted: dropped 1/m; " + conv + "; right: (1/m) np.dot(a_1^T, grad-z_2)", lambda q: fwd(q)["a1"].T @ G2(q)))
    t, w, fn = P(variant, "transpose", (t, w, fn), ("wrong", "planted: transpose; (1/m) grad-z_2^T a_1 is 64 x 128, W_2 is 128 x 64; " + conv + "; right: (1/m) np.dot(a_1^T, grad-z_2)", lambda q: G2(q).T @ fwd(q)["a1"] / m))
    A(57, "derivative", t, w, link=("x", 2, 0), layout="denominator", num=pair(dW2, fn, "dL/dW2 (FD) vs claim"))
    A(59, "derivative", "right", "chain rule through z^{(3)}", link=(0, 1), num=pair(dW3, chain_contract, "dL/dW3 (FD) vs contraction"))
    A(59, "derivative", "ill-posed", "grad-y_pred (m x 10) times a^{(2)} (m x 64) does not conform; (1/m) a^{(2)T} grad-y_pred is meant", link=(0, 2), vs_head="ill-posed")
    A(59, "derivative", "ill-posed", "the left side of this link does not conform (see the previous link); the right side (1/m) a_2^T(\\hat{Y} - Y) is the right dL/dW_3", link=(0, 3), vs_head="right", layout="denominator",
      num=pair(dW3, meantW3, "dL/dW3 (FD) vs (1/m) a2^T grad-y_pred", expect=True))
    A(61, "derivative", "right", "chain rule through z^{(2)}", link=(0, 1), num=pair(dW2, chainW2, "dL/dW2 (FD) vs contraction"))
    A(61, "derivative", "ill-posed", "grad-z_2 (m x 64) times a^{(1)} (m x 128) does not conform", link=(0, 2), vs_head="ill-posed")
    A(61, "derivative", "ill-posed", "(a_1^T, grad-z_2) is a pair, not a product: np.dot is missing; with it, (1/m) a_1^T grad-z_2 is the right dL/dW_2", link=(0, 3), vs_head="ill-posed", layout="denominator",
      num=pair(dW2, lambda q: fwd(q)["a1"].T @ G2(q) / m, "meant: with np.dot", expect=True))
    A(63, "derivative", "right", "chain rule through z^{(l)}", link=(0, 1), num=pair(dW2, chainW2, "at l = 2: dL/dW2 (FD) vs contraction"))
    A(63, "derivative", "ill-posed", "grad-z_l (m x d_l) times a^{(l-1)} (m x d_{l-1}) does not conform; (1/m) a^{(l-1)T} grad-z_l is meant", link=(0, 2), vs_head="ill-posed")
    A(65, "derivative", "right", "chain rule through z^{(l+1)}",
      num=pair(da2, chainA2, "at l = 2: dL/da2 (FD) vs contraction"),
      latex=r"\frac{\partial L}{\partial a^{(l)}} = \frac{\partial L}{\partial z^{(l+1)}} \cdot \frac{\partial z^{(l+1)}}{\partial a^{(l)}}")
    A(67, "derivative", "ill-posed", "W_{l+1}^{(l+1)}: a stray superscript where a transpose is meant (continues line 65)", link=(0, 1), continues=65, vs_head="ill-posed")
    A(67, "derivative", "ill-posed", "the left side has the stray superscript; as a statement of dL/da^{(l)} (vs_head): for l = 2, grad-z_3 = grad-y_pred = \\hat{Y} - Y and np.dot(\\hat{Y} - Y, W_3^T) lacks the 1/m of the batch-mean loss that line 48 has; right: (1/m) np.dot(grad-z_{l+1}, W_{l+1}^T)",
      link=(0, 2), vs_head="wrong", layout="denominator",
      num=multi(("vs head at l = 2: no 1/m", da2, lambda q: G3(q) @ q["W3"].T, False), ("with 1/m", da2, lambda q: G3(q) @ q["W3"].T / m, True)))
    A(69, "shape", "right", "annotates grad-z_{l+1}: m x d_{l+1}", nth=1)
    A(69, "shape", "right", "annotates W_{l+1}: d_l x d_{l+1}", nth=3)
    A(75, "shape", "right", "W_3 is 64 x 10")
    A(78, "derivative", "right", "chain rule through z^{(3)}", link=(0, 1), num=pair(dW3, chain_contract, "dL/dW3 (FD) vs contraction"))
    A(78, "derivative", "ill-posed", "grad-y_pred (m x 10) times a^{(2)} (m x 64) does not conform; (1/m) a^{(2)T} grad-y_pred is meant", link=(0, 2), vs_head="ill-posed")
    A(80, "shape", "right", "annotates grad-y_pred: m x 10", nth=1)
    A(80, "shape", "right", "annotates a^{(2)}: m x 64", nth=3)
    A(83, "shape", "right", "the shape of dL/dW_3 (diagram under line 78)")
    A(96, "other", "ill-posed", "garbled transcription of the diagram (a dimension label 64 beside grad-y_pred), not an equation")
    A(105, "derivative", "right", "chain rule through z^{(i+1)}", link=(0, 1), num=pair(da2, chainA2, "at i = 2: dL/da2 (FD) vs contraction"))
    A(105, "derivative", "ill-posed", "W^{(i+1)} untransposed: (m x 10)(64 x 10) per line 108 does not conform; np.dot(grad-z^{(i+1)}, W^{(i+1)T}) is meant (line 112), and for the batch-mean loss a 1/m is then still missing", link=(0, 2), vs_head="ill-posed",
      num=multi(("meant with 1/m, i = 2", da2, lambda q: G3(q) @ q["W3"].T / m, True), ("meant without 1/m, i = 2", da2, lambda q: G3(q) @ q["W3"].T, False)))
    A(108, "shape", "ill-posed", "annotates grad-z^{(i+1)} of line 105 but is written z^{(i)}; m x 10 holds for z^{(3)} only", nth=0)
    A(108, "shape", "ill-posed", "annotates W^{(i+1)} of line 105 but is written W^{(i)}; 64 x 10 is W^{(3)} only", nth=1)
    A(110, "shape", "ill-posed", "garbled: there is no t in this part (t was the true class)", nth=1)
    A(112, "other", "ill-posed", "restates the product as code; mp.dot is a typo for np.dot, and z^{(i)} stands for grad-z (line 108)")
    A(114, "shape", "right", "(m x 10)(10 x 64) gives m x 64")
    return d

VARIANTS = ["sign", "missing_term", "swap_jt", "drop_1m", "factor2", "transpose"]
