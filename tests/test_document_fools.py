"""Trying to fool `matcalc check --document`: a wrong claim dressed as people might dress it (a negated or supposed
assumption, an assumption of another symbol, a layout stated once for the whole text, a second derivative, an
equation number, a comment, colour, a Unicode minus, ≠, ≈, ...) is never CORRECT: WRONG where matcalc reads it,
UNREAD with its reason where it does not. Beside each, a right claim written the same way (so the test cannot pass
by reading nothing); the truth of those is measured here with central differences, outside matcalc.
"""

from __future__ import annotations

import numpy as np
import pytest

from matcalc.check.documents import check_document

X = r"Let $x \in \mathbb{R}^{n}$, $A \in \mathbb{R}^{n \times n}$ and $f = x^T x$." + "\n\n"
S = (r"Let $\mathbf{z} \in \mathbb{R}^{c}$, $\mathbf{s} = \operatorname{softmax}(\mathbf{z})$ and "
     r"$l = -\mathbf{y}^\top \log \mathbf{s}$." + "\n\n" + r"$$\frac{\partial l}{\partial \mathbf{z}} = \mathbf{s} - \mathbf{y}$$")
Y = r"Let $\mathbf{y} \in \mathbb{R}^c$"
Q = r"Let $A \in \mathbb{R}^{n \times n}$, $X \in \mathbb{R}^{n \times n}$ and $g = \operatorname{tr}(AX)$." + "\n\n"
G = r"Let $s \in \mathbb{R}$ and $g = s^2$." + "\n\n"
SM = r"Let $y_i = \frac{e^{d_i}}{\sum_j e^{d_j}}$." + "\n\n"

