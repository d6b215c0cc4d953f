"""Named definitions before the objective: `h = tanh(W1*x); z = W2*h + b; -y'*log(softmax(z))`.

The parser (grammar.lark, parse.py) reads them as a `program` of `define` statements. Here they are
typed: each defined name gets its expression's shape (shape inference runs through it like through a
variable), and is built once. While the expressions are built a defined name stands for a placeholder
symbol, so that `h2 = h1 + tanh(A1*h1)` is a sum of the two operands h1 and tanh(A1*h1) rather than of
h1's terms; the placeholders are then replaced by the definitions' nodes without rebuilding
(named.inline). So the tree keeps the user's program as its shape: every defined name is one node of
the DAG, whatever is built on it, and the engine meets `h2` as one thing whose adjoint is ∂f/∂h2.
"""

from __future__ import annotations

import re

from ..errors import ParseError, ShapeError
from ..tables import spelled
from . import expr as E
from .functions import callable_keyword
from .named import PLAIN, inline

RESERVED = ("ones", "I", "vec", "kron", "K", "unvec")


def program_shape(inf, node, one):
    """The shape of a program (an _Inference method's work): definitions in order, then the objective."""
    for d in node.args[:-1]:
        name = d.value
        where = f"{name} = {d.args[0].source}"
        if spelled(name) or name in RESERVED or name in inf.functions:
            raise ParseError(f"{name} is a function: a definition needs a new name", inf.text, d.start + 1)
        if name in inf.defined:
            raise ParseError(f"{name} is defined twice", inf.text, d.start + 1)
        if name in inf.names:
            raise ParseError(f"{name} is used before it is defined ({where})", inf.text, d.start + 1)
        shape = inf.shape(d.args[0])
        if name in inf.names:      # h = h + 1: the name stood for a variable on its own right side
            raise ParseError(f"{name} is defined in terms of itself ({where})", inf.text, d.start + 1)
        if name in inf.declared:   # --shape h=n for a defined name: its expression must have that shape
            spec = inf.declared[name]
            want = tuple(inf.dim(x) for x in spec) + tuple(one() for _ in range(2 - len(spec)))
            inf.unify(shape[0], want[0], d, shape, want, "is declared")
            inf.unify(shape[1], want[1], d, shape, want, "is declared")
        inf.defined[name] = shape
    return inf.shape(node.args[-1])


def defined_shape(inf, name: str):
    """The shape of a use of a defined name; a declared function's name used as a variable is refused."""
    if name in inf.defined:
        return inf.defined[name]
    raise ShapeError(f"{name} is declared a function (--function {name}): write {name}(…), not {name} alone")


def abstract_shape(inf, node):
    """f(z), f'(z) of a declared elementwise function: the shape of z."""
    if len(node.args) != 1:
        raise ShapeError(f"{node.source}: {node.value} is an elementwise function of one argument, got "
                         f"{len(node.args)}")
    return inf.shape(node.args[0])


def placeholders(definitions: dict):
    """(name -> what a use of it builds, placeholder -> its node, a memo for inline)."""
    held = {name: node if node.op in PLAIN else E.sym(name, node.shape) for name, node in definitions.items()}
    return held, {p: definitions[name] for name, p in held.items() if p.op == "sym"}, {}


def build_program(builder, node):
    """Each definition built once (its uses are placeholders), then the objective."""
    for d in node.args[:-1]:
        real = inline(builder.build(d.args[0]), builder.inlined, builder._inline_memo)
        builder.definitions[d.value] = real
        held = builder.placeholders[d.value] = real if real.op in PLAIN else E.sym(d.value, real.shape)
        if held is not real:
            builder.inlined[held] = real
    return builder.build(node.args[-1])


def one_line(text: str) -> str:
    """The program on one line, statements separated by '; ' (what results and verdicts quote)."""
    if "\n" not in text and "\r" not in text:
        return text
    from .parse import statements

    return re.sub(r"\s*;\s*", "; ", re.sub(r"[ \t]+", " ", statements(text))).strip()


def unknown_hint(name: str) -> str:
    """For an unknown function: how to declare it as an abstract elementwise function."""
    if not name.isidentifier() or len(name) > 40:
        return ""
    return f"; an abstract elementwise function is declared with --function {name} (functions=[{name!r}])"


def check_keywords(functions, names) -> None:
    """A declared function f is passed to compiled code as f, its derivatives as df, d2f, d3f: no variable
    may have those names."""
    for f in functions:
        for name in names:
            if name in (f, callable_keyword(f, 1), callable_keyword(f, 2), callable_keyword(f, 3)):
                raise ShapeError(f"the name {name} is taken: compiled code passes the declared function {f} "
                                 f"(and its derivatives df, d2f) by name; rename the variable {name}")


__all__ = ["one_line", "unknown_hint", "program_shape", "build_program", "placeholders", "check_keywords", "defined_shape", "abstract_shape"]
