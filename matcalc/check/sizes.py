"""Declared sizes above what the checker draws, and the texts that name them.

The checker's instances stay small (at most 12 along any dimension) whatever the user declared: a size
such as `--shape X=100,5` becomes a dimension name (n100) with small sizes on the instances, like
`X=n,5`. The texts' own literal sizes go with it — `ones(100)` in a claim or in the expression is
`ones(n100)` — so a right claim written with the user's numbers is judged right (`X'*ones(100)` for
the gradient of `sum(X*w)`), and the verdict says 100 again (verify.py).
"""

from __future__ import annotations

from ..errors import ParseError
from ..language.parse import parse

SIZE_ARGUMENTS = {"ones": (0,), "I": (0,), "K": (0, 1), "unvec": (1, 2)}   # which arguments are sizes


def renamed_sizes(shapes, limit: int = 12) -> dict[int, str]:
    """The declared numeric sizes above `limit` and the dimension names they become (100 -> n100)."""
    if not shapes or isinstance(shapes, str):
        return {}
    out: dict[int, str] = {}
    for dims in dict(shapes).values():
        parts = [p.strip() for p in dims.split(",")] if isinstance(dims, str) else list(dims)
        for p in parts:
            number = p if isinstance(p, int) else int(p) if isinstance(p, str) and p.isascii() and p.isdigit() \
                and len(p) <= 12 else None        # '²' is a digit to isdigit(), not to int()
            if number is not None and number > limit:
                out.setdefault(number, f"n{number}")
    return out


def rename_sizes(text: str, renamed: dict[int, str]) -> str:
    """A text with its literal sizes renamed as the shapes' are: `X'*ones(100)` with X=100,5 is checked as
    `X'*ones(n100)`, the size the instances give X's rows (a size, never a number used as a scalar:
    `x/100` keeps its 100). A text that does not parse is returned as it is (its error is said later)."""
    if not renamed or not isinstance(text, str):
        return text
    try:
        root = parse(text)
    except ParseError:
        return text
    edits, stack = [], [root]
    while stack:
        node = stack.pop()
        stack.extend(node.args)
        if node.kind == "call" and node.value in SIZE_ARGUMENTS:
            for i in SIZE_ARGUMENTS[node.value]:
                if i < len(node.args) and node.args[i].kind == "num" and node.args[i].value in renamed:
                    arg = node.args[i]
                    edits.append((arg.start, arg.end, renamed[int(arg.value)]))
    for start, end, name in sorted(edits, reverse=True):
        text = text[:start] + name + text[end:]
    return text


def small_shapes(shapes, limit: int = 12) -> dict | None:
    """Declared numeric sizes above `limit` become dimension names, so the checker's instances stay small
    whatever the user declared (`x=5000` is checked at a few sizes ≤ 12, like `x=n`); the texts' own
    literal sizes are renamed alike (rename_sizes)."""
    if not shapes:
        return shapes
    if isinstance(shapes, str):
        return shapes
    out, renamed = {}, {}
    for name, dims in dict(shapes).items():
        parts = [p.strip() for p in dims.split(",")] if isinstance(dims, str) else list(dims)
        new = []
        for p in parts:
            number = p if isinstance(p, int) else int(p) if isinstance(p, str) and p.isascii() and p.isdigit() \
                and len(p) <= 12 else None        # '²' is a digit to isdigit(), not to int()
            if number is not None and number > limit:
                p = renamed.setdefault(number, f"n{number}")
            new.append(str(p))
        out[name] = ",".join(new) if isinstance(dims, str) else tuple(new)
    return out if renamed else shapes


__all__ = ["small_shapes", "renamed_sizes", "rename_sizes", "SIZE_ARGUMENTS"]
