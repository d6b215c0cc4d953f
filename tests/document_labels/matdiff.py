"""Labels and numeric checks for matrix_differential_notes_zh.md and .err.md (differential method).
A differential claim dF = G(dX) is checked as the directional derivative along a random dX."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad

mm, nn, p, c, dd = 3, 4, 5, 3, 4
H = 1e-6
def dirder(F, X, E): return (F(X + H * E) - F(X - H * E)) / (2 * H)
def adj(X): return np.linalg.det(X) * np.linalg.inv(X)

def inst(rng):
    q = dict(X=rng.normal(size=(mm, nn)), E=rng.normal(size=(mm, nn)), Y=rng.normal(size=(mm, nn)), EY=rng.normal(size=(mm, nn)),
             Xs=rng.normal(size=(nn, nn)), Es=rng.normal(size=(nn, nn)), Ys=rng.normal(size=(nn, nn)),
             a=rng.normal(size=mm), b=rng.normal(size=nn), x=rng.normal(size=nn), ex=rng.normal(size=nn),
             An=rng.normal(size=(nn, nn)), Ap=rng.normal(size=(p, mm)), Bp=rng.normal(size=(nn, p)),
             W=rng.normal(size=(c, dd)), EW=rng.normal(size=(c, dd)), xd=rng.normal(size=dd), y=np.eye(c)[rng.integers(c)])
    Xp = rng.normal(size=(nn, nn)) + 2 * np.eye(nn)
    if np.linalg.det(Xp) < 0: Xp[0] *= -1
    q["Xp"] = Xp
    q["C1"] = rng.normal(size=(mm, nn)); q["C2"] = rng.normal(size=(mm, nn))
    return q

def fgen(q, X): return np.sum(np.sin(q["C1"] * X)) + (q["a"] @ X @ q["b"])**2
def pair(fa, fb, desc="lhs vs rhs", expect=None):
    def nf(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return nf
def P(err, right, wrong): return wrong if err else right

def label(fname, err=False):
    D = Doc(fname)
    A = lambda *a, **k: add(D, *a, **k)
    den = dict(layout="denominator")
    A(9, "shape", "right", "X is m x n", nth=1)
    A(9, "definition", "right", "the derivative entrywise: same shape as X (denominator layout)", nth=4, layout="denominator")
    A(15, "derivative", "right", "the total differential, for any differentiable f", link=(0, 1),
      num=pair(lambda q: dirder(lambda X: fgen(q, X), q["X"], q["E"]), lambda q: np.sum(grad(lambda X: fgen(q, X), q["X"]) * q["E"])))
    A(15, "derivative", "right", "sum of entrywise products = tr(G^T dX), for any f", link=(0, 2), vs_head="right", **den,
      num=pair(lambda q: np.sum(grad(lambda X: fgen(q, X), q["X"]) * q["E"]), lambda q: np.trace(grad(lambda X: fgen(q, X), q["X"]).T @ q["E"])))
    A(17, "other", "right", "the reading rule: holds when df = tr(G^T dX) for every dX", nth=2, layout="denominator")
    A(21, "derivative", "right", "differential of a sum (and difference)", nth=0,
      num=pair(lambda q: dirder(lambda t: q["X"] + q["Y"] + t * (q["E"] + q["EY"]), 0.0, 1.0), lambda q: q["E"] + q["EY"]))
    A(21, "derivative", "right", "product rule", nth=1,
      num=lambda rng: [("d(XY) along (dX, dY)", dirder(lambda t: (q["Xs"] + t * q["Es"]) @ (q["Ys"] + t * q["An"]), 0.0, 1.0),
                        q["Es"] @ q["Ys"] + q["Xs"] @ q["An"], None) for q in [inst(rng)]])
    A(22, "derivative", "right", "transpose is linear", nth=0, num=pair(lambda q: dirder(lambda X: X.T, q["X"], q["E"]), lambda q: q["E"].T))
    A(22, "derivative", "right", "trace is linear", nth=1, num=pair(lambda q: dirder(np.trace, q["Xs"], q["Es"]), lambda q: np.trace(q["Es"])))
    t, w, fn = P(err, ("right", "differential of the inverse", lambda q: -np.linalg.inv(q["Xp"]) @ q["Es"] @ np.linalg.inv(q["Xp"])),
                 ("wrong", "planted: sign; right: dX^{-1} = -X^{-1} dX X^{-1}", lambda q: np.linalg.inv(q["Xp"]) @ q["Es"] @ np.linalg.inv(q["Xp"])))
    A(23, "derivative", t, w, nth=0, num=pair(lambda q: dirder(np.linalg.inv, q["Xp"], q["Es"]), fn))
    A(23, "other", "right", "definition of the inverse", nth=1)
    A(24, "derivative", "right", "Jacobi's formula with the adjugate X^#", nth=0,
      num=pair(lambda q: dirder(np.linalg.det, q["Xs"], q["Es"]), lambda q: np.trace(adj(q["Xs"]) @ q["Es"])))
    A(24, "derivative", "right", "X^# = |X| X^{-1} for invertible X", nth=3, case="X invertible",
      num=pair(lambda q: dirder(np.linalg.det, q["Xs"], q["Es"]), lambda q: np.linalg.det(q["Xs"]) * np.trace(np.linalg.inv(q["Xs"]) @ q["Es"])))
    A(25, "derivative", "right", "elementwise function: Hadamard with the elementwise derivative (any differentiable sigma)", nth=0,
      num=pair(lambda q: dirder(lambda X: np.sin(X) + X**3, q["X"], q["E"]), lambda q: (np.cos(q["X"]) + 3 * q["X"]**2) * q["E"]))
    A(29, "other", "right", "a scalar is its own trace", nth=0)
    A(30, "other", "right", "trace of the transpose", nth=0, num=pair(lambda q: np.trace(q["Xs"].T), lambda q: np.trace(q["Xs"])))
    A(31, "other", "right", "cyclic property (A and B^T of one shape)", nth=0,
      num=pair(lambda q: np.trace(q["X"] @ q["Y"].T), lambda q: np.trace(q["Y"].T @ q["X"])))
    A(32, "other", "right", "Hadamard trace identity (A, B, C of one shape)", nth=0,
      num=pair(lambda q: np.trace(q["X"].T @ (q["Y"] * q["C1"])), lambda q: np.trace((q["X"] * q["Y"]).T @ q["C1"])))
    A(38, "definition", "right", "example 1", nth=0)
    A(38, "shape", "right", "a in R^m", nth=1)
    A(38, "shape", "right", "b in R^n", nth=2)
    f1 = lambda q: (lambda X: q["a"] @ X @ q["b"])
    A(40, "derivative", "right", "differential of a^T X b", link=(0, 1), num=pair(lambda q: dirder(f1(q), q["X"], q["E"]), lambda q: q["a"] @ q["E"] @ q["b"]))
    A(40, "derivative", "right", "a scalar is its trace", link=(0, 2), vs_head="right", num=pair(lambda q: q["a"] @ q["E"] @ q["b"], lambda q: np.trace(np.atleast_2d(q["a"] @ q["E"] @ q["b"]))))
    A(40, "derivative", "right", "cyclic trace", link=(0, 3), vs_head="right", num=pair(lambda q: q["a"] @ q["E"] @ q["b"], lambda q: np.trace(np.outer(q["b"], q["a"]) @ q["E"])))
    A(42, "other", "right", "the pattern of section 1", nth=0)
    A(42, "derivative", "right", "G^T = b a^T, so G = a b^T", nth=1, link=(0, 1), **den,
      num=pair(lambda q: grad(f1(q), q["X"]), lambda q: np.outer(q["a"], q["b"])))
    A(44, "definition", "right", "example 2", nth=0)
    A(44, "shape", "right", "A square, not necessarily symmetric", nth=1)
    fq = lambda q: (lambda x: x @ q["An"] @ x)
    f46 = [lambda q: dirder(fq(q), q["x"], q["ex"]),
           lambda q: q["ex"] @ q["An"] @ q["x"] + q["x"] @ q["An"] @ q["ex"],
           lambda q: q["x"] @ q["An"].T @ q["ex"] + q["x"] @ q["An"] @ q["ex"],
           lambda q: q["x"] @ (q["An"] + q["An"].T) @ q["ex"]]
    for k, why in [(1, "product rule"), (2, "a scalar equals its transpose: dx^T A x = x^T A^T dx"), (3, "collected")]:
        A(46, "derivative", "right", why, link=(0, k), vs_head=None if k == 1 else "right", num=pair(f46[k-1], f46[k]))
    t, w, fn = P(err, ("right", "read off from df = x^T (A + A^T) dx", lambda q: (q["An"] + q["An"].T) @ q["x"]),
                 ("wrong", "planted: missing term A^T; 2Ax holds only for symmetric A, and A is not assumed symmetric; right: (A + A^T) x", lambda q: 2 * q["An"] @ q["x"]))
    A(48, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: grad(fq(q), q["x"]), fn))
    A(50, "assumption", "right", "A symmetric", nth=1)
    def n50(rng):
        q = inst(rng); S = q["An"] + q["An"].T
        return [("A symmetric: grad (FD) vs 2Ax", grad(lambda x: x @ S @ x, q["x"]), 2 * S @ q["x"], None)]
    A(50, "derivative", "right", "with A = A^T", nth=2, link=(0, 1), case="A symmetric", **den, num=n50)
    A(52, "definition", "right", "example 3", nth=0)
    A(52, "shape", "right", "A is p x m", nth=1)
    A(52, "shape", "right", "B is n x p", nth=2)
    f3 = lambda q: (lambda X: np.trace(q["Ap"] @ X @ q["Bp"]))
    A(54, "derivative", "right", "differential of tr(AXB)", link=(0, 1), num=pair(lambda q: dirder(f3(q), q["X"], q["E"]), lambda q: np.trace(q["Ap"] @ q["E"] @ q["Bp"])))
    A(54, "derivative", "right", "cyclic trace", link=(0, 2), vs_head="right", num=pair(lambda q: np.trace(q["Ap"] @ q["E"] @ q["Bp"]), lambda q: np.trace(q["Bp"] @ q["Ap"] @ q["E"])))
    t, w, fn = P(err, ("right", "G^T = BA, so G = (BA)^T = A^T B^T (m x n like X)", lambda q: q["Ap"].T @ q["Bp"].T),
                 ("wrong", "planted: transpose; BA is n x m (the numerator-layout form), the notes use denominator layout; right: A^T B^T", lambda q: q["Bp"] @ q["Ap"]))
    A(58, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: grad(f3(q), q["X"]), fn))
    A(60, "definition", "right", "example 4", nth=0)
    A(60, "assumption", "right", "X invertible with positive determinant", nth=2)
    fl = lambda X: np.log(np.linalg.det(X))
    A(62, "derivative", "right", "d log u = du/u", link=(0, 1),
      num=pair(lambda q: dirder(fl, q["Xp"], q["Es"]), lambda q: dirder(np.linalg.det, q["Xp"], q["Es"]) / np.linalg.det(q["Xp"])))
    A(62, "derivative", "right", "rule 4", link=(0, 2), vs_head="right",
      num=pair(lambda q: dirder(np.linalg.det, q["Xp"], q["Es"]) / np.linalg.det(q["Xp"]), lambda q: np.trace(np.linalg.inv(q["Xp"]) @ q["Es"])))
    A(64, "derivative", "right", "G^T = X^{-1}", nth=0, link=(0, 1), **den, num=pair(lambda q: grad(fl, q["Xp"]), lambda q: np.linalg.inv(q["Xp"]).T))
    A(64, "derivative", "right", "(X^T)^{-1} = X^{-T}", nth=1, link=(0, 1), **den, num=pair(lambda q: grad(fl, q["Xp"]), lambda q: np.linalg.inv(q["Xp"].T)))
    A(66, "definition", "right", "example 5", nth=0)
    A(66, "shape", "right", "W is c x d", nth=1)
    A(66, "shape", "right", "x in R^d", nth=2)
    A(66, "assumption", "right", "one-hot", nth=4)
    A(66, "definition", "right", "the logits", nth=5)
    A(66, "definition", "right", "softmax", nth=6)
    A(66, "assumption", "right", "one-hot, used in the next line", nth=7)
    lW = lambda q: (lambda W: -q["y"] @ np.log(softmax(W @ q["xd"])))
    av = lambda q: q["W"] @ q["xd"]; da = lambda q: q["EW"] @ q["xd"]
    A(68, "other", "right", "log of the softmax with 1^T y = 1", case="1^T y = 1",
      num=pair(lambda q: lW(q)(q["W"]), lambda q: -q["y"] @ av(q) + np.log(np.exp(av(q)).sum())))
    f72 = [lambda q: dirder(lW(q), q["W"], q["EW"]),
           lambda q: -q["y"] @ da(q) + np.sum(np.exp(av(q)) * da(q)) / np.exp(av(q)).sum(),
           lambda q: -q["y"] @ da(q) + np.exp(av(q)) @ da(q) / np.exp(av(q)).sum(),
           lambda q: (softmax(av(q)) - q["y"]) @ da(q)]
    for k, why in [(1, "d log u = du/u, d exp(a) = exp(a) * da"), (2, "1^T (u * v) = u^T v"), (3, "softmax collected")]:
        A(72, "derivative", "right", why, link=(0, k), vs_head=None if k == 1 else "right", num=pair(f72[k-1], f72[k]))
    A(80, "derivative", "right", "x is constant", link=(0, 1), num=pair(lambda q: dirder(lambda W: W @ q["xd"], q["W"], q["EW"]), da))
    A(82, "derivative", "right", "substituted and cycled", link=(0, 1),
      num=pair(f72[0], lambda q: np.trace(np.outer(q["xd"], softmax(av(q)) - q["y"]) @ q["EW"])))
    t, w, fn = P(err, ("right", "read off: G = (softmax(Wx) - y) x^T", lambda q: np.outer(softmax(av(q)) - q["y"], q["xd"])),
                 ("wrong", "planted: missing term (the -y x^T of the one-hot label); right: (softmax(Wx) - y) x^T", lambda q: np.outer(softmax(av(q)), q["xd"])))
    A(86, "derivative", t, w, link=(0, 1), **den, num=pair(lambda q: grad(lW(q), q["W"]), fn))
    A(88, "derivative", "right", "unusual but right: transposed twice", link=(0, 1), **den,
      num=pair(lambda q: grad(lW(q), q["W"]), lambda q: np.outer(q["xd"], softmax(av(q)) - q["y"]).T))
    return D

def build():
    label("matrix_differential_notes_zh.md")
    label("matrix_differential_notes_zh.err.md", err=True)
