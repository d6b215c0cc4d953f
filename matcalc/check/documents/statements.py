r"""What a chain of a document says: a definition, a shape, an assumption, a case, a derivative claim, an
identity — read from the trees of its pieces and what the document has defined so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ParseError
from ...language.latex_doc import GREEK, M, parse_math
from .walker import Unread, key_of
from .walker_calls import free_letters, key_or_none, nodes

ARROWS = {"\\Leftarrow", "\\Rightarrow", "\\rightarrow", "\\leftarrow", "\\to"}
ORDER = {"<", ">", "\\le", "\\leq", "\\ge", "\\geq"}


@dataclass
class Side:
    text: str
    start: int
    end: int
    tree: M | None = None
    error: str | None = None
    rel: str = ""


@dataclass
class Statement:
    """One chain of one span: its sides, and what it is."""
    span: object
    sides: list
    kind: str = ""              # derivative identity definition shape assumption case onehot arrow order other
    case: list = field(default_factory=list)     # [(op, a, b)] index conditions it is judged under
    case_note: str = ""
    applied_case: list | None = None             # the conditions a judged chain was measured under (of `case`)
    case_scope: str = "block"                    # a case: block (until the next), line, named, after (labels the chain before)
    layout: str | None = None
    continues: object = None    # the Statement a chain that starts with '=' continues
    head: Side | None = None    # the first side of the whole chain (for a continuation, the earlier head)


def parse_side(text: str) -> tuple[M | None, str | None]:
    try:
        return parse_math(text), None
    except ParseError as err:
        items = _top_commas(text)
        if len(items) > 1 and any(_is_dots(x) for x in items):     # x_1, \dots, x_n (before ∈): a list
            try:
                return M("list", tuple(M("dots") if _is_dots(x) else parse_math(x) for x in items), ","), None
            except ParseError:
                pass
        return None, f"the formula could not be read: {err.message}"


def _top_commas(text: str) -> list:
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [x.strip() for x in out]


def _is_dots(x: str) -> bool:
    return x in ("\\dots", "\\ldots", "\\cdots", "...")


def is_letter(n: M | None) -> bool:
    return n is not None and n.kind == "name" and len(n.args[0]) == 1 and n.args[0].isalpha()


def is_derivative(n: M | None) -> bool:
    if n is None:
        return False
    if n.kind in ("deriv", "diff"):
        return True
    if n.kind == "prime" and n.args[0].kind in ("group", "name"):
        return True
    if n.kind in ("apply", "call") and n.args[0].kind == "prime":
        return True
    if n.kind == "sub" and n.args[0].kind == "group" and n.args[0].args[0].kind == "deriv":
        return True
    if n.kind == "T" or n.kind == "group":
        return is_derivative(n.args[0])
    return False


def symbol_head(n: M | None):
    """(key, indices, params) when the side is a symbol that a definition could name, else None."""
    if n is None:
        return None
    if n.kind == "apply" and n.args[0].kind in ("name", "sub"):
        try:
            ko = key_of(n.args[0])
        except Unread:
            return None
        if ko is None or ko[1]:
            return None
        params = []
        for a in n.args[1]:
            try:
                k = key_of(a)
            except Unread:
                return None
            if k is None or k[1]:
                return None
            params.append(k[0])
        return ko[0], (), tuple(params)
    if n.kind in ("name", "sub", "layer"):
        try:
            ko = key_of(n)
        except Unread:
            return None
        if ko is None:
            return None
        if ko[0] in GREEK and False:
            return None
        return ko[0], ko[1], ()
    return None


def mentions(n: M, key: str) -> bool:
    for x in nodes(n):
        if x.kind in ("name", "sub", "layer"):
            ko = key_or_none(x)
            if ko is not None and ko[0] == key:
                return True
    return False


def letters_of(n: M) -> set:
    """Index letters that stand in subscripts (entries), in indicators and in case conditions."""
    out = set()
    for x in nodes(n):
        if x.kind == "sub":
            for it in x.args[1]:
                if it.kind == "letters":
                    out |= set(it.args[0])
                elif is_letter(it):
                    out.add(it.args[0])
        if x.kind == "rel":
            for side in x.args[1:]:
                if is_letter(side):
                    out.add(side.args[0])
    return out


def conditioned_letters(n: M) -> set:
    """Letters that a cases block or an indicator inside the formula conditions on itself."""
    out = set()
    for x in nodes(n):
        if x.kind in ("indicator",):
            out |= letters_of(x.args[0]) | {s.args[0] for s in x.args[0].args[1:] if is_letter(s)}
        if x.kind == "cases":
            for _, c in x.args[0]:
                if c is not None and c.kind == "rel":
                    out |= {s.args[0] for s in c.args[1:] if is_letter(s)}
    return out


# ---------------------------------------------------------------- Einstein's convention

def einstein(n: M) -> M:
    """Every index repeated within a product summed over (the text declared the convention)."""
    return _ein(n, set())


def _count(n: M) -> dict:
    """How often each index letter occurs in a factor (a sum counts the letters every term has, once)."""
    if n.kind == "add":
        counts = [_count(x) for _, x in n.args[0]]
        common = set(counts[0])
        for c in counts[1:]:
            common &= set(c)
        return {k: 1 for k in common}
    if n.kind == "sum":
        inner = _count(n.args[3])
        return {k: v for k, v in inner.items() if k not in n.args[0]}
    if n.kind == "mul":
        out: dict = {}
        for f in (n.args[0], n.args[1]):
            for k, v in _count(f).items():
                out[k] = out.get(k, 0) + v
        return out
    out = {}
    for letter in letters_of(n):
        out[letter] = out.get(letter, 0) + 1
    if n.kind == "deriv":
        out = {}
        for side in (n.args[0], n.args[1]):
            for letter in letters_of(side):
                out[letter] = out.get(letter, 0) + 1
    return out


def _ein(n: M, bound: set) -> M:
    if n.kind == "add":
        return M("add", tuple((s, _ein(x, bound)) for s, x in n.args[0]), pos=n.pos)
    if n.kind in ("group", "neg"):
        return M(n.kind, _ein(n.args[0], bound), *n.args[1:], pos=n.pos)
    if n.kind == "mul":
        counts = _count(n)
        rep = sorted(k for k, v in counts.items() if v >= 2 and k not in bound)
        inner = M("mul", _ein(n.args[0], bound | set(rep)), _ein(n.args[1], bound | set(rep)), n.args[2],
                  pos=n.pos)
        if rep:
            return M("sum", tuple(rep), None, None, inner, pos=n.pos)
        return inner
    return n


__all__ = ["Side", "Statement", "parse_side", "is_letter", "is_derivative", "symbol_head", "mentions",
           "letters_of", "free_letters", "conditioned_letters", "einstein", "ARROWS", "ORDER"]
