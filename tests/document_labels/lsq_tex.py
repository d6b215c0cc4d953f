"""Labels and numeric checks for least_squares_gaussian.tex and .err.tex"""
import numpy as np
from .manifest import Doc, add
from .numeric import grad, dscalar

n, p, d = 6, 3, 4
def inst(rng):
    X = rng.normal(size=(n, p)); y = rng.normal(size=n); beta = rng.normal(size=p)
    lam = rng.uniform(0.5, 2.0); delta = rng.uniform(0.5, 1.5)
    xs = rng.normal(size=(n, d)); mu = rng.normal(size=d)
    M = rng.normal(size=(d, d)); Sig = M @ M.T + d * np.eye(d)
    return dict(X=X, y=y, beta=beta, lam=lam, delta=delta, xs=xs, mu=mu, Sig=Sig)

def f(q, b=None): b = q["beta"] if b is None else b; r = q["y"] - q["X"] @ b; return r @ r
def g(q, b=None): b = q["beta"] if b is None else b; return f(q, b) + q["lam"] * b @ b
def rho(r, dl): return 0.5 * r**2 if abs(r) <= dl else dl * (abs(r) - 0.5 * dl)
def rhop(r, dl): return r if abs(r) <= dl else dl * np.sign(r)
def hub(q, b=None):
    b = q["beta"] if b is None else b
    return sum(rho(q["y"][i] - q["X"][i] @ b, q["delta"]) for i in range(n))
def ell(q, mu=None, Sig=None):
    mu = q["mu"] if mu is None else mu; Sig = q["Sig"] if Sig is None else Sig
    Si = np.linalg.inv(Sig)
    return -n / 2 * np.log(np.linalg.det(Sig)) - 0.5 * sum((x - mu) @ Si @ (x - mu) for x in q["xs"])

