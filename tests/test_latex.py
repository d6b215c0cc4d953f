r"""LaTeX -> ASCII translation: exact outputs, errors (type, message, column), and the LaTeX sniffer."""

import io
import logging
from pathlib import Path

import lark
import pytest

from matcalc.errors import ParseError
from matcalc.language.latex import latex_to_ascii, looks_like_latex

CASES = [
    # transpose, inverse, powers
    (r"x^T", "x'"),
    (r"x^\top", "x'"),
    (r"x^{T}", "x'"),
    (r"x^{\top}", "x'"),
    (r"x^\intercal", "x'"),
    (r"x'", "x'"),
    (r"x^{\mathsf{T}}", "x'"),
    (r"X^{-1}", "inv(X)"),
    (r"X^{-T}", "inv(X)'"),
    (r"x^2", "x^2"),
    (r"x^{2}", "x^2"),
    (r"\|v\|^2", "norm2(v)^2"),
    (r"x^{-2}", "x^(-2)"),
    (r"A^{\circ 2}", "A.^2"),
    (r"(Ax)^T", "(A*x)'"),
    (r"x_i^T", "xi'"),
    # implicit multiplication and names
    (r"Wx", "W*x"),
    (r"Ax", "A*x"),
    (r"x^T A x", "x'*A*x"),
    (r"x^TAx", "x'*A*x"),
    (r"W x + b", "W*x + b"),
    (r"2Ax", "2*A*x"),
    (r"W_1 x", "W1*x"),
    (r"W_{1}", "W1"),
    (r"b_2", "b2"),
    (r"W1", "W1"),
    (r"x_i", "xi"),
    (r"X_{ij}", "Xij"),
    (r"x_i2", "xi*2"),  # LaTeX's _ takes one character
    # functions
    (r"\log(u)", "log(u)"),
    (r"\log\det X", "log(det(X))"),
    (r"\det X", "det(X)"),
    (r"\log x", "log(x)"),
    (r"\log x^2", "log(x^2)"),
    (r"\log(u)^2", "log(u)^2"),
    (r"\log((u)^2)", "log(u^2)"),
    (r"\log x y", "log(x)*y"),
    (r"\exp(x)^T", "exp(x)'"),
    (r"\exp(-x)", "exp(-x)"),
    (r"\sin x + \cos x + \tan x", "sin(x) + cos(x) + tan(x)"),
    (r"\tanh(Wx)", "tanh(W*x)"),
    (r"\arcsin x \arccos y \arctan z", "arcsin(x)*arccos(y)*arctan(z)"),
    (r"\ln x", "log(x)"),
    (r"\sqrt{x^T x}", "sqrt(x'*x)"),
    (r"\sqrt x", "sqrt(x)"),
    (r"\operatorname{tr}(X^{-1}A)", "tr(inv(X)*A)"),
    (r"\mathrm{softmax}(z)", "softmax(z)"),
    (r"\operatorname{softmax}(z)", "softmax(z)"),
    # the functions of issue 21, named as their rows' `latex` column prints them (and as papers write them)
    (r"\max(0, 1 - y \odot (Xw))", "max(0, 1 - (y) .* (X*w))"),
    (r"\min(x, 0)", "min(x, 0)"),
    (r"\max x", "max(x)"),
    (r"\operatorname{softplus}(x) + \mathrm{erf}(x)", "softplus(x) + erf(x)"),
    (r"\operatorname{log\_softmax}(z)", "log_softmax(z)"),
    (r"\operatorname{gelu\_tanh}(x) + \mathrm{GELU}(x)", "gelu_tanh(x) + gelu(x)"),
    (r"\cosh x + \sinh x", "cosh(x) + sinh(x)"),
    (r"\operatorname{mean}\left(X, 2\right)", "mean(X, 2)"),
    (r"\mathbf{0}_{m,n} + \mathbf{0}_{n}", "zeros(m, n) + zeros(n)"),
    (r"x^{\circ p}", "x.^p"),
    (r"\text{softmax}(z)", "softmax(z)"),
    (r"\mathrm{tr}(A)", "tr(A)"),
    (r"\mathrm{diag}(x)", "diag(x)"),
    (r"\operatorname{diag}(x)", "diag(x)"),
    (r"\mathrm{relu}(x)", "relu(x)"),
    (r"\operatorname{ReLU}(Wx)", "relu(W*x)"),
    (r"\mathrm{logsumexp}(z)", "logsumexp(z)"),
    (r"\mathrm{sum}(X)", "sum(X)"),
    (r"\operatorname{logdet}(X)", "logdet(X)"),
    (r"\operatorname*{tr} X", "tr(X)"),
    (r"\sigma(Wx)", "sigmoid(W*x)"),
    (r"\sigma\left(Wx + b\right)", "sigmoid(W*x + b)"),
    (r"\sigma^2 I", "sigma^2*I"),
    (r"\sigma", "sigma"),
    # ones vector
    (r"\mathbf{1}^T v", "sum(v)"),
    (r"\mathbf{1}^\top \exp(z)", "sum(exp(z))"),
    (r"\mathbf{1}^T A \mathbf{1}", "sum(A)"),
    (r"\frac{1}{n}\mathbf{1}^T x", "((1)/(n))*sum(x)"),
    # styled names
    (r"\mathbf{x}", "x"),
    (r"\boldsymbol{x}", "x"),
    (r"\bm{x}", "x"),
    (r"\vec{x}", "x"),
    (r"\vec x", "x"),
    (r"\mathrm{A}", "A"),
    (r"\mathbf{W}_1 \mathbf{x}", "W1*x"),
    (r"\boldsymbol{\mu}", "mu"),
    (r"\hat{y}", "yhat"),
    (r"\text{loss}", "loss"),
    # elementwise and products
    (r"a \odot b", "(a) .* (b)"),
    (r"a \circ b", "(a) .* (b)"),
    (r"a \oslash b", "(a) ./ (b)"),
    (r"a \cdot b", "a*b"),
    (r"a \times b", "a*b"),
    (r"a \odot b \odot c", "((a) .* (b)) .* (c)"),
    (r"\frac{1}{m}", "(1)/(m)"),
    (r"\frac{Ax}{b}", "(A*x)/(b)"),
    (r"\frac12", "(1)/(2)"),
    (r"\frac{\lambda}{2} w^T w", "((lam)/(2))*w'*w"),
    (r"x / 2", "(x)/(2)"),
    # norms and absolute value
    (r"\|Ax-b\|_2^2", "norm2(A*x - b)^2"),
    (r"\|Ax-b\|^2_2", "norm2(A*x - b)^2"),
    (r"\left\| Ax - b \right\|_2^2", "norm2(A*x - b)^2"),
    (r"\|x\|", "norm2(x)"),
    (r"\|x\|_2", "norm2(x)"),
    (r"\|X\|_F", "norm2(X)"),
    (r"\|x\|_1", "norm1(x)"),
    (r"\lVert x \rVert_1", "norm1(x)"),
    (r"\Vert x \Vert", "norm2(x)"),
    (r"||x||", "norm2(x)"),
    (r"||x||_1 + ||y||_2^2", "norm1(x) + norm2(y)^2"),
    (r"|x|", "abs(x)"),
    (r"\lvert x \rvert", "abs(x)"),
    (r"|x||y|", "abs(x)*abs(y)"),
    (r"| |x| - 1 |", "abs(abs(x) - 1)"),
    (r"\|x\| \|y\|", "norm2(x)*norm2(y)"),
    # sums
    (r"\sum X", "sum(X)"),
    (r"\sum(X)", "sum(X)"),
    (r"\sum X + Y", "sum(X) + Y"),
    (r"\sum_i x_i", "sum(x)"),
    (r"\sum_{i} x_i", "sum(x)"),
    (r"\sum\limits_i x_i", "sum(x)"),
    (r"\sum_{i,j} X_{ij}", "sum(X)"),
    (r"\sum_{ij} A_{ij} B_{ij}", "sum((A) .* (B))"),
    (r"\sum_i x_i^2", "sum(x.^2)"),
    (r"\sum_i \lambda x_i y_i", "sum(lam*((x) .* (y)))"),
    (r"\sum_i \log(1 + \exp(-z_i))", "sum(log(1 + exp(-z)))"),
    (r"\sum_i \frac{x_i}{y_i}", "sum((x) ./ (y))"),
    (r"\sum_i \sum_j X_{ij}", "sum(sum(X))"),
    (r"\frac{1}{m}\sum_i x_i y_i", "((1)/(m))*sum((x) .* (y))"),
    (r"\log\left(\sum_i \exp(z_i)\right)", "log(sum(exp(z)))"),
    # sizing, spacing, grouping
    (r"\left( x \right)^T", "x'"),
    (r"\bigl( x + y \bigr) z", "(x + y)*z"),
    (r"\Bigl(x\Bigr)", "x"),
    (r"x\,y\;z\!w \quad v \qquad u", "x*y*z*w*v*u"),
    (r"{x}", "x"),
    (r"{x + y}^T", "(x + y)'"),
    (r"-y^T \log(\mathrm{softmax}(Wx+b))", "-y'*log(softmax(W*x + b))"),
    # Greek letters
    (r"\alpha", "alpha"),
    (r"\lambda", "lam"),
    (r"\eta \beta \gamma \mu \theta", "eta*beta*gamma*mu*theta"),
    (r"\frac{\lambda}{2}\|w\|^2", "((lam)/(2))*norm2(w)^2"),
    (r"\alpha_1", "alpha1"),
    (r"\Sigma^{-1}", "inv(Sigma)"),
    # identity
    (r"I", "I"),
    (r"\mathbf{I}", "I"),
    (r"I_n", "I(n)"),
    (r"X + \lambda I_n", "X + lam*I(n)"),
    (r"I_{m n} + I_{mn}", "I(m*n) + I(mn)"),
    (r"K_{m,n} \operatorname{vec}(X)", "K(m, n)*vec(X)"),
    (r"K_{ij}", "Kij"),
    # signs and parenthesization
    (r"-x^2", "-(x^2)"),
    (r"-(a+b)", "-(a + b)"),
    (r"a - (b - c)", "a - (b - c)"),
    (r"a - -b", "a - (-b)"),
    (r"a \cdot -b", "a*(-b)"),
    (r"+x", "x"),
    (r"\frac{1}{2}\|Ax - b\|_2^2 + \frac{\lambda}{2}\|x\|_2^2",
     "((1)/(2))*norm2(A*x - b)^2 + ((lam)/(2))*norm2(x)^2"),
]


