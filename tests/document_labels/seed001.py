"""Labels and numeric checks for seed_001_softmax_ce_zh.md and its corrupted copies
(and, through the cell map, the notebook seed_001_softmax_ce_zh.ipynb)."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, jac

C, D = 3, 4
def inst(rng):
    W = rng.normal(size=(C, D)); b = rng.normal(size=C); x = rng.normal(size=D)
    t = rng.integers(C); y = np.eye(C)[t]
    z = W @ x + b; yh = softmax(z)
    i, j = rng.integers(C), rng.integers(D)
    return dict(W=W, b=b, x=x, y=y, t=t, z=z, yh=yh, i=i, j=j)

def CE_W(W, b, x, y): return -y @ np.log(softmax(W @ x + b))
def e(i): return np.eye(C)[i]
def dCE_dWij(q):
    return grad(lambda w: CE_W(w, q["b"], q["x"], q["y"]), q["W"])[q["i"], q["j"]]
def dCE_dz(q): return grad(lambda z: -q["y"] @ np.log(softmax(z)), q["z"])
def dz_dWij(q):
    def zij(w):
        W = q["W"].copy(); W[q["i"], q["j"]] = w; return W @ q["x"] + q["b"]
    h = 1e-6; w0 = q["W"][q["i"], q["j"]]
    return (zij(w0+h) - zij(w0-h)) / (2*h)
def den_jac(f, x): return jac(f, x).T          # denominator layout: [i, j] = d f_j / d x_i
def S_diag(q): return np.diag(q["yh"]) - np.outer(q["yh"], q["yh"])

def num_pair(fa, fb, desc="lhs vs rhs", expect=None):
    def n(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return n

def P(variant, kind, right, wrong):
    """pick the (truth, why[, extra]) tuple for the planted variant"""
    return wrong if variant == kind else right

def label(fname, variant=None, docobj=None, linemap=None):
    d = docobj or Doc(fname)
    A = lambda line, *a, **k: add(d, *((line,) + a), **k) if linemap is None else add(d, linemap[line][1], *a, cell=linemap[line][0], **k)
    A(9, "definition", "right", "W stacks the class weight vectors; with W in R^{c x d} (line 13) the w_j must be its rows (read [w_1,...,w_c] as w_j^T stacked)")
    A(12, "shape", "right", "x is d x 1", nth=1)
    A(13, "shape", "right", "W is c x d", nth=1)
    A(14, "shape", "right", "b is c x 1", nth=1)
    A(15, "definition", "right", "the linear classifier", nth=0)
    A(15, "shape", "right", "z is c x 1", nth=1)
    A(16, "shape", "right", "y-hat is c x 1", nth=1)
    A(17, "definition", "right", "the j-th standard basis vector", link=(0, 1))
    A(17, "shape", "right", "e_j is in R^{c x 1}", link=(0, 2))
    A(19, "shape", "right", "y is c x 1", nth=1)
    A(20, "assumption", "right", "y is one-hot (so 1_c^T y = 1)")
    A(23, "definition", "right", "z = Wx + b", link=(0, 1))
    A(23, "definition", "right", "y-hat = softmax(z)", link=(1, 1))
    A(23, "definition", "right", "softmax written out", link=(1, 2))
    A(26, "definition", "right", "the cross-entropy loss")
    A(28, "assumption", "right", "the one-hot label has its 1 at k", nth=1)
    def n28a(rng):
        q = inst(rng); z = q["z"]; k = q["t"]
        return [("-log yh_k vs -log(exp z_k / sum exp z_i)", -np.log(q["yh"][k]), -np.log(np.exp(z[k]) / np.exp(z).sum()), None)]
    def n28b(rng):
        q = inst(rng); z = q["z"]; k = q["t"]
        return [("-log(softmax_k) vs -z_k + log sum exp", -np.log(np.exp(z[k]) / np.exp(z).sum()), -z[k] + np.log(np.exp(z).sum()), None)]
    A(28, "other", "right", "substitutes the softmax (equals CE(z) because y_k = 1)", nth=2, link=(0, 1), case="y_k = 1", num=n28a)
    A(28, "other", "right", "log of a quotient", nth=2, link=(0, 2), vs_head="right", num=n28b)

    def tr1(q): return dCE_dz(q) @ dz_dWij(q)
    def tr2(q):
        dyh_dz = den_jac(softmax, q["z"]); dCE_dyh = grad(lambda p: -q["y"] @ np.log(p), q["yh"])
        return (dyh_dz @ dCE_dyh) @ dz_dWij(q)
    A(31, "derivative", "right", "chain rule through z; the trace of a scalar is the scalar", link=(0, 1), layout="denominator",
      num=num_pair(dCE_dWij, tr1, "dCE/dW_ij (FD) vs tr((dCE/dz)^T dz/dW_ij)"))
    A(31, "derivative", "right", "denominator-layout chain rule dCE/dz = (dy/dz)(dCE/dy), right to left", link=(0, 2), layout="denominator", vs_head="right",
      num=num_pair(tr1, tr2, "tr((dCE/dz)^T dz/dWij) vs tr(((dyh/dz)(dCE/dyh))^T dz/dWij)"))

    ex = lambda q: np.exp(q["z"]); s1 = lambda q: np.exp(q["z"]).sum()
    f38 = [
        lambda q: den_jac(softmax, q["z"]),
        lambda q: den_jac(lambda z: np.exp(z) / np.exp(z).sum(), q["z"]),
        lambda q: den_jac(np.exp, q["z"]) / s1(q) + np.outer(grad(lambda z: 1 / np.exp(z).sum(), q["z"]), ex(q)),
        lambda q: np.diag(ex(q)) / s1(q) - np.outer(ex(q), ex(q)) / s1(q)**2,
        lambda q: np.diag(ex(q) / s1(q)) - np.outer(ex(q) / s1(q), ex(q) / s1(q)),
        lambda q: np.diag(softmax(q["z"])) - np.outer(softmax(q["z"]), softmax(q["z"])),
        lambda q: S_diag(q),
    ]
    why38 = ["restates y-hat = exp(z)/(1^T exp(z))",
             "product rule in denominator layout: d(a u)/dz = a du/dz + (da/dz) u^T",
             "d exp(z)/dz = diag(exp z), d(1/s)/dz = -exp(z)/s^2",
             "regrouped",
             "softmax(z) = exp(z)/(1^T exp(z))",
             "the softmax Jacobian (symmetric, so the same in both layouts)"]
    for k in range(1, 7):
        truth, why = ("right", why38[k-1])
        vh = None if k == 1 else "right"
        fb = f38[k]
        if k == 6:
            truth, why, vh, fb = P(variant, "missing_term", (truth, why, vh, fb),
                ("wrong", "planted: missing term (the -y-hat y-hat^T of the softmax Jacobian dropped); right: diag(y-hat) - y-hat y-hat^T",
                 "wrong", lambda q: np.diag(q["yh"])))
        A(38, "derivative", truth, why, link=(0, k), layout="denominator", vs_head=vh, num=num_pair(f38[k-1], fb, f"link {k}"))

    # line 42: the \( \) delimiters of the published post are swapped
    A(42, "definition", "right", "a is a scalar function and u a vector function of x (the post's \\( \\) delimiters are swapped on this line: the math lies between \\) and \\()",
      latex=r"a=a( \boldsymbol{ x}),\boldsymbol{u}= \boldsymbol{u}( \boldsymbol{x})", delimiters="broken")
    def n42(num_layout):
        def n(rng):
            M, N = 3, 4
            Aa = rng.normal(size=N); B = rng.normal(size=(M, N))
            a = lambda x: np.sin(Aa @ x) + 2.0
            u = lambda x: np.tanh(B @ x)
            x = rng.normal(size=N)
            Ju = jac(u, x)                 # numerator: M x N
            ga = grad(a, x)                # N
            Jau = jac(lambda x: a(x) * u(x), x)
            if num_layout:
                return [("numerator: J(au) vs a J(u) + u (da/dx)", Jau, a(x) * Ju + np.outer(u(x), ga), True)]
            return [("denominator: J(au)^T vs a J(u)^T + (da/dx) u^T", Jau.T, a(x) * Ju.T + np.outer(ga, u(x)), None)]
        return n
    A(42, "derivative", "ill-posed", "the denominator of the left side lacks \\partial (\\frac{\\partial a u}{ x}); read as d(au)/dx in numerator layout the identity a du/dx + u da/dx is right. Delimiters swapped on this line",
      latex=r"\frac{\partial a \boldsymbol{u}}{ \boldsymbol{x}}=a\frac{\partial \boldsymbol{u}}{\partial \boldsymbol{x}}+ \boldsymbol{u}\frac{\partial a}{\partial \boldsymbol{x}}",
      layout="numerator", delimiters="broken", num=n42(True))
    A(42, "derivative", "right", "product rule in denominator layout (a scalar, u a vector). Delimiters swapped on this line",
      latex=r"\frac{\partial a \boldsymbol{u}}{\partial \boldsymbol{x}}=a\frac{\partial \boldsymbol{u}}{\partial \boldsymbol{x}}+\frac{\partial a}{\partial \boldsymbol{x}} \boldsymbol{u}^T",
      layout="denominator", delimiters="broken", num=n42(False))

    def dCE_dp(q): return grad(lambda p: -q["y"] @ np.log(p), q["yh"])
    def chain46(q):
        p = q["yh"]
        return den_jac(np.log, p) @ grad(lambda L: -q["y"] @ L, np.log(p))
    A(46, "derivative", "right", "chain rule, denominator layout (right to left), y-hat treated as the variable", link=(0, 1), layout="denominator",
      num=num_pair(dCE_dp, chain46))
    t46, w46, f46 = P(variant, "factor2", ("right", "d log(y)/dy = diag(y)^{-1}, d(-y^T l)/dl = -y", lambda q: np.linalg.inv(np.diag(q["yh"])) @ (-q["y"])),
                      ("wrong", "planted: factor 2; right: (diag(y-hat))^{-1}(-y) = -y ./ y-hat", lambda q: 2 * np.linalg.inv(np.diag(q["yh"])) @ (-q["y"])))
    A(46, "derivative", t46, w46, link=(0, 2), layout="denominator", vs_head=t46, num=num_pair(chain46, f46))
    A(47, "definition", "right", "the k-th entry of z = Wx + b", nth=2)

    A(48, "derivative", "right", "entrywise definition of the symbol, written as a column (the numerator-layout orientation for a vector by a scalar, although the post declares denominator layout); used so in the trace of line 31",
      link=(0, 1), layout="numerator", num=num_pair(dz_dWij, lambda q: np.array([grad(lambda w: (w @ q["x"] + q["b"])[r], q["W"])[q["i"], q["j"]] for r in range(C)])))
    A(48, "derivative", "right", "z_k depends on W_ij only for k = i, with coefficient x_j", link=(0, 2), layout="numerator", vs_head="right",
      num=num_pair(lambda q: np.array([grad(lambda w: (w @ q["x"] + q["b"])[r], q["W"])[q["i"], q["j"]] for r in range(C)]), lambda q: q["x"][q["j"]] * e(q["i"])))
    t48, w48, f48 = P(variant, "swap_ij", ("right", "x_j in row i", lambda q: q["x"][q["j"] % C] * e(q["i"])),
                      ("wrong", "planted: swapped indices i and j; right: x_j e_i (x_i e_j is even undefined when j > c)", lambda q: q["x"][q["i"]] * e(q["j"] % C)))
    A(48, "derivative", t48, w48, link=(0, 3), layout="numerator", vs_head=t48, num=num_pair(lambda q: q["x"][q["j"] % C] * e(q["i"]), f48))

    f53 = [dCE_dWij,
           lambda q: ((S_diag(q) @ np.linalg.inv(np.diag(q["yh"])) @ (-q["y"])) @ (q["x"][q["j"]] * e(q["i"]))),
           lambda q: ((q["yh"] * q["y"].sum() - q["y"]) @ (q["x"][q["j"]] * e(q["i"]))),
           lambda q: ((q["yh"] - q["y"]) @ (q["x"][q["j"]] * e(q["i"]))),
           lambda q: (q["yh"] - q["y"])[q["i"]] * q["x"][q["j"]]]
    why53 = ["substitutes eq1-eq3 into line 31",
             "(diag(y)-yy^T) diag(y)^{-1} (-y_true) = y-hat (1^T y) - y: exact",
             "1_c^T y = 1 (one-hot); the trace of a scalar dropped",
             "err_i = (y-hat - y)_i, defined on line 55"]
    for k in range(1, 5):
        A(53, "derivative", "right", why53[k-1], link=(0, k), layout="entrywise" if k == 4 else "denominator",
          vs_head=None if k == 1 else "right", case="1_c^T y = 1" if k == 3 else None, num=num_pair(f53[k-1], f53[k], f"link {k}"))
    A(55, "definition", "right", "the residual vector's i-th entry", nth=0)
    gW = lambda q: grad(lambda w: CE_W(w, q["b"], q["x"], q["y"]), q["W"])
    t58, w58, f58 = P(variant, "transpose", ("right", "the outer product (y-hat - y) x^T, c x d like W", lambda q: np.outer(q["yh"] - q["y"], q["x"])),
                      ("wrong", "planted: transpose; x (y-hat - y)^T is d x c; right: (y-hat - y) x^T", lambda q: np.outer(q["x"], q["yh"] - q["y"])))
    A(58, "derivative", t58, w58, link=(0, 1), layout="denominator", num=num_pair(gW, f58, "dCE/dW (FD) vs claim"))
    gb = lambda q: grad(lambda bb: CE_W(q["W"], bb, q["x"], q["y"]), q["b"])
    t61, w61, f61 = P(variant, "sign", ("right", "dz/db = I", lambda q: q["yh"] - q["y"]),
                      ("wrong", "planted: sign; right: y-hat - y", lambda q: q["y"] - q["yh"]))
    A(61, "derivative", t61, w61, link=(0, 1), layout="denominator", num=num_pair(gb, f61, "dCE/db (FD) vs claim"))
    A(64, "other", "right", "SGD update of W with learning rate lambda", link=(0, 1))
    A(64, "other", "right", "SGD update of b", link=(1, 1))
    return d

VARIANTS = ["transpose", "sign", "missing_term", "swap_ij", "factor2"]
