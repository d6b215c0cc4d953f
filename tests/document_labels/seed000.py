"""Labels and numeric checks for seed_000_softmax_zh.md and its corrupted copies."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, jac, dscalar

N = 5          # softmax length in section 1
K, D = 3, 4    # classes and features in section 2

def inst(rng, case=None):
    d = rng.normal(size=N)
    i, k = rng.choice(N, 2, replace=False)
    Th = rng.normal(size=(K, D)); x = rng.normal(size=D)
    y = int(rng.integers(K))
    j = y if case == "j=y" else int((y + 1 + rng.integers(K - 1)) % K)
    return dict(d=d, i=int(i), k=int(k), Th=Th, x=x, y=y, j=j)

def sm_entry(d, i): return softmax(d)[i]
def dy_dd(q, i, k): return grad(lambda dd: sm_entry(dd, i), q["d"])[k]
def S(q): return np.exp(q["d"]).sum()
def E(q, i): return np.exp(q["d"][i])
def J(Th, x, y): return -np.log(softmax(Th @ x)[y])
def phi(q): return softmax(q["Th"] @ q["x"])
def eta(q): return q["Th"] @ q["x"]
def gJ_theta(q, j):
    return grad(lambda Th: J(Th, q["x"], q["y"]), q["Th"])[j]
def dphi_deta(q, a, b):     # d phi_a / d eta_b
    return grad(lambda e: softmax(e)[a], eta(q))[b]
def sumexp(q): return np.exp(eta(q)).sum()
def ee(q, a): return np.exp(eta(q)[a])

def pair(fa, fb, desc="lhs vs rhs", case=None, expect=None):
    def n(rng):
        q = inst(rng, case); return [(desc, fa(q), fb(q), expect)]
    return n

def quotient_rule(rng):
    a, b, c = rng.normal(size=3)
    u = lambda t: np.sin(a * t) + b * t**2
    v = lambda t: np.exp(c * t) + 1.5 + np.cos(t)
    t = rng.normal()
    lhs = dscalar(lambda s: u(s) / v(s), t)
    rhs = (dscalar(u, t) * v(t) - u(t) * dscalar(v, t)) / v(t)**2
    return [("(u/v)' (FD) vs (u'v - uv')/v^2", lhs, rhs, None)]

def P(variant, kind, right, wrong): return wrong if variant == kind else right

def label(fname, variant=None):
    d = Doc(fname)
    A = lambda *a, **k: add(d, *a, **k)
    A(20, "definition", "right", "the softmax output vector", nth=0)
    A(22, "definition", "right", "y_i read as the probability of class i", link=(0, 1))
    A(22, "definition", "right", "the softmax", link=(0, 2))
    A(28, "definition", "right", "the normaliser S", nth=0)
    A(28, "definition", "right", "softmax with S", nth=1)
    A(30, "assumption", "right", "case condition for lines 32-48", nth=0)
    A(32, "derivative", "right", "quotient rule, for any differentiable u, v", nth=1, layout="entrywise", num=quotient_rule)
    A(32, "definition", "right", "numerator of the quotient", nth=2)
    A(32, "definition", "right", "denominator of the quotient", nth=3, link=(0, 1))
    A(32, "definition", "right", "S written out", nth=3, link=(0, 2))
    cik = dict(case="i = k", layout="entrywise")
    cnk = dict(case="i != k", layout="entrywise")
    A(36, "derivative", "right", "u = e^{d_i} substituted", link=(0, 1), **cik,
      num=pair(lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["i"]], lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["i"]]))
    A(36, "derivative", "right", "d e^t/dt = e^t", link=(0, 2), vs_head="right", **cik,
      num=pair(lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["i"]], lambda q: E(q, q["i"])))
    A(40, "derivative", "right", "v = S substituted", link=(0, 1), **cik,
      num=pair(lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["i"]], lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["i"]]))
    A(40, "derivative", "right", "only the j = i term of the sum depends on d_i", link=(0, 2), vs_head="right", **cik,
      num=pair(lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["i"]], lambda q: E(q, q["i"])))
    A(44, "derivative", "right", "quotient rule applied", link=(0, 1), **cik,
      num=pair(lambda q: dy_dd(q, q["i"], q["i"]), lambda q: (E(q, q["i"]) * S(q) - E(q, q["i"]) * E(q, q["i"])) / S(q)**2))
    A(44, "derivative", "right", "u' = e^{d_i}, v = S, v' = e^{d_i}", link=(0, 2), vs_head="right", **cik,
      num=pair(lambda q: (E(q, q["i"]) * S(q) - E(q, q["i"]) * E(q, q["i"])) / S(q)**2, lambda q: (E(q, q["i"]) * S(q) - E(q, q["i"])**2) / S(q)**2))
    f48 = [lambda q: dy_dd(q, q["i"], q["i"]),
           lambda q: E(q, q["i"]) / S(q) * (S(q) - E(q, q["i"])) / S(q),
           lambda q: E(q, q["i"]) / S(q) * (1 - E(q, q["i"]) / S(q)),
           lambda q: softmax(q["d"])[q["i"]] * (1 - softmax(q["d"])[q["i"]])]
    t3, w3, f3 = P(variant, "missing_term", ("right", "y_i = e^{d_i}/S", f48[3]),
                   ("wrong", "planted: missing term; right: y_i (1 - y_i)", lambda q: softmax(q["d"])[q["i"]]))
    A(48, "derivative", "right", "factored", link=(0, 1), **cik, num=pair(f48[0], f48[1]))
    A(48, "derivative", "right", "(S - e^{d_i})/S = 1 - e^{d_i}/S", link=(0, 2), vs_head="right", **cik, num=pair(f48[1], f48[2]))
    A(48, "derivative", t3, w3, link=(0, 3), vs_head=t3, **cik, num=pair(f48[2], f3))
    A(50, "assumption", "right", "case condition for lines 52-68", nth=0)
    A(52, "definition", "right", "numerator of the quotient", nth=1)
    A(52, "definition", "right", "denominator of the quotient", nth=2, link=(0, 1))
    A(52, "definition", "right", "S written out", nth=2, link=(0, 2))
    A(56, "derivative", "right", "u = e^{d_i} substituted", link=(0, 1), **cnk,
      num=pair(lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["k"]], lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["k"]]))
    A(56, "derivative", "right", "e^{d_i} does not depend on d_k for i != k", link=(0, 2), vs_head="right", **cnk,
      num=pair(lambda q: grad(lambda dd: np.exp(dd[q["i"]]), q["d"])[q["k"]], lambda q: 0.0))
    A(60, "derivative", "right", "v = S substituted", link=(0, 1), **cnk,
      num=pair(lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["k"]], lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["k"]]))
    t, w, f = P(variant, "swap_ik", ("right", "only the j = k term depends on d_k", lambda q: E(q, q["k"])),
                ("wrong", "planted: swapped indices i and k; right: e^{d_k}", lambda q: E(q, q["i"])))
    A(60, "derivative", t, w, link=(0, 2), vs_head=t, **cnk, num=pair(lambda q: grad(lambda dd: np.exp(dd).sum(), q["d"])[q["k"]], f))
    A(64, "derivative", "right", "quotient rule applied", link=(0, 1), **cnk,
      num=pair(lambda q: dy_dd(q, q["i"], q["k"]), lambda q: (0 * S(q) - E(q, q["i"]) * E(q, q["k"])) / S(q)**2))
    A(64, "derivative", "right", "u' = 0, v' = e^{d_k}", link=(0, 2), vs_head="right", **cnk,
      num=pair(lambda q: (0 * S(q) - E(q, q["i"]) * E(q, q["k"])) / S(q)**2, lambda q: -E(q, q["i"]) * E(q, q["k"]) / S(q)**2))
    f68 = [lambda q: dy_dd(q, q["i"], q["k"]), lambda q: -E(q, q["i"]) * E(q, q["k"]) / S(q)**2,
           lambda q: -(E(q, q["i"]) / S(q)) * (E(q, q["k"]) / S(q)), lambda q: -softmax(q["d"])[q["i"]] * softmax(q["d"])[q["k"]]]
    for kk, why in [(1, "simplified"), (2, "factored"), (3, "y_i = e^{d_i}/S, y_k = e^{d_k}/S")]:
        A(68, "derivative", "right", why, link=(0, kk), vs_head=None if kk == 1 else "right", **cnk, num=pair(f68[kk-1], f68[kk]))
    def n74(rng):
        q = inst(rng); s = softmax(q["d"]); Jn = jac(softmax, q["d"])
        claim = np.array([[s[a] * (1 - s[a]) if a == b else -s[a] * s[b] for b in range(N)] for a in range(N)])
        return [("softmax Jacobian (FD) vs the cases", Jn, claim, None)]
    A(74, "derivative", "right", "the softmax Jacobian by cases, dy_i/dd_k = y_i(delta_ik - y_k)", layout="entrywise", num=n74)

    A(86, "definition", "right", "negative log-likelihood of one sample")
    A(92, "definition", "right", "softmax over the k classes (k is now the number of classes)")
    A(94, "definition", "right", "the natural parameter")
    A(98, "definition", "right", "notation: the gradient is the partial derivative (a column, theta_j's shape)")
    lay = dict(layout="denominator")
    def chain104(q):
        j = q["j"]; ph = phi(q)
        dJ_dphi = np.array([-1 / ph[q["y"]] if l == q["y"] else 0.0 for l in range(K)])
        return sum(dJ_dphi[l] * dphi_deta(q, l, j) * q["x"] for l in range(K))
    def both(fa, fb, desc="lhs vs rhs"):
        def n(rng):
            return [(f"{desc}, {c}", fa(q), fb(q), None) for c in ("j=y", "j!=y") for q in [inst(rng, c)]]
        return n
    A(104, "derivative", "right", "multivariate chain rule; theta_j enters only eta_j", link=(0, 1), **lay,
      num=both(lambda q: gJ_theta(q, q["j"]), chain104))
    A(106, "other", "right", "condition in the prose claim 'dJ/dphi_l is nonzero only for l = y', which is true", nth=1)
    chain108 = lambda q: (-1 / phi(q)[q["y"]]) * dphi_deta(q, q["y"], q["j"]) * q["x"]
    A(108, "derivative", "right", "only the l = y term of the sum survives", link=(0, 1), **lay,
      num=both(lambda q: gJ_theta(q, q["j"]), chain108))
    A(114, "definition", "right", "the loss again")
    dJdphiy = lambda q: dscalar(lambda p: -np.log(p), phi(q)[q["y"]])
    A(116, "derivative", "right", "J substituted", link=(0, 1), layout="entrywise", num=pair(dJdphiy, dJdphiy))
    A(116, "derivative", "right", "d(-log p)/dp = -1/p", link=(0, 2), vs_head="right", layout="entrywise",
      num=pair(dJdphiy, lambda q: -1 / phi(q)[q["y"]]))
    A(120, "definition", "right", "the natural parameter again")
    t, w, f = P(variant, "transpose", ("right", "the gradient of theta_j^T x is the column x (line 124)", lambda q: q["x"]),
                ("wrong", "planted: transpose; the post's gradients are columns (line 124: 'the result is the vector x'); right: x", lambda q: q["x"].reshape(1, -1)))
    A(122, "derivative", t, w, link=(0, 1), **lay,
      num=pair(lambda q: grad(lambda th: th @ q["x"], q["Th"][q["j"]]), f))
    A(130, "assumption", "right", "case condition for lines 132-140", nth=0)
    A(132, "definition", "right", "phi_y written out")
    A(134, "derivative", "right", "quotient rule, for any differentiable u, v", nth=0, layout="entrywise", num=quotient_rule)
    A(134, "definition", "right", "numerator", nth=1)
    A(134, "definition", "right", "denominator", nth=2)
    cjy = dict(case="j = y", layout="entrywise")
    cny = dict(case="j != y", layout="entrywise")
    f136 = [lambda q: dphi_deta(q, q["y"], q["y"]),
            lambda q: (ee(q, q["y"]) * sumexp(q) - ee(q, q["y"]) * ee(q, q["y"])) / sumexp(q)**2,
            lambda q: ee(q, q["y"]) / sumexp(q) - ee(q, q["y"])**2 / sumexp(q)**2,
            lambda q: phi(q)[q["y"]] - phi(q)[q["y"]] * phi(q)[q["y"]]]
    A(136, "derivative", "right", "quotient rule with u' = e^{eta_y}", link=(0, 1), **cjy, num=pair(f136[0], f136[1], case="j=y"))
    A(138, "derivative", "right", "split the fraction (continues line 136)", link=(0, 1), continues=136, vs_head="right", **cjy, num=pair(f136[1], f136[2], case="j=y"))
    A(138, "derivative", "right", "phi_y = e^{eta_y}/sum", link=(0, 2), vs_head="right", **cjy, num=pair(f136[2], f136[3], case="j=y"))
    t, w, f = P(variant, "factor2", ("right", "phi_y - phi_y^2 factored", lambda q: phi(q)[q["y"]] * (1 - phi(q)[q["y"]])),
                ("wrong", "planted: factor 2; right: phi_y (1 - phi_y)", lambda q: 2 * phi(q)[q["y"]] * (1 - phi(q)[q["y"]])))
    A(140, "derivative", t, w, link=(0, 1), **cjy, num=pair(f136[0], f, case="j=y"))
    A(142, "assumption", "right", "case condition for lines 144-148", nth=0)
    f144 = [lambda q: dphi_deta(q, q["y"], q["j"]),
            lambda q: (0 * sumexp(q) - ee(q, q["y"]) * ee(q, q["j"])) / sumexp(q)**2,
            lambda q: -(ee(q, q["y"]) / sumexp(q)) * (ee(q, q["j"]) / sumexp(q)),
            lambda q: -phi(q)[q["y"]] * phi(q)[q["j"]]]
    A(144, "derivative", "right", "quotient rule with u' = 0 (j != y)", link=(0, 1), **cny, num=pair(f144[0], f144[1]))
    A(146, "derivative", "right", "factored (continues line 144)", link=(0, 1), continues=144, vs_head="right", **cny, num=pair(f144[1], f144[2]))
    A(146, "derivative", "right", "phi = e^{eta}/sum", link=(0, 2), vs_head="right", **cny, num=pair(f144[2], f144[3]))
    t, w, f = P(variant, "sign", ("right", "the off-diagonal softmax derivative", f144[3]),
                ("wrong", "planted: sign; right: -phi_y phi_j", lambda q: phi(q)[q["y"]] * phi(q)[q["j"]]))
    A(148, "derivative", t, w, link=(0, 1), **cny, num=pair(f144[0], f))
    A(152, "other", "right", "names the first case", nth=0)
    A(152, "other", "right", "names the second case", nth=1)
    A(154, "derivative", "right", "the chain rule of line 108 again", link=(0, 1), **lay, num=both(lambda q: gJ_theta(q, q["j"]), chain108))
    A(156, "assumption", "right", "case condition for lines 158-160", nth=0)
    g158 = lambda q: (-1 / phi(q)[q["y"]]) * (phi(q)[q["y"]] * (1 - phi(q)[q["y"]])) * q["x"]
    A(158, "derivative", "right", "A, C1, B substituted", link=(0, 1), case="j = y", layout="denominator",
      num=pair(lambda q: gJ_theta(q, q["y"]), g158, case="j=y"))
    A(160, "derivative", "right", "phi_y cancels (continues line 158)", link=(0, 1), continues=158, vs_head="right", case="j = y", layout="denominator",
      num=pair(g158, lambda q: -(1 - phi(q)[q["y"]]) * q["x"], case="j=y"))
    A(160, "derivative", "right", "sign moved inside", link=(0, 2), vs_head="right", case="j = y", layout="denominator",
      num=pair(lambda q: -(1 - phi(q)[q["y"]]) * q["x"], lambda q: (phi(q)[q["y"]] - 1) * q["x"], case="j=y"))
    A(162, "assumption", "right", "case condition for lines 164-166", nth=0)
    g164 = lambda q: (-1 / phi(q)[q["y"]]) * (-phi(q)[q["y"]] * phi(q)[q["j"]]) * q["x"]
    A(164, "derivative", "right", "A, C2, B substituted", link=(0, 1), case="j != y", layout="denominator",
      num=pair(lambda q: gJ_theta(q, q["j"]), g164))
    A(166, "derivative", "right", "phi_y cancels (continues line 164)", link=(0, 1), continues=164, vs_head="right", case="j != y", layout="denominator",
      num=pair(g164, lambda q: phi(q)[q["j"]] * q["x"]))
    A(170, "definition", "right", "softmax again")
    A(172, "definition", "right", "natural parameter again")
    def n176(f):
        def n(rng):
            out = []
            for case in ("j=y", "j!=y"):
                q = inst(rng, case)
                out.append((f"grad_theta_j J (FD) vs claim, {case}", gJ_theta(q, q["j"]), f(q), None if case == "j!=y" else True))
            return out
        return n
    t, w, f = P(variant, "swap_jy", ("right", "both cases in one formula with the indicator 1{y = j}", lambda q: (phi(q)[q["j"]] - (q["y"] == q["j"])) * q["x"]),
                ("wrong", "planted: swapped j and y (phi_y for phi_j); wrong for j != y; right: (phi_j - 1{y=j}) x", lambda q: (phi(q)[q["y"]] - (q["y"] == q["j"])) * q["x"]))
    A(176, "derivative", t, w, link=(0, 1), layout="denominator", num=n176(f))
    A(182, "other", "right", "a softmax entry is below 1 (k >= 2 classes)", nth=3,
      num=lambda rng: [("phi_y < 1", float(phi(q)[q["y"]] < 1), 1.0, True) for q in [inst(rng)]])
    A(184, "other", "right", "the indicator is 0 for j != y", nth=2)
    return d

VARIANTS = ["sign", "missing_term", "swap_ik", "swap_jy", "transpose", "factor2"]