@pytest.mark.parametrize("latex,ascii_", CASES)
def test_translation(latex, ascii_):
    assert latex_to_ascii(latex) == ascii_


@pytest.mark.parametrize("latex", [c[0] for c in CASES])
def test_translation_is_ascii(latex):
    out = latex_to_ascii(latex)
    assert not looks_like_latex(out), out
    assert "\\" not in out and "{" not in out and "|" not in out


ERRORS = [
    # (latex, words the message must contain, 1-based column)
    (r"\int x", "unsupported LaTeX command \\int", 1),
    (r"a + \partial x", "unsupported LaTeX command \\partial", 5),
    (r"\nabla f", "unsupported LaTeX command \\nabla", 1),
    (r"x + \prod_i x_i", "unsupported LaTeX command \\prod", 5),
    (r"\lim x", "unsupported LaTeX command \\lim", 1),
    (r"\sup(x)", "unsupported LaTeX command \\sup", 1),       # \max and \min are read (issue 21)
    (r"x \{ y", "unsupported LaTeX command \\{", 3),
    (r"\|x\|_\infty", "unsupported LaTeX command \\infty", 7),
    (r"\mathbf{Wx+b}", "\\mathbf{...}", 1),
    (r"(x", "unbalanced '('", 1),
    (r"x)", "unbalanced ')'", 2),
    (r"(x}", "unbalanced '}'", 3),
    (r"{x", "unbalanced '{'", 1),
    (r"\|x", "unbalanced '\\\\|'", 1),
    (r"|x", "unbalanced '|'", 1),
    (r"\frac{1}", "ended too early", 9),
    (r"x^", "ended too early", 3),
    (r"x + * y", "unexpected '*'", 5),
    (r"x = y", "unsupported character '='", 3),
    (r"\mathbb{E}[x]", "unsupported character '['", 11),
    (r"x \\", "unsupported LaTeX command \\\\", 3),
    (r"x^23", "ambiguous unbraced argument 23", 3),
    (r"\mathbf{1}", "\\mathbf{1} (the ones vector)", 1),
    (r"\mathbf{1} + x", "\\mathbf{1} (the ones vector)", 1),
    (r"W^{(1)} x", "superscript ^{(..)}", 5),
    (r"(Ax)_i", "a subscript is supported only on a name or a norm", 5),
    (r"\|x\|_3", "unsupported norm subscript _3", 6),
    (r"\sum_{i} \log(1 + \exp(-y_i w^T x_i))", "\\sum_{i} summand", 29),
    (r"\sum_i x_i^T y_i", "transpose of an indexed entry", 8),
    (r"\sum_i \det(X_i)", "det(..) of an indexed entry", 8),
    (r"\sum_i 1", "no name in the summand carries the index", 1),
]


