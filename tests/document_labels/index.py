"""Labels and numeric checks for index_notation_backprop_en.md and .err.md.
Abstract l and phi are instantiated with random smooth functions."""
import numpy as np
from .manifest import Doc, add
from .numeric import softmax, grad, jac, dscalar

c, n, d = 3, 4, 5
def inst(rng):
    q = dict(W=rng.normal(size=(c, n)), h=rng.normal(size=n), lc=rng.normal(size=c), lb=rng.normal(size=c), lu=rng.normal(size=c),
             z=rng.normal(size=n), pa=rng.uniform(0.5, 1.5), pb=rng.uniform(-0.5, 0.5),
             A=rng.normal(size=(4, 4)), x4=rng.normal(size=4), At=rng.normal(size=(3, 4)), X=rng.normal(size=(4, 5)), Bt=rng.normal(size=(5, 3)),
             zs=rng.normal(size=c), W1=rng.normal(size=(n, d)), W2=rng.normal(size=(c, n)), x=rng.normal(size=d),
             i=int(rng.integers(c)), k=int(rng.integers(n)), kk=int(rng.integers(c)), pp=int(rng.integers(n)), j=int(rng.integers(n)))
    return q
def lfun(q): return lambda o: np.sum(q["lc"] * np.sin(o + q["lb"])) + 0.5 * (q["lu"] @ o)**2
def phi(q): return lambda u: np.sin(q["pa"] * u) + q["pb"] * u**3
def phip(q): return lambda u: q["pa"] * np.cos(q["pa"] * u) + 3 * q["pb"] * u**2
def dl_do(q, o): return grad(lfun(q), o)
def pair(fa, fb, desc="lhs vs rhs", expect=None):
    def nf(rng):
        q = inst(rng); return [(desc, fa(q), fb(q), expect)]
    return nf
def P(err, right, wrong): return wrong if err else right