def pair(fa, fb, desc="lhs vs rhs", expect=None):
    def nf(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return nf
def P(err, right, wrong): return wrong if err else right

def label(fname, err=False):
    D = Doc(fname)
    A = lambda *a, **k: add(D, *a, **k)
    den = dict(layout="denominator")
    A(17, "shape", "right", "design matrix", nth=0)
    A(17, "shape", "right", "response", nth=1)
    A(18, "shape", "right", "coefficients", nth=0)
    A(19, "definition", "right", "residual sum of squares", link=(0, 1))
    A(19, "other", "right", "squared norm as an inner product", link=(0, 2), num=pair(f, lambda q: (q["y"] - q["X"] @ q["beta"]) @ (q["y"] - q["X"] @ q["beta"])))
    A(24, "other", "right", "multiplied out", link=(0, 1),
      num=pair(f, lambda q: q["y"] @ q["y"] - 2 * q["beta"] @ q["X"].T @ q["y"] + q["beta"] @ q["X"].T @ q["X"] @ q["beta"]))
    gf = lambda q: grad(lambda b: f(q, b), q["beta"])
    A(24, "derivative", "right", "gradient of the expanded form (X^T X symmetric)", link=(1, 1), **den,
      num=pair(gf, lambda q: -2 * q["X"].T @ q["y"] + 2 * q["X"].T @ q["X"] @ q["beta"]))
    t, w, fn = P(err, ("right", "collected", lambda q: -2 * q["X"].T @ (q["y"] - q["X"] @ q["beta"])),
                 ("wrong", "planted: sign; right: -2X^T(y - X beta)", lambda q: 2 * q["X"].T @ (q["y"] - q["X"] @ q["beta"])))
    A(29, "derivative", t, w, link=(0, 1), **den, num=pair(gf, fn))
    def hess(q): return np.array([grad(lambda b: grad(lambda c: f(q, c), b)[k], q["beta"], h=1e-4) for k in range(p)])
    t, w, fn = P(err, ("right", "the Hessian of a quadratic", lambda q: 2 * q["X"].T @ q["X"]),
                 ("wrong", "planted: factor 2 dropped; right: 2X^T X", lambda q: q["X"].T @ q["X"]))
    A(33, "derivative", t, w, nth=0, link=(0, 1), num=pair(hess, fn))
    A(35, "derivative", "right", "unusual but right: ((y - X beta)^T X)^T = X^T (y - X beta)", link=(0, 1), **den,
      num=pair(gf, lambda q: -2 * ((q["y"] - q["X"] @ q["beta"]) @ q["X"]).T))
    bhat = lambda q: np.linalg.solve(q["X"].T @ q["X"], q["X"].T @ q["y"])
    A(38, "other", "right", "the minimiser (the gradient vanishes there), when X^T X is invertible", nth=1, case="X^T X invertible",
      num=pair(lambda q: grad(lambda b: f(q, b), bhat(q)), lambda q: np.zeros(p), "gradient at beta-hat vs 0"))
    A(43, "definition", "right", "residuals (figure caption)")
    A(48, "assumption", "right", "ridge parameter")
    A(49, "definition", "right", "ridge objective")
    gg = lambda q: grad(lambda b: g(q, b), q["beta"])
    A(53, "derivative", "right", "least-squares gradient plus 2 lambda beta", link=(0, 1), **den,
      num=pair(gg, lambda q: -2 * q["X"].T @ (q["y"] - q["X"] @ q["beta"]) + 2 * q["lam"] * q["beta"]))
    A(53, "derivative", "right", "collected", link=(0, 2), vs_head="right", **den,
      num=pair(lambda q: -2 * q["X"].T @ (q["y"] - q["X"] @ q["beta"]) + 2 * q["lam"] * q["beta"],
               lambda q: 2 * (q["X"].T @ q["X"] + q["lam"] * np.eye(p)) @ q["beta"] - 2 * q["X"].T @ q["y"]))
    A(57, "other", "right", "the ridge minimiser; X^T X + lambda I is positive definite for lambda > 0", nth=0,
      num=pair(lambda q: grad(lambda b: g(q, b), np.linalg.solve(q["X"].T @ q["X"] + q["lam"] * np.eye(p), q["X"].T @ q["y"])), lambda q: np.zeros(p)))
    A(61, "assumption", "right", "Huber threshold")
    A(62, "definition", "right", "the Huber loss by cases", link=(0, 1))
    def nrho(fn):
        def nf(rng):
            q = inst(rng); dl = q["delta"]; out = []
            for r in [0.3 * dl, -0.6 * dl, 1.7 * dl, -2.5 * dl]:
                out.append((f"rho'({r / dl:+.1f} delta)", dscalar(lambda s: rho(s, dl), r), fn(r, dl), True if abs(r) <= dl or r > 0 else None))
            return out
        return nf
    t, w, fn = P(err, ("right", "the Huber derivative by cases (continuous at |r| = delta)", rhop),
                 ("wrong", "planted: missing sign(r) in the second case; wrong for r < -delta; right: delta sign(r)", lambda r, dl: r if abs(r) <= dl else dl))
    A(62, "derivative", t, w, link=(1, 1), layout="entrywise", num=nrho(fn))
    A(75, "definition", "right", "Huber regression objective")
    A(76, "derivative", "right", "chain rule: d(y_i - x_i^T beta)/d beta = -x_i", link=(0, 1), **den,
      num=pair(lambda q: grad(lambda b: hub(q, b), q["beta"]), lambda q: -sum(rhop(q["y"][i] - q["X"][i] @ q["beta"], q["delta"]) * q["X"][i] for i in range(n))))
    A(80, "shape", "right", "the sample", nth=0)
    A(82, "definition", "right", "Gaussian log-likelihood up to a constant")
    A(85, "derivative", "right", "gradient of a quadratic form with a symmetric matrix", nth=1, link=(0, 1), case="Sigma symmetric", **den,
      num=pair(lambda q: grad(lambda u: u @ np.linalg.inv(q["Sig"]) @ u, q["mu"]), lambda q: 2 * np.linalg.inv(q["Sig"]) @ q["mu"]))
    gmu = lambda q: grad(lambda mu: ell(q, mu=mu), q["mu"])
    s1 = lambda q: sum(np.linalg.inv(q["Sig"]) @ (x - q["mu"]) for x in q["xs"])
    A(86, "derivative", "right", "chain rule on each term (d(x_i - mu)/d mu = -I)", link=(0, 1), **den, num=pair(gmu, s1))
    t, w, fn = P(err, ("right", "Sigma^{-1} factored out of the sum", lambda q: np.linalg.inv(q["Sig"]) @ (q["xs"].sum(0) - n * q["mu"])),
                 ("wrong", "planted: dropped factor n; right: Sigma^{-1}(sum x_i - n mu)", lambda q: np.linalg.inv(q["Sig"]) @ (q["xs"].sum(0) - q["mu"])))
    A(86, "derivative", t, w, link=(0, 2), vs_head=t, **den, num=pair(s1, fn))
    A(90, "other", "right", "the stationary point in mu", link=(0, 1),
      num=pair(lambda q: grad(lambda mu: ell(q, mu=mu), q["xs"].mean(0)), lambda q: np.zeros(d), "gradient at the sample mean vs 0"))
    A(90, "definition", "right", "the sample mean", link=(0, 2))
    A(91, "definition", "right", "scatter matrix about mu")
    def gS(q): return grad(lambda S: ell(q, Sig=S), q["Sig"])
    def claimS(q):
        Si = np.linalg.inv(q["Sig"]); S = sum(np.outer(x - q["mu"], x - q["mu"]) for x in q["xs"])
        return -n / 2 * Si + 0.5 * Si @ S @ Si
    A(93, "derivative", "right", "entries treated as independent: d log det = Sigma^{-T}, d tr(Sigma^{-1}S) = -Sigma^{-T} S^T Sigma^{-T}; Sigma, S symmetric",
      link=(0, 1), **den, num=pair(gS, claimS))
    return D

def build():
    label("least_squares_gaussian.tex")
    label("least_squares_gaussian.err.tex", err=True)