@pytest.mark.parametrize("latex,words,column", ERRORS)
def test_errors(latex, words, column):
    with pytest.raises(ParseError) as info:
        latex_to_ascii(latex)
    err = info.value
    assert words in err.message
    assert err.column == column
    assert err.text == latex


def test_error_renders_caret_under_the_command():
    with pytest.raises(ParseError) as info:
        latex_to_ascii(r"x + \int y")
    lines = str(info.value).splitlines()
    assert lines[0].startswith(r"unsupported LaTeX command \int")
    assert lines[2].index("^") == lines[1].index("\\")


@pytest.mark.parametrize("text", [
    "(" * 5000 + "x" + ")" * 5000,
    "{" * 5000 + "x" + "}" * 5000,
    "(" * 5000,
    r"\|" * 5000,
    "|" * 5001,
    "-" * 5000 + "x",
    r"\log " * 5000 + "x",
    r"\sqrt" * 5000 + "x",
    "x" + "^T" * 5000,
])
def test_deep_nesting_is_a_parse_error(text):
    with pytest.raises(ParseError):
        latex_to_ascii(text)


def test_depth_limit_points_at_the_opener():
    with pytest.raises(ParseError) as info:
        latex_to_ascii("(" * 300 + "x" + ")" * 300)
    assert "nested deeper than 200" in info.value.message
    assert info.value.column == 201
    assert latex_to_ascii("(" * 150 + "x" + ")" * 150) == "x"


