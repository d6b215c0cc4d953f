"""Simplifying with the user's definitions held whole.

`h1 = x + tanh(A0*x); h2 = h1 + tanh(A1*h1); ...` is a chain the simplifier would otherwise expand:
2*h2 becomes 2*x + 2*tanh(A0*x) + 2*tanh(A1*h1), every layer's sum written out again in every adjoint,
and the user's names are lost from the result. So each defined subexpression is a symbol while an
adjoint is simplified (the renaming of language/named.py), and is put back afterwards as the very node
it names: the result keeps `2*h2`, prints as the book writes it, and costs what the definitions cost.
The simplifier still sees inside each definition where it was built (the constructors' light
canonical form), and a quotient of a definition by itself cancels (`h ./ h`), since both are the symbol.

`as_variable` makes a defined name a variable, for ∂f/∂h of a definition h (the δ of a layer).
"""

from __future__ import annotations

import re

from ..errors import MatcalcError
from ..language.expr import Node, transpose
from ..language.named import Renamer, inline
from ..language.parse import parse
from ..language.shapes import elaborate
from ..language.statements import one_line
from .simplify import Rule, Simplifier


class HeldSimplifier:
    """A Simplifier (same `trace`, `expand`, call) that holds each defined subexpression as its name."""

    def __init__(self, simplifier: Simplifier, names: Renamer):
        self.inner = simplifier
        self.names = names
        self.back = {named: node for node, named in names.names.items() if named.op == "sym"}
        self._memo: dict = {}
        extra = [_renamed(r, names) for r in simplifier.rules if r.source.startswith("assumption")]
        extra = [r for r in extra if r is not None]
        if extra:     # an assumption about a defined name (sum(s) = 1 with s = softmax(z)) in held form too
            self.inner = Simplifier(tuple(simplifier.rules) + tuple(extra))
            self.inner.trace = simplifier.trace

    @property
    def trace(self) -> list:
        return self.inner.trace

    @property
    def rules(self):
        return self.inner.rules

    def __call__(self, node: Node) -> Node:
        return inline(self.inner(self.names(node)), self.back, self._memo)

    def transposed(self, node: Node) -> Node:
        """The simplified transpose, taken with the definitions held: (dh2 .* a)*x' gives x*(dh2' .* a')."""
        return inline(self.inner(transpose(self.names(node))), self.back, self._memo)

    def expand(self, node: Node) -> Node:
        return inline(self.inner.expand(self.names(node)), self.back, self._memo)


def as_variable(text: str, name: str, shapes: dict | None):
    """(text, shapes) with the definition of `name` taken out and `name` declared with its shape: f as a
    function of h, for ∂f/∂h of a defined h (the δ of a layer)."""
    if not isinstance(text, str) or "=" not in text or not isinstance(name, str):
        return text, shapes
    text = one_line(text)
    try:
        tree = parse(text)
    except MatcalcError:
        return text, shapes       # said where the text is read in full, with its own words
    if tree.kind != "program":
        return text, shapes
    found = [d for d in tree.args[:-1] if d.value == name]
    if not found:
        return text, shapes
    typed = elaborate(text, shapes)
    r, c = typed.definitions[name].shape
    spec = () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)
    d = found[0]
    return re.sub(r";\s+", "; ", text[:d.start] + text[d.end:]).strip(), {**(shapes or {}), name: spec}


def _renamed(rule: Rule, names: Renamer) -> Rule | None:
    pattern, result = names(rule.pattern), names(rule.result)
    if pattern is rule.pattern and result is rule.result:
        return None
    return Rule(rule.name, rule.source, pattern, result, rule.wild, rule.dims)


def transposed(simplifier, node: Node, names: Renamer | None = None) -> Node:
    """The simplified transpose of `node` (the numerator layout of a denominator-layout result)."""
    if names:
        return held(simplifier, names).transposed(node)
    if isinstance(simplifier, HeldSimplifier):
        return simplifier.transposed(node)
    return simplifier(transpose(node))


def held(simplifier, names: Renamer | None):
    """The simplifier to use for a derivation: held definitions when there are any."""
    if simplifier is None or not names:
        return simplifier
    if isinstance(simplifier, HeldSimplifier):
        simplifier = simplifier.inner
    return HeldSimplifier(simplifier, names)


__all__ = ["HeldSimplifier", "held", "transposed", "as_variable"]