def label(fname, err=False):
    D = Doc(fname)
    A_ = lambda *a, **k: add(D, *a, **k)
    den = dict(layout="denominator"); ent = dict(layout="entrywise")
    o = lambda q: q["W"] @ q["h"]
    lh = lambda q: (lambda h: lfun(q)(q["W"] @ h))
    lW = lambda q: (lambda W: lfun(q)(W @ q["h"]))
    A_(14, "definition", "right", "a linear layer", nth=0)
    A_(14, "shape", "right", "W is c x n", nth=1)
    A_(14, "shape", "right", "h in R^n", nth=2)
    A_(16, "definition", "right", "the layer entrywise, sum written out", link=(0, 1))
    A_(16, "other", "right", "index range", link=(1, 1))
    A_(20, "derivative", "right", "differentiating the sum", link=(0, 1), **ent,
       num=pair(lambda q: jac(lambda h: q["W"] @ h, q["h"])[q["i"], q["k"]], lambda q: sum(q["W"][q["i"], j] * (j == q["k"]) for j in range(n))))
    A_(20, "derivative", "right", "the delta picks j = k", link=(0, 2), vs_head="right", **ent,
       num=pair(lambda q: sum(q["W"][q["i"], j] * (j == q["k"]) for j in range(n)), lambda q: q["W"][q["i"], q["k"]]))
    A_(20, "derivative", "right", "o_i depends on row i of W only", link=(1, 1), **ent,
       num=pair(lambda q: grad(lambda W: (W @ q["h"])[q["i"]], q["W"])[q["kk"], q["pp"]], lambda q: float(q["i"] == q["kk"]) * q["h"][q["pp"]]))
    glh = lambda q: grad(lh(q), q["h"])
    glW = lambda q: grad(lW(q), q["W"])
    A_(24, "derivative", "right", "chain rule, for any differentiable l", link=(0, 1), **ent,
       num=pair(lambda q: glh(q)[q["k"]], lambda q: sum(dl_do(q, o(q))[i] * jac(lambda h: q["W"] @ h, q["h"])[i, q["k"]] for i in range(c))))
    A_(24, "derivative", "right", "do_i/dh_k = W_ik", link=(0, 2), vs_head="right", **ent,
       num=pair(lambda q: sum(dl_do(q, o(q))[i] * jac(lambda h: q["W"] @ h, q["h"])[i, q["k"]] for i in range(c)), lambda q: sum(dl_do(q, o(q))[i] * q["W"][i, q["k"]] for i in range(c))))
    A_(26, "derivative", "right", "chain rule with do_i/dW_kp = delta_ik h_p", link=(0, 1), **ent,
       num=pair(lambda q: glW(q)[q["kk"], q["pp"]], lambda q: sum(dl_do(q, o(q))[i] * (i == q["kk"]) * q["h"][q["pp"]] for i in range(c))))
    A_(26, "derivative", "right", "the delta picks i = k", link=(0, 2), vs_head="right", **ent,
       num=pair(lambda q: sum(dl_do(q, o(q))[i] * (i == q["kk"]) * q["h"][q["pp"]] for i in range(c)), lambda q: dl_do(q, o(q))[q["kk"]] * q["h"][q["pp"]]))
    A_(30, "derivative", "right", "the index result in matrix form, for any l", link=(0, 1), **den, num=pair(glh, lambda q: q["W"].T @ dl_do(q, o(q))))
    t, w, fn = P(err, ("right", "outer product, c x n like W", lambda q: np.outer(dl_do(q, o(q)), q["h"])),
                 ("wrong", "planted: transpose; h (dl/do)^T is n x c; right: (dl/do) h^T", lambda q: np.outer(q["h"], dl_do(q, o(q)))))
    A_(30, "derivative", t, w, link=(1, 1), **den, num=pair(glW, fn))
    A_(32, "derivative", "right", "unusual but right: transposed twice", link=(0, 1), **den, num=pair(glh, lambda q: (dl_do(q, o(q)) @ q["W"]).T))
    A_(36, "definition", "right", "entrywise activation", nth=0)
    A_(36, "definition", "right", "the same entrywise", nth=1)
    A_(38, "derivative", "right", "the Jacobian of an entrywise map is diagonal, for any differentiable phi", link=(0, 1), **ent,
       num=lambda rng: [(f"da_i/dz_j, {'i = j' if same else 'i != j'}", jac(phi(q), q["z"])[i, j], phip(q)(q["z"][i]) * (i == j), None)
                        for q in [inst(rng)] for same in (True, False) for i in [q["k"]] for j in [q["k"] if same else (q["k"] + 1) % n]])
    # L any scalar that depends on z through a: instantiate L(a) = lfun on a (length n)
    def Lz(q): return lambda z: np.sum(np.cos(z * 0 + phi(q)(z)) * np.arange(1, n + 1)) + 0.3 * np.sum(phi(q)(z))**2
    def Lfa(q): return lambda a: np.sum(np.cos(a) * np.arange(1, n + 1)) + 0.3 * np.sum(a)**2
    gLa = lambda q: grad(Lfa(q), phi(q)(q["z"]))
    gLz = lambda q: grad(lambda z: Lfa(q)(phi(q)(z)), q["z"])
    A_(40, "derivative", "right", "chain rule with da_i/dz_j = phi'(z_i) delta_ij, for any phi and any L(a)", link=(0, 1), **ent,
       num=pair(lambda q: gLz(q)[q["j"]], lambda q: sum(gLa(q)[i] * phip(q)(q["z"][i]) * (i == q["j"]) for i in range(n))))
    if err:
        A_(40, "derivative", "ill-posed", "planted: index mismatch; i is the summation index of the previous expression and is free here, not on the left; right: phi'(z_j) dL/da_j",
           link=(0, 2), vs_head="ill-posed", **ent,
           num=lambda rng: [("read with i != j: differs", gLz(q)[q["j"]], phip(q)(q["z"][(q["j"] + 1) % n]) * gLa(q)[q["j"]], False) for q in [inst(rng)]])
    else:
        A_(40, "derivative", "right", "the delta picks i = j", link=(0, 2), vs_head="right", **ent,
           num=pair(lambda q: sum(gLa(q)[i] * phip(q)(q["z"][i]) * (i == q["j"]) for i in range(n)), lambda q: phip(q)(q["z"][q["j"]]) * gLa(q)[q["j"]]))
    A_(42, "derivative", "right", "diagonal Jacobian (the same in both layouts)", link=(0, 1),
       num=pair(lambda q: jac(phi(q), q["z"]), lambda q: np.diag(phip(q)(q["z"]))))
    t, w, fn = P(err, ("right", "Hadamard product with phi'(z), for any phi", lambda q: phip(q)(q["z"]) * gLa(q)),
                 ("wrong", "planted: phi in place of phi'; right: phi'(z) * dL/da", lambda q: phi(q)(q["z"]) * gLa(q)))
    A_(44, "derivative", t, w, link=(0, 1), **den, num=pair(gLz, fn))
    A_(46, "assumption", "right", "an example activation", nth=0)
    A_(46, "derivative", "right", "derivative of tanh", nth=1, link=(0, 1), case="phi = tanh", **ent,
       num=pair(lambda q: dscalar(np.tanh, q["z"][0]), lambda q: 1 - np.tanh(q["z"][0])**2))
    ein = "Einstein convention (repeated index summed)"
    A_(55, "definition", "right", "the layer, " + ein, link=(0, 1))
    A_(55, "derivative", "right", "line 24 with the sum implied, " + ein, link=(1, 1), **ent,
       num=pair(lambda q: glh(q)[q["k"]], lambda q: sum(dl_do(q, o(q))[i] * q["W"][i, q["k"]] for i in range(c))))
    A_(55, "derivative", "right", "line 26, " + ein, link=(2, 1), **ent,
       num=pair(lambda q: glW(q)[q["kk"], q["pp"]], lambda q: dl_do(q, o(q))[q["kk"]] * q["h"][q["pp"]]))
    A_(57, "definition", "right", "quadratic form, " + ein, nth=0)
    gq = lambda q: grad(lambda x: x @ q["A"] @ x, q["x4"])
    kx = lambda q: q["k"] % 4
    f59 = [lambda q: gq(q)[kx(q)],
           lambda q: q["A"][kx(q)] @ q["x4"] + q["x4"] @ q["A"][:, kx(q)],
           lambda q: q["A"][kx(q)] @ q["x4"] + q["x4"] @ q["A"][:, kx(q)],
           lambda q: (q["A"][kx(q)] + q["A"][:, kx(q)]) @ q["x4"]]
    A_(59, "derivative", "right", "product rule, " + ein, link=(0, 1), **ent, num=pair(f59[0], f59[1]))
    A_(59, "derivative", "right", "the deltas contract, " + ein, link=(0, 2), vs_head="right", **ent, num=pair(f59[1], f59[2]))
    t, w, fn = P(err, ("right", "dummy index renamed: x_i A_ik = A_jk x_j, " + ein, f59[3]),
                 ("wrong", "planted: missing term; 2 A_kj x_j holds only for symmetric A, and A is not assumed symmetric; right: (A_kj + A_jk) x_j", lambda q: 2 * q["A"][kx(q)] @ q["x4"]))
    A_(59, "derivative", t, w, link=(0, 3), vs_head=t, **ent, num=pair(f59[2], fn))
    ftr = lambda q: (lambda X: np.trace(q["At"] @ X @ q["Bt"]))
    A_(61, "definition", "right", "a trace", link=(0, 1))
    A_(61, "other", "right", "the trace in index form, " + ein, link=(0, 2),
       num=pair(lambda q: ftr(q)(q["X"]), lambda q: np.einsum("ij,jk,ki->", q["At"], q["X"], q["Bt"])))
    gtr = lambda q: grad(ftr(q), q["X"])
    A_(63, "derivative", "right", "the deltas pick j = a, k = b; sum over i, " + ein, link=(0, 1), **ent,
       num=lambda rng: [("df/dX_ab", gtr(q), np.einsum("ia,bi->ab", q["At"], q["Bt"]), None) for q in [inst(rng)]])
    A_(63, "derivative", "right", "sum_i B_bi A_ia = (BA)_ba", link=(0, 2), vs_head="right", **ent,
       num=lambda rng: [("A_ia B_bi vs (BA)_ba", np.einsum("ia,bi->ab", q["At"], q["Bt"]), (q["Bt"] @ q["At"]).T, None) for q in [inst(rng)]])
    A_(63, "derivative", "right", "in matrix form", link=(2, 1), **den, num=pair(gtr, lambda q: (q["Bt"] @ q["At"]).T))
    A_(67, "definition", "right", "softmax, sum written out")
    def n69(fn):
        def nf(rng):
            q = inst(rng); s = softmax(q["zs"]); J = jac(softmax, q["zs"])
            return [("ds_i/dz_j (all i, j)", J, np.array([[fn(s, i, j) for j in range(c)] for i in range(c)]), None)]
        return nf
    t, w, fn = P(err, ("right", "the softmax Jacobian", lambda s, i, j: s[i] * ((i == j) - s[j])),
                 ("wrong", "planted: sign; right: s_i (delta_ij - s_j)", lambda s, i, j: s[i] * (s[j] - (i == j))))
    A_(69, "derivative", t, w, link=(0, 1), **ent, num=n69(fn))
    ls = lambda q: (lambda s: np.sum(q["lc"] * np.sin(3 * s + q["lb"])) + 0.5 * (q["lu"] @ s)**2)
    gls = lambda q: grad(ls(q), softmax(q["zs"]))
    glz = lambda q: grad(lambda z: ls(q)(softmax(z)), q["zs"])
    jj = lambda q: q["j"] % c
    A_(73, "derivative", "right", "chain rule through the softmax, for any l(s)", link=(0, 1), **ent,
       num=pair(lambda q: glz(q)[jj(q)], lambda q: sum(gls(q)[i] * softmax(q["zs"])[i] * ((i == jj(q)) - softmax(q["zs"])[jj(q)]) for i in range(c))))
    A_(73, "derivative", "right", "the delta term picks i = j", link=(0, 2), vs_head="right", **ent,
       num=pair(lambda q: sum(gls(q)[i] * softmax(q["zs"])[i] * ((i == jj(q)) - softmax(q["zs"])[jj(q)]) for i in range(c)),
                lambda q: softmax(q["zs"])[jj(q)] * (gls(q)[jj(q)] - sum(gls(q)[i] * softmax(q["zs"])[i] for i in range(c)))))
    A_(75, "derivative", "right", "vector form of line 73", link=(0, 1), **den,
       num=pair(glz, lambda q: softmax(q["zs"]) * (gls(q) - (softmax(q["zs"]) @ gls(q)) * np.ones(c))))
    A_(79, "definition", "right", "two-layer network", nth=0)
    A_(79, "shape", "right", "W_1 is n x d", nth=1)
    A_(79, "shape", "right", "W_2 is c x n", nth=2)
    lW1 = lambda q: (lambda W1: lfun(q)(q["W2"] @ phi(q)(W1 @ q["x"])))
    A_(82, "derivative", "right", "sections 1 and 2 composed, for any l and phi", link=(0, 1), **den,
       num=pair(lambda q: grad(lW1(q), q["W1"]),
                lambda q: np.outer(phip(q)(q["W1"] @ q["x"]) * (q["W2"].T @ dl_do(q, q["W2"] @ phi(q)(q["W1"] @ q["x"]))), q["x"])))
    return D

def build():
    label("index_notation_backprop_en.md")
    label("index_notation_backprop_en.err.md", err=True)