# (name, document, the verdict matcalc gives today: WRONG, or UNREAD where it does not read the claim)
WRONG = [
    # assumptions that are not made: ∂l/∂z = s − y needs y one-hot (its entries summing to 1)
    ("one-hot negated", Y + r" (not one-hot: any weights). " + S, "WRONG"),
    ("one-hot negated in a clause", Y + r", which is not a one-hot vector. " + S, "WRONG"),
    ("one-hot of another symbol", Y + r" and its one-hot encoding $\mathbf{t}$. " + S, "WRONG"),
    ("one-hot of another symbol named first", r"Let $\mathbf{t}$ be one-hot and " + Y[4:] + ". " + S, "WRONG"),
    ("one-hot supposed", r"If $\mathbf{y}$ were one-hot we could write the following; it is not. " + S, "WRONG"),
    ("one-hot in another sentence", Y + ". One-hot labels are common. " + S, "WRONG"),
    ("one-hot negated, Chinese", r"设 $\mathbf{y} \in \mathbb{R}^c$ 不是独热向量。" + S, "WRONG"),
    ("positive definite negated", r"Let $A \in \mathbb{R}^{n \times n}$ (not symmetric positive definite) and "
     r"$g = \log\det A$." + "\n\n" + r"$$\frac{\partial g}{\partial A} = A^{-1}$$", "WRONG"),
    ("symmetric only supposed", r"Let $A \in \mathbb{R}^{n \times n}$, $x \in \mathbb{R}^n$ and $g = x^T A x$. If $A$ "
     r"were symmetric we would have" + "\n\n" + r"$$\frac{\partial g}{\partial x} = 2Ax$$", "WRONG"),
    # a layout said once for the whole text
    ("numerator layout said throughout", "We use the numerator layout throughout.\n\n" + X +
     r"$$\frac{\partial f}{\partial x} = 2x$$", "WRONG"),
    ("denominator layout said throughout", "We use the denominator layout throughout.\n\n" + X +
     r"$$\frac{\partial f}{\partial x} = 2x^T$$", "WRONG"),
    # notation that is not a first derivative, or not an equation
    ("a second derivative written as the first", X + r"$$\frac{\partial^2 f}{\partial x^2} = 2x$$", "UNREAD"),
    ("a scalar second derivative", r"Let $s \in \mathbb{R}$ and $g = s^3$." + "\n\n" +
     r"$$\frac{\partial^2 g}{\partial s^2} = 3s^2$$", "UNREAD"),
    ("f''", r"Let $s \in \mathbb{R}$ and $g(s) = s^3$." + "\n\n" + r"$$g''(s) = 3s^2$$", "UNREAD"),
    ("a Hessian written as the gradient", r"Let $x \in \mathbb{R}^{n}$, $A \in \mathbb{R}^{n \times n}$ and "
     r"$g = x^T A x$." + "\n\n" + r"$$\nabla_x^2 g = (A + A^T)x$$", "WRONG"),
    ("a Hessian of a non-symmetric form", r"Let $x \in \mathbb{R}^{n}$, $A \in \mathbb{R}^{n \times n}$ and "
     r"$g = x^T A x$." + "\n\n" + r"$$\nabla_x^2 g = 2A$$", "WRONG"),
    ("a mixed partial", X + r"$$\frac{\partial^2 f}{\partial x_i \partial x_j} = 2x_i$$", "UNREAD"),
    ("an equation number that would fix it", X + r"$$\frac{\partial f}{\partial x} = \frac{2}{3}x \tag{3}$$", "UNREAD"),
    ("a TeX comment hiding the right answer", X + r"$$\frac{\partial f}{\partial x} = 3x % 2x$$", "UNREAD"),
    ("colour", X + r"$$\frac{\partial f}{\partial x} = \color{red}{3}x$$", "UNREAD"),
    ("a cancelled term", X + r"$$\frac{\partial f}{\partial x} = 2x + \cancel{x}$$", "UNREAD"),
    ("text inside the formula", X + r"$$\frac{\partial f}{\partial x} = 3x \text{ (wrong)}$$", "UNREAD"),
    ("a Unicode minus", G + "$$\\frac{\\partial g}{\\partial s} = \u22122s$$", "WRONG"),
    ("a zero-width space", G + "$$\\frac{\\partial g}{\\partial s} = 2\u200b\u2212s$$", "UNREAD"),
    ("≠ of the right answer", X + r"$$\frac{\partial f}{\partial x} \neq 2x$$", "UNREAD"),
    (r"\not=", X + r"$$\frac{\partial f}{\partial x} \not= 2x$$", "UNREAD"),
    ("a question mark over =", X + r"$$\frac{\partial f}{\partial x} \stackrel{?}{=} 3x$$", "UNREAD"),
    ("≈ of a near miss", X + r"$$\frac{\partial f}{\partial x} \approx 2.0001x$$", "UNREAD"),
    (":=", X + r"$$\frac{\partial f}{\partial x} := 3x$$", "UNREAD"),
    ("evaluated at a point", G + r"$$\frac{\partial g}{\partial s}\Big|_{s=1} = 2$$", "UNREAD"),
    # values: overflow, underflow, kinks, domains
    ("overflow", r"Let $s \in \mathbb{R}$ and $g = e^{e^{e^{e^{s}}}}$." + "\n\n" + r"$$\frac{\partial g}{\partial s} = 0$$",
     "UNREAD"),
    ("a tiny derivative said 0", r"Let $s \in \mathbb{R}$ and $g = 10^{-30} s^2$." + "\n\n" +
     r"$$\frac{\partial g}{\partial s} = 0$$", "UNREAD"),
    ("|s|' = 1", r"Let $s \in \mathbb{R}$ and $g = |s|$." + "\n\n" + r"$$\frac{\partial g}{\partial s} = 1$$", "WRONG"),
    ("(log s)' = 1/|s|", r"Let $s \in \mathbb{R}$ and $g = \log s$." + "\n\n" +
     r"$$\frac{\partial g}{\partial s} = \frac{1}{|s|}$$", "WRONG"),
    # indices and shapes
    ("∂x_i/∂x_j = 1", X + r"$$\frac{\partial x_i}{\partial x_j} = 1$$", "WRONG"),
    ("a free index on one side", X + r"$$\frac{\partial f}{\partial x_i} = 2 x_j$$", "WRONG"),
    ("a repeated index never summed", r"Let $x \in \mathbb{R}^{n}$ and $A \in \mathbb{R}^{n \times n}$." + "\n\n" +
     r"$$\frac{\partial (A_{ij} x_j)}{\partial x_k} = A_{ik}$$", "WRONG"),
    ("the off-diagonal term under i = k", r"Let $y_i = \frac{e^{d_i}}{\sum_j e^{d_j}}$." + "\n\n## Case $i = k$\n\n" +
     r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$", "WRONG"),
    ("tr(AX)' = A (denominator layout)", Q + r"$$\frac{\partial g}{\partial X} = A$$", "WRONG"),
    # a case that no longer holds: the text says the claim is for every index
    ("a case ended by 'in general'", SM + "## Case $i \\ne k$\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$" +
     "\n\nIn general, for all $i, k$:\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$", "WRONG"),
    ("a case ended by 'for every'", SM + "Case $i \\ne k$:\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$" +
     "\n\nSo for every $i$ and $k$,\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$", "WRONG"),
    ("a case ended by 对任意", SM + "情况一 $i \\ne k$：\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$" +
     "\n\n对任意 $i, k$ 都有\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$", "WRONG"),
    ("the conditions of a cases block swapped", SM + r"$$\frac{\partial y_i}{\partial d_k} = \begin{cases} y_i(1-y_i) & i \ne k "
     r"\\ -y_i y_k & i = k \end{cases}$$", "WRONG"),
    ("an indicator of the wrong condition", SM + r"$$\frac{\partial y_i}{\partial d_k} = y_i(\mathbb{I}\{i \ne k\} - y_k)$$",
     "WRONG"),
    ("a definition that comes later", r"Let $s \in \mathbb{R}$." + "\n\n" + r"$$\frac{\partial g}{\partial s} = 2s$$" +
     "\n\nwith $g = s^3$.", "WRONG"),
    ("a definition replaced", r"Let $s \in \mathbb{R}$ and $g = s^2$. Now let $g = s^3$." + "\n\n" +
     r"$$\frac{\partial g}{\partial s} = 2s$$", "WRONG"),
]

# right claims written the same ways: matcalc must read them (CORRECT), and the truth is measured below
RIGHT = [
    ("one-hot", Y + r" be one-hot. " + S),
    ("one-hot, as a label", r"Let $\mathbf{y}$ be a one-hot label. " + S),
    ("one-hot, Chinese", r"设 $\mathbf{y} \in \mathbb{R}^c$ 是独热向量。" + S),
    ("positive definite", r"Let $A \in \mathbb{R}^{n \times n}$ symmetric positive definite and $g = \log\det A$." +
     "\n\n" + r"$$\frac{\partial g}{\partial A} = A^{-1}$$"),
    ("numerator layout said throughout", "We use the numerator layout throughout.\n\n" + Q +
     r"$$\frac{\partial g}{\partial X} = A$$"),
    ("denominator layout, said locally over a numerator text", "We use the numerator layout throughout.\n\n" + X +
     r"In denominator layout: $$\frac{\partial f}{\partial x} = 2x$$"),
    ("tr(AX)' = A^T", Q + r"$$\frac{\partial g}{\partial X} = A^T$$"),
    ("a Hessian", r"Let $x \in \mathbb{R}^{n}$, $A \in \mathbb{R}^{n \times n}$ and $g = x^T A x$." + "\n\n" +
     r"$$\nabla_x^2 g = A + A^T$$"),
    ("∂x_i/∂x_j = δ_ji", X + r"$$\frac{\partial x_i}{\partial x_j} = \delta_{ji}$$"),
    (r"a \label", X + r"$$\frac{\partial f}{\partial x} = 2x \label{eq:grad}$$"),
    ("the off-diagonal term under its case", SM + "Case $i \\ne k$:\n\n" + r"$$\frac{\partial y_i}{\partial d_k} = -y_i y_k$$"),
    ("a cases block", SM + r"$$\frac{\partial y_i}{\partial d_k} = \begin{cases} y_i(1-y_i) & i = k \\ -y_i y_k & i \ne k "
     r"\end{cases}$$"),
    ("an indicator", SM + r"$$\frac{\partial y_i}{\partial d_k} = y_i(\mathbb{I}\{i = k\} - y_k)$$"),
]


def _claims(doc: str):
    """The verdicts of what the text states (not its definitions, shapes and assumptions, taken)."""
    return [e for e in check_document(doc, "fool.md").equations if not e.why.startswith("not a claim:")]


@pytest.mark.parametrize("name, doc, verdict", WRONG, ids=[w[0] for w in WRONG])
def test_a_dressed_up_wrong_claim_is_never_correct(name, doc, verdict):
    claims = _claims(doc)
    assert claims, name
    fool = [e for e in claims if e.line == claims[-1].line]          # (a right claim before it may be CORRECT)
    assert not any(e.verdict == "CORRECT" for e in fool), [(e.latex, e.why) for e in fool]
    assert claims[-1].verdict == verdict and claims[-1].why, (claims[-1].verdict, claims[-1].why)


@pytest.mark.parametrize("name, doc", RIGHT, ids=[r[0] for r in RIGHT])
def test_the_same_claim_written_right_is_correct(name, doc):
    claims = _claims(doc)
    assert claims and claims[-1].verdict == "CORRECT", [(e.verdict, e.why) for e in claims]


def _grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_the_truths_the_fools_stand_on():
    """Measured outside matcalc (central differences, random instances, distinct sizes where sizes matter)."""
    rng = np.random.default_rng(7)
    c = 5
    z = rng.normal(size=c)

    def softmax(v):
        e = np.exp(v - v.max())
        return e / e.sum()

    onehot = np.eye(c)[2]
    weights = rng.uniform(0.1, 1.0, size=c)                   # not one-hot: its entries do not sum to 1
    for y, right in ((onehot, True), (weights, False)):
        g = _grad(lambda v: -y @ np.log(softmax(v)), z)
        assert np.allclose(g, softmax(z) - y, atol=1e-6) == right
    n = 4
    A, X = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    g = _grad(lambda M: np.trace(A @ M), X)                   # ∂tr(AX)/∂X in denominator layout (X's shape)
    assert np.allclose(g, A.T, atol=1e-6) and not np.allclose(g, A, atol=1e-3)   # numerator layout: its transpose, A
    x = rng.normal(size=n)
    H = np.array([_grad(lambda v: _grad(lambda u: u @ A @ u, v, 1e-3)[i], x, 1e-3) for i in range(n)])   # (exact: quadratic)
    assert np.allclose(H, A + A.T, atol=1e-4) and not np.allclose(H, 2 * A, atol=1e-2)
    B = rng.normal(size=(n, n))
    P = B @ B.T + n * np.eye(n)                                # symmetric positive definite
    assert np.allclose(_grad(lambda M: np.log(np.linalg.det(M)), P), np.linalg.inv(P).T, atol=1e-5)
    assert np.allclose(np.linalg.inv(P).T, np.linalg.inv(P))
    N = rng.normal(size=(n, n)) + n * np.eye(n)                # not symmetric: ∂log det/∂N = N^{-T} ≠ N^{-1}
    assert not np.allclose(_grad(lambda M: np.log(abs(np.linalg.det(M))), N), np.linalg.inv(N), atol=1e-3)


def test_what_the_prose_said_is_named_where_a_verdict_rests_on_it():
    """A CORRECT that needs y one-hot (or A positive definite) says it read so, and where: directly, or through the
    definitions the claim uses (∂l/∂z = s − y, l = −yᵀ log s)."""
    one_hot = _claims(dict(RIGHT)["one-hot"])[-1]
    assert "y read as one-hot, from line 1" in one_hot.assumed, one_hot.assumed
    spd = _claims(dict(RIGHT)["positive definite"])[-1]
    assert "A read as symmetric positive definite, from line 1" in spd.assumed, spd.assumed
    through = check_document(r"Let $\mathbf{y}$ be a one-hot label, $\mathbf{z} \in \mathbb{R}^{c}$, "
                             r"$\mathbf{s} = \operatorname{softmax}(\mathbf{z})$, $l = -\mathbf{y}^\top \log \mathbf{s}$ "
                             r"and $\mathbf{g} = \mathbf{s} - \mathbf{y}$." + "\n\n" +
                             r"$$\frac{\partial l}{\partial \mathbf{z}} = \mathbf{g}$$", "through.md").equations[-1]
    assert through.verdict == "CORRECT" and "y read as one-hot, from line 1" in through.assumed, through
    plain = _claims(X + r"$$\frac{\partial f}{\partial x} = 2x$$")[-1]
    assert plain.verdict == "CORRECT" and not any("read as" in a for a in plain.assumed), plain.assumed