@pytest.mark.parametrize("text", [
    r"\log x", "x^T A x", r"x^\top", "x^{2}", r"\|v\|_2", "{x}", "A^{-1}", "||x||_2", "|x|",
    "W_1 x + b_1", "W x + b", r"\frac{1}{m}",
])
def test_looks_like_latex(text):
    assert looks_like_latex(text)


@pytest.mark.parametrize("text", [
    "-y'*log(softmax(W*x + b))", "x'*A*x", "tr(inv(X)*A)", "norm2(A*x - b)^2", "W*x + b", "x_2",
    "W_1*x", "(a) .* (b)", "X^-1", "exp (x)", "sum(x.^2)", "",
])
def test_not_latex(text):
    assert not looks_like_latex(text)


def test_grammar_has_no_lalr_conflicts():
    """Conflicts would be resolved silently (as shifts); lark reports them only with debug=True."""
    from matcalc.language.latex import _PostLex

    def warnings_for(grammar, **kw):
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        lark.logger.addHandler(handler)
        old = lark.logger.level
        lark.logger.setLevel(logging.DEBUG)
        try:
            lark.Lark(grammar, parser="lalr", debug=True, **kw)
        finally:
            lark.logger.removeHandler(handler)
            lark.logger.setLevel(old)
        return log.getvalue()

    assert "Shift/Reduce" in warnings_for('start: e\ne: e "+" e | "x"')  # the check can see one
    grammar = (Path(__file__).parents[1] / "matcalc" / "language" / "latex.lark").read_text()
    assert warnings_for(grammar, lexer="basic", postlex=_PostLex()) == ""
