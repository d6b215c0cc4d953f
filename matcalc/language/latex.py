r"""Translate the LaTeX that papers use into matcalc's ASCII expression language.

Why: formulas arrive as LaTeX copied from papers, but the engine knows exactly one language, the
ASCII one.  Instead of teaching the engine a second syntax, this module rewrites LaTeX as ASCII text,
which the one real parser then reads; so there is one parser of meaning, and this module only has
to get the notation right (implicit products, ^T, \frac, norms, \operatorname{..}, ...).

How: `latex.lark` is an LALR grammar.  `_PostLex` classifies the raw tokens (commands, Greek
letters, \mathrm{..} names, `|` bars as openers or closers; sizing and spacing commands vanish) and
checks bracket balance and depth; `_Build` turns each reduction into a small tree; `_show` prints it
with an explicit `*` for every product and generous parentheses.

Choices (see also the tests):
  * a run of letters splits into one-letter names (`Wx` -> `W*x`); a letter with digits or a
    subscript is one name (`W1`, `W_1` -> `W1`, `x_i` -> `xi`); a subscript on I or K is its size, as
    matcalc prints them (`I_n` -> `I(n)`, `I_{m n}` -> `I(m*n)`, `K_{m,n}` -> `K(m, n)`);
  * a function without parentheses takes the next single factor: `\log\det X` -> `log(det(X))`
    (deliberately not `logdet(X)`: the engine can simplify, the translator should not);
    with parentheses, powers bind to the result: `\log(u)^2` -> `log(u)^2`;
  * `\sum X` and `\sum_i x_i` -> `sum(..)`: with an index, names carrying it lose it and the summand
    is read entrywise (`\sum_i x_i^2` -> `sum(x.^2)`); summands that are not entrywise are rejected;
    that reading is right only when every indexed name carries exactly the summed indices in one
    order; any other index sum (`\sum_{ij} W_{ij} x_j y_i`, `\sum_i\sum_j A_{ij} x_i x_j`) is rewritten
    by the index-notation module (the `sums` conversion given: `y'*W*x`, `x'*A*x`) or refused;
  * `\mathbf{1}^T v` -> `sum(v)` (and `\mathbf{1}^T M \mathbf{1}` -> `sum(M)`), any other
    `\mathbf{1}` is rejected: the ASCII `ones(n)` needs a size the LaTeX does not give.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lark import PostLex

from ..errors import MatcalcError, ParseError
from .functions import declared_functions, elementwise_names, function_names, latex_names
from .latex_functions import abstract_calls
from .latex_tokens import LatexError as _Err
from .latex_tokens import split_single_char_args as _split_single_char_args

__all__ = ["looks_like_latex", "latex_to_ascii"]

MAX_DEPTH = 200

# ASCII never has a backslash, brace, bar, `^T`, a subscript on `|..|` or `(..)`, nor two operands
# side by side with only blanks between them (`W_1 x`); a plain `x_2` is an ASCII name, so no hint.
_LATEX_HINT = re.compile(r"[\\{}|]|\^\s*T|[)|}]_|[A-Za-z0-9_')]\s+[A-Za-z]")


def looks_like_latex(text: str) -> bool:
    """True if `text` is clearly LaTeX rather than the ASCII language (see _LATEX_HINT)."""
    from .parse import statements      # a line break that ends a definition is not two operands side by side

    return bool(_LATEX_HINT.search(statements(text)))


def latex_to_ascii(text: str, sums=None) -> str:
    """The ASCII matcalc expression for a LaTeX formula; ParseError (with a column) if unsupported.

    A sum over indices that is not one entrywise product over exactly its indices (`\\sum_{ij} W_{ij}
    x_j y_i`) has no direct matrix reading: it is handed whole to `sums`, the conversion from index
    notation to matrix form (the engine's to_matrix, checked numerically by the library), and refused
    with a ParseError when no conversion is given."""
    try:
        tree = _parser().parse(text)
        odd = _needs_index_notation(tree)
        if odd is not None:
            return _via_index_notation(text, odd, sums)
        return _show(tree)
    except _Err as e:
        raise ParseError(e.message, text, e.pos + 1) from None
    except VisitError as e:  # an exception raised inside a _Build callback
        if isinstance(e.orig_exc, _Err):
            raise ParseError(e.orig_exc.message, text, e.orig_exc.pos + 1) from None
        if isinstance(e.orig_exc, RecursionError):
            raise ParseError("LaTeX expression nested too deeply", text, 1) from None
        raise
    except RecursionError:
        raise ParseError("LaTeX expression nested too deeply", text, 1) from None
    except UnexpectedCharacters as e:
        ch = text[e.pos_in_stream]
        what = "lone backslash" if ch == "\\" else f"character {ch!r}"
        raise ParseError(f"unsupported {what} in LaTeX", text, e.pos_in_stream + 1) from None
    except UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            raise ParseError("LaTeX ended too early (an operand or argument is missing)", text, len(text) + 1) from None
        src = text[tok.start_pos : tok.end_pos]
        raise ParseError(f"unexpected {src!r} in LaTeX", text, tok.start_pos + 1) from None
    except UnexpectedInput as e:
        raise ParseError("malformed LaTeX", text, getattr(e, "pos_in_stream", 0) + 1) from None


# ---------------------------------------------------------------- token classification

# the functions of rules/functions.toml (and vec) under \mathrm{..}; `ones`, `I`, `zeros` need a size, so no
# LaTeX spelling maps onto them as functions. Entrywise ones may stand in a summand (\sum_i \log x_i).
_FUNC_ALIAS = {"ln": "log", "trace": "tr"}
_FUNC_CMDS = {c: c for c in ("log", "exp", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "det", "sqrt",
                             "tr", "diag", "softmax", "logdet", "logsumexp", "sigmoid", "relu", "sign")}
_FUNC_CMDS.update(ln="log", Tr="tr", trace="tr")
_GREEK = {g: g for g in (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa mu nu xi pi rho "
    "sigma tau upsilon phi varphi chi psi omega ell Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
).split()}
_GREEK["lambda"] = "lam"  # `lambda` is awkward as a name in the engine's host language
_CMD_TYPES = {
    "cdot": "MUL", "times": "MUL", "ast": "MUL", "odot": "HAD", "circ": "HAD", "oslash": "EDIV",
    "otimes": "KRON", "top": "TOP", "intercal": "TOP", "prime": "TOP", "sum": "SUM", "frac": "FRAC", "dfrac": "FRAC",
    "tfrac": "FRAC", "|": "DBAR", "Vert": "DBAR", "lVert": "NOPEN", "rVert": "NCLOSE", "vert": "BAR",
    "lvert": "AOPEN", "rvert": "ACLOSE",
}
_IGNORED = set(
    "left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr limits nolimits "
    "displaystyle textstyle quad qquad , ; : !".split()
) | {" "}
_PUNCT = {"+": "PLUS", "-": "MINUS", "*": "MUL", "/": "DIV", "^": "CARET", "_": "UNDER", "'": "PRIME",
          "(": "LPAR", ")": "RPAR", "{": "LBRACE", "}": "RBRACE", ",": "COMMA", "|": "BAR"}
_STYLED_RE = re.compile(r"\\([A-Za-z]+)\*?\s*(?:\{\s*(\\?[A-Za-z0-9]+(?:\\_[A-Za-z0-9]+)*)\s*\}|(\\[A-Za-z]+)|([A-Za-z0-9]))")
_ACCENT = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde", "bar": "bar", "overline": "bar"}
_UPRIGHT = {"mathrm", "operatorname", "text", "textrm", "textit", "mathit", "mathsf", "mathtt"}
_OPENERS = {"LPAR": "RPAR", "LBRACE": "RBRACE", "NOPEN": "NCLOSE", "AOPEN": "ACLOSE"}
_SHOW = {"LPAR": "(", "RPAR": ")", "LBRACE": "{", "RBRACE": "}", "NOPEN": "\\|", "NCLOSE": "\\|",
         "AOPEN": "|", "ACLOSE": "|"}
_ENDS_OPERAND = {"NAME", "NUMBER", "ONES", "RPAR", "RBRACE", "NCLOSE", "ACLOSE", "PRIME", "TOP"}


def _tok(type_: str, value: str, start: int, end: int) -> Token:
    return Token(type_, value, start_pos=start, end_pos=end)


class _PostLex(PostLex):
    always_accept = ("STYLED", "CMD", "WORD", "NUM", "PUNCT")

    def process(self, stream):
        toks = [t for t in stream if not (t.type == "CMD" and t[1:] in _IGNORED)]
        toks = abstract_calls(_split_single_char_args(toks), _GREEK, _tok, _Err)
        return iter(_pair_brackets([self._classify(t, toks[i + 1] if i + 1 < len(toks) else None)
                                    for i, t in enumerate(toks)]))

    @staticmethod
    def _classify(t: Token, nxt: Token | None) -> Token:
        s, e = t.start_pos, t.end_pos
        if t.type == "FUNC":                     # a declared abstract function (_abstract_calls)
            return t
        if t.type == "WORD":
            return _tok("NAME", str(t), s, e)
        if t.type == "NUM":
            return _tok("NUMBER", str(t), s, e)
        if t.type == "PUNCT":
            return _tok(_PUNCT[str(t)], str(t), s, e)
        if t.type == "STYLED":
            return _styled(t)
        name = t[1:]
        if name == "sigma" and nxt is not None and str(nxt) == "(":
            return _tok("FUNC", "sigmoid", s, e)  # \sigma(Wx) is the logistic function ...
        if name in _GREEK:
            return _tok("NAME", _GREEK[name], s, e)  # ... a bare \sigma is a name
        if name in _FUNC_CMDS:
            return _tok("FUNC", _FUNC_CMDS[name], s, e)
        if name in latex_names()[0]:                   # \max, \cosh: the `latex` column of the table
            return _tok("FUNC", latex_names()[0][name], s, e)
        if name in _CMD_TYPES:
            return _tok(_CMD_TYPES[name], name, s, e)
        if name in _ACCENT or name in _UPRIGHT or name in ("mathbf", "boldsymbol", "bm", "vec", "mathbb", "mathcal"):
            raise _Err(f"unsupported LaTeX {t}{{...}}: only a single name may stand inside the braces", s)
        raise _Err(f"unsupported LaTeX command {t}", s)


def _styled(t: Token) -> Token:
    """\\mathrm{softmax} -> FUNC, \\mathbf{x} -> NAME x, \\hat{y} -> NAME yhat, \\mathbf{1} -> ONES."""
    m = _STYLED_RE.match(str(t))
    cmd, inner = m.group(1), m.group(2) or m.group(3) or m.group(4)
    s, e = t.start_pos, t.end_pos
    if cmd in _UPRIGHT and inner in latex_names()[1]:      # \operatorname{log\_softmax}, \mathrm{erf}
        return _tok("FUNC", latex_names()[1][inner], s, e)
    inner = inner.replace("\\_", "_")
    if inner.startswith("\\"):
        if inner[1:] not in _GREEK:
            raise _Err(f"unsupported LaTeX command {inner} inside \\{cmd}", s)
        name = _GREEK[inner[1:]]
    elif inner.isdigit():
        return _tok("ONES", inner, s, e) if inner == "1" else _tok("NUMBER", inner, s, e)
    elif not inner[0].isalpha():
        raise _Err(f"\\{cmd}{{{inner}}} is not a name", s)
    else:
        name = inner
    if cmd in _ACCENT:
        return _tok("NAME", name + _ACCENT[cmd], s, e)
    func = _FUNC_ALIAS.get(name.lower(), name.lower())
    if cmd in _UPRIGHT and (func in function_names() or func == "vec"):
        return _tok("FUNC", func, s, e)
    return _tok("NAME", name, s, e)


def _pair_brackets(toks: list[Token]) -> list[Token]:
    """Decide which `|`, `||`, `\\|` open and which close; check balance and nesting depth."""
    out: list[Token] = []
    stack: list[Token] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        ends = bool(out) and out[-1].type in _ENDS_OPERAND
        top = stack[-1].type if stack else None
        if t.type == "BAR" and i + 1 < len(toks) and toks[i + 1].type == "BAR" \
                and toks[i + 1].start_pos == t.end_pos and not (ends and top == "AOPEN"):
            t = _tok("DBAR", "||", t.start_pos, toks[i + 1].end_pos)  # || is a norm bar
            i += 1
        if t.type == "DBAR":
            t = _tok("NCLOSE" if ends and top == "NOPEN" else "NOPEN", "\\|", t.start_pos, t.end_pos)
        elif t.type == "BAR":
            t = _tok("ACLOSE" if ends and top == "AOPEN" else "AOPEN", "|", t.start_pos, t.end_pos)
        if t.type in _OPENERS:
            stack.append(t)
            if len(stack) > MAX_DEPTH:
                raise _Err(f"LaTeX nested deeper than {MAX_DEPTH} levels", t.start_pos)
        elif t.type in _OPENERS.values():
            if not stack:
                raise _Err(f"unbalanced {_SHOW[t.type]!r}: nothing to close", t.start_pos)
            if _OPENERS[stack[-1].type] != t.type:
                o = stack[-1]
                raise _Err(f"unbalanced {_SHOW[t.type]!r}: the {_SHOW[o.type]!r} at column {o.start_pos + 1} "
                           f"is still open", t.start_pos)
            stack.pop()
        out.append(t)
        i += 1
    if stack:
        o = stack[-1]
        raise _Err(f"unbalanced {_SHOW[o.type]!r}: never closed", o.start_pos)
    return out


# ---------------------------------------------------------------- tree

class _N:
    """A node: kind in name num ones call norm neg add minus mul had ediv div pow epow tr group."""

    __slots__ = ("kind", "args", "pos", "paren", "head", "isum")

    def __init__(self, kind: str, *args, pos: int = 0, paren: bool = False):
        self.kind, self.args, self.pos, self.paren, self.head = kind, args, pos, paren, None
        self.isum = None  # for \sum_i: (subscripts of the summand's names before stripping, indices summed)


def _name(base: str, sub: str, pos: int) -> _N:
    return _N("name", base, sub, pos=pos)


def _product(factors, pos: int) -> _N:
    flat = []
    for f in factors:
        flat.extend(f.args[0] if f.kind == "mul" else [f])
    return flat[0] if len(flat) == 1 else _N("mul", flat, pos=pos)


class _Sub(str):
    """A subscript's text, and its items as written: groups split at commas, each group's words split
    at spaces (`{m n, p}` -> [["m", "n"], ["p"]]), which is how matcalc prints sizes (`I_{m n}`, `K_{m,n}`)."""

    groups: list


def _subscript(n: _N, text: str, pos: int) -> _N:
    if n.kind == "ones":           # \mathbf{1}_{n}: the ones vector with its size, as matcalc prints it
        groups = getattr(text, "groups", None) or [[str(text)]]
        if len(groups) != 1:
            raise _Err(f"a ones vector has one size: \\mathbf{{1}}_{{{text}}}", pos)
        return _name(f"ones({'*'.join(groups[0])})", "", n.pos)
    if n.kind == "num" and n.args[0] == "0":   # \mathbf{0}_{n}, \mathbf{0}_{m,n}: zeros of that shape
        groups = getattr(text, "groups", None) or [[str(text)]]
        return _name(f"zeros({', '.join('*'.join(g) for g in groups)})", "", n.pos)
    if n.kind == "name":
        groups = getattr(text, "groups", None)
        if groups and not n.args[1] and n.args[0] in ("I", "K"):
            sized = _sized_constant(n.args[0], groups, pos)
            if sized is not None:
                return _name(sized, "", n.pos)
        return _name(n.args[0], n.args[1] + text, n.pos)
    if n.kind == "norm" and n.args[1] is None:
        kind = {"2": "2", "F": "2", "1": "1"}.get(text)
        if kind is None:
            raise _Err(f"unsupported norm subscript _{text}: use _1, _2 or _F", pos)
        return _N("norm", n.args[0], kind, pos=n.pos)
    raise _Err("a subscript is supported only on a name or a norm", pos)


def _sized_constant(base: str, groups: list, pos: int) -> str | None:
    """`I_{p}` -> `I(p)`, `I_{m n}` -> `I(m*n)`, `K_{m,n}` -> `K(m, n)`: the sized identity and commutation
    matrix as matcalc prints them, so its LaTeX reads back. Any other subscript on K keeps it a name."""
    sizes = ["*".join(words) for words in groups]
    if base == "I":
        if len(sizes) != 1:
            raise _Err(f"an identity has one size: I_{{{', '.join(sizes)}}}", pos)
        return f"I({sizes[0]})"
    if len(sizes) == 2:
        return f"K({sizes[0]}, {sizes[1]})"
    return None


def _superscript(n: _N, kind: str, payload, pos: int) -> _N:
    if kind == "T":
        return _N("tr", n, pos=n.pos)
    if kind == "inv":
        return _N("call", "inv", n, pos=n.pos)
    if kind == "invT":
        return _N("tr", _N("call", "inv", n, pos=n.pos), pos=n.pos)
    return _N("epow" if kind == "hpow" else "pow", n, payload, pos=n.pos)


def _apply_postops(n: _N, ops) -> _N:
    for op in ops:  # x^2_i means x_i^2: subscripts go on the atom first
        if op[0] == "sub":
            n = _subscript(n, op[1], op[2])
    for op in ops:
        if op[0] == "sup":
            n = _superscript(n, op[1], op[2], op[3])
    return n


def _entrywise(n: _N, idx: set, what: str):
    """Rewrite the summand of \\sum_i: names lose the index, products/powers become entrywise."""
    k, a = n.kind, n.args
    if k == "name":
        rest = "".join(c for c in a[1] if c not in idx)
        return (_name(a[0], rest, n.pos), True) if rest != a[1] else (n, False)
    if k in ("num", "ones"):
        return n, False
    if k == "calln" and any(_entrywise(x, idx, what)[1] for x in a[1:]):
        raise _Err(f"unsupported {what} summand: {a[0]}(..) of indexed entries; write the vector form instead", n.pos)
    if k == "calln":
        return n, False
    if k in ("call", "norm"):
        f = a[0] if k == "call" else "norm"
        inner, ix = _entrywise(a[0 if k == "norm" else 1], idx, what)
        if ix and f not in elementwise_names() and f != "sum" and f.rstrip("'") not in declared_functions():
            raise _Err(f"unsupported {what} summand: {f}(..) of an indexed entry is not entrywise; "
                       "write the vector form instead", n.pos)
        return (_N("call", f, inner, pos=n.pos) if k == "call" else _N("norm", inner, a[1], pos=n.pos)), ix
    if k == "tr":
        inner, ix = _entrywise(a[0], idx, what)
        if ix:
            raise _Err(f"unsupported {what} summand: transpose of an indexed entry; write the vector form instead", n.pos)
        return n, False
    if k in ("pow", "epow"):
        base, ix = _entrywise(a[0], idx, what)
        if _entrywise(a[1], idx, what)[1]:
            raise _Err(f"unsupported {what} summand: indexed exponent", a[1].pos)
        return (_N("epow" if ix else k, base, a[1], pos=n.pos)), ix
    if k == "mul":
        parts = [_entrywise(f, idx, what) for f in a[0]]
        indexed = [p for p, ix in parts if ix]
        plain = [p for p, ix in parts if not ix]
        if not indexed:
            return n, False
        for p in plain:
            if _contains(p, "tr"):
                raise _Err(f"unsupported {what} summand: a transposed factor next to indexed entries is not "
                           "entrywise; write the vector form instead", p.pos)
        had = indexed[0]
        for p in indexed[1:]:
            had = _N("had", had, p, pos=had.pos)
        return _product(plain + [had], n.pos), True
    if k == "neg":
        inner, ix = _entrywise(a[0], idx, what)
        return _N("neg", inner, pos=n.pos), ix
    # add minus had ediv div
    (l, lx), (r, rx) = _entrywise(a[0], idx, what), _entrywise(a[1], idx, what)
    if k == "div" and rx:
        k = "ediv"
    return _N(k, l, r, pos=n.pos), lx or rx


def _raw_subscripts(n: _N) -> tuple[set, set]:
    """The letter subscripts of the names in a summand (nested index sums report their own, recorded
    before they stripped them) and the indices those nested sums bind."""
    subs: set = set()
    summed: set = set()
    stack = [n]
    while stack:
        x = stack.pop()
        if not isinstance(x, _N):
            continue
        if x.isum is not None:
            subs |= x.isum[0]
            summed |= x.isum[1]
            continue
        if x.kind == "name":
            if any(c.isalpha() for c in x.args[1]):
                subs.add(x.args[1])
            continue
        stack.extend(c for c in _children(x) if isinstance(c, _N))
    return subs, summed


def _needs_index_notation(n: _N) -> _N | None:
    """The first outermost \\sum_i whose summand is not one entrywise product over exactly its indices
    (`\\sum_{ij} W_{ij} x_j y_i`, `\\sum_i \\sum_j A_{ij} x_i x_j`): stripping the indices there would
    change the meaning, so the whole formula goes to the index-notation module instead."""
    stack = [n]
    while stack:
        x = stack.pop()
        if not isinstance(x, _N):
            continue
        if x.isum is not None:
            subs, summed = x.isum
            if len(subs) != 1 or set(next(iter(subs))) != summed or len(next(iter(subs))) != len(summed):
                return x
            continue
        stack.extend(c for c in _children(x) if isinstance(c, _N))
    return None


def _via_index_notation(text: str, at: _N, sums) -> str:
    if sums is None:
        raise ParseError("this LaTeX sum over indices needs index notation to read (a matrix form is "
                         "found by the index reader, not here)", text, at.pos + 1)
    try:
        return sums(text)
    except MatcalcError as e:
        why = str(e).splitlines()[0]
        raise ParseError(f"this LaTeX sum over indices has no matrix form matcalc can read ({why})",
                         text, at.pos + 1) from None


def _contains(n: _N, kind: str) -> bool:
    return n.kind == kind or any(isinstance(c, _N) and _contains(c, kind) for c in _children(n))


def _children(n: _N):
    return n.args[0] if n.kind == "mul" else n.args


@v_args(inline=True)
class _Build(Transformer):
    def start(self, e):
        return e

    def name(self, t):
        return _name(str(t), "", t.start_pos)

    def number(self, t):
        return _N("num", str(t), pos=t.start_pos)

    def ones(self, t):
        return _N("ones", pos=t.start_pos)

    def group(self, o, e, c):
        return _N("group", e, pos=o.start_pos)

    def braced(self, o, e, c):
        return e

    def frac(self, f, a, b):
        return _N("div", a, b, pos=f.start_pos)

    def norm(self, o, e, c):
        return _N("norm", e, None, pos=o.start_pos)

    def abs(self, o, e, c):
        return _N("call", "abs", e, pos=o.start_pos)

    def sup_arg(self, *ch):
        inner = [c for c in ch if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE"))]
        if len(inner) == 2 and isinstance(inner[0], Token) and inner[0].type == "MINUS":  # {-\top}
            return ("invT", None)
        if len(inner) == 2:  # {\circ 2}
            return ("hpow", inner[1])
        x = inner[0]
        if isinstance(x, Token):
            if x.type == "TOP" or (x.type == "NAME" and str(x) == "T"):
                return ("T", None)
            return ("pow", self.name(x) if x.type == "NAME" else self.number(x))
        if x.kind == "name" and x.args == ("T", ""):
            return ("T", None)
        if x.kind == "neg" and x.args[0].kind == "num" and x.args[0].args[0] == "1":
            return ("inv", None)
        if x.kind == "neg" and x.args[0].kind == "name" and x.args[0].args == ("T", ""):
            return ("invT", None)
        if x.paren:
            raise _Err("superscript ^{(..)} (a layer index?) is not supported; use a subscript", x.pos)
        return ("pow", x)

    def sub_text(self, *ch):
        text = _Sub("".join(str(c) for c in ch if c.type in ("NAME", "NUMBER")))
        groups, words, last_end = [], [], None
        for c in ch:
            if c.type == "COMMA":
                groups.append(words)
                words, last_end = [], None
            elif c.type in ("NAME", "NUMBER"):
                if words and last_end == c.start_pos:      # touching: one word (`{mn}` is one size)
                    words[-1] += str(c)
                else:
                    words.append(str(c))
                last_end = c.end_pos
        groups.append(words)
        text.groups = [g for g in groups if g]
        return text

    def superscript(self, caret, s):
        return ("sup", s[0], s[1], caret.start_pos)

    def subscript(self, u, text):
        return ("sub", text, u.start_pos)

    def prime(self, p):
        return ("sup", "T", None, p.start_pos)

    def postfix(self, atom, *ops):
        inner = atom.args[0] if atom.kind == "group" else atom
        n = _apply_postops(inner, ops)
        if atom.kind == "group":
            if not ops:
                n = _N(n.kind, *n.args, pos=n.pos, paren=True)
            else:
                n.head = (inner, ops)  # lets \log(u)^2 become log(u)^2 rather than log(u^2)
        return n

    def call(self, f, arg):
        if arg.head is not None and arg.head[1]:
            inner, ops = arg.head
            return _apply_postops(_N("call", str(f), inner, pos=f.start_pos), ops)
        return _N("call", str(f), arg, pos=f.start_pos)

    def call_many(self, f, *rest):        # \max(a, b), \operatorname{sum}(X, 2)
        return _N("calln", str(f), *(x for x in rest if isinstance(x, _N)), pos=f.start_pos)

    def factors(self, *fs):
        return _product(fs, fs[0].pos)

    def sum_index(self, u, text):
        return ("idx", text)

    def big_sum(self, *ch):
        ch = list(ch)
        before = ch.pop(0) if isinstance(ch[0], _N) else None
        tok, body = ch[0], ch[-1]
        info = None
        if len(ch) == 3:
            text = ch[1][1]
            what = f"\\sum_{{{text}}}"
            subs, summed = _raw_subscripts(body)
            info = (subs, summed | set(text))
            body, indexed = _entrywise(body, set(text), what)
            if not indexed:
                raise _Err(f"{what}: no name in the summand carries the index", tok.start_pos)
        s = _N("call", "sum", body, pos=tok.start_pos)
        s.isum = info
        return _product([before, s], before.pos) if before is not None else s

    def neg(self, m, x):
        return _N("neg", x, pos=m.start_pos)

    def plus_sign(self, p, x):
        return x

    def add(self, a, op, b):
        return _N("add", a, b, pos=a.pos)

    def minus(self, a, op, b):
        return _N("minus", a, b, pos=a.pos)

    def mul(self, a, op, b):
        return _product([a, b], a.pos)

    def had(self, a, op, b):
        return _N("had", a, b, pos=a.pos)

    def kron(self, a, op, b):
        return _N("kron", a, b, pos=a.pos)

    def ediv(self, a, op, b):
        return _N("ediv", a, b, pos=a.pos)

    def div(self, a, op, b):
        return _N("div", a, b, pos=a.pos)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = Path(__file__).with_name("latex.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="basic", postlex=_PostLex(), transformer=_Build(),
                propagate_positions=True)


# ---------------------------------------------------------------- printing

_ATOMIC = {"name", "num", "call", "calln", "norm", "kron"}


def _show(n: _N) -> str:
    k, a = n.kind, n.args
    if k == "name":
        return "I" if a[0] == "I" else a[0] + a[1]
    if k == "num":
        return a[0]
    if k == "ones":
        raise _Err("\\mathbf{1} (the ones vector) has no size here: write \\mathbf{1}^T v for sum(v), "
                   "or ones(n) in the ASCII language", n.pos)
    if k == "call":
        return f"{a[0]}({_show(a[1])})"
    if k == "calln":
        return f"{a[0]}({', '.join(_show(x) for x in a[1:])})"
    if k == "norm":
        return f"norm{a[1] or '2'}({_show(a[0])})"
    if k == "tr":
        return _tight(a[0]) + "'"
    if k in ("pow", "epow"):
        e = a[1]
        exp = _show(e) if e.kind in ("num", "name") else f"({_show(e)})"
        return _tight(a[0]) + ("^" if k == "pow" else ".^") + exp
    if k == "mul":
        return "*".join(_show(f) if f.kind in _ATOMIC | {"tr", "pow", "epow"} else f"({_show(f)})"
                        for f in _ones_to_sum(a[0]))
    if k == "neg":
        s = _show(a[0])
        return "-" + (s if _safe_after_minus(a[0]) else f"({s})")
    if k == "kron":
        return f"kron({_show(a[0])}, {_show(a[1])})"
    if k in ("had", "ediv", "div"):
        op = {"had": " .* ", "ediv": " ./ ", "div": "/"}[k]
        return f"({_show(a[0])}){op}({_show(a[1])})"
    r = _show(a[1])
    if a[1].kind in ("add", "minus", "neg"):
        r = f"({r})"
    return f"{_show(a[0])} {'+' if k == 'add' else '-'} {r}"


def _tight(n: _N) -> str:
    s = _show(n)
    return s if n.kind in _ATOMIC else f"({s})"


def _safe_after_minus(n: _N) -> bool:
    if n.kind == "mul":
        return _safe_after_minus(n.args[0][0])
    return n.kind in _ATOMIC or n.kind == "tr"


def _ones_to_sum(factors: list) -> list:
    """1^T v -> sum(v); 1^T M 1 -> sum(M)."""
    for k, f in enumerate(factors):
        if f.kind == "tr" and f.args[0].kind == "ones":
            rest = factors[k + 1 :]
            if rest and rest[-1].kind == "ones":
                rest = rest[:-1]
            if not rest:
                raise _Err("\\mathbf{1}^T needs a vector after it", f.pos)
            return factors[:k] + [_N("call", "sum", _product(rest, rest[0].pos), pos=f.pos)]
    return factors
