"""Unfolding a derivation's abbreviations (`let h = W*x + b`) into the lines that use them.

Each substitution puts the definition, in parentheses, where the whole name stands. Unfolding is text
substitution, so a chain of lets that each use the previous one twice doubles the text every line: 24
such lines make 16 million copies of `x`. The unfolded text is bounded by what the parser reads, and
the bound is checked after every substitution, before anything larger is built.
"""

from __future__ import annotations

import re

from ..errors import MatcalcError
from ..language.parse import MAX_LENGTH


def _whole_name(name: str) -> str:
    """A name standing alone: not part of a longer name, not a function called by that name."""
    return rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_(])"


def mentions(text: str, name: str) -> bool:
    return re.search(_whole_name(name), text) is not None


def substitute(text: str, name: str, body: str) -> str:
    """`text` with every standalone `name` replaced by `body`; refused once the result would pass
    the parser's length limit."""
    count = len(re.findall(_whole_name(name), text))
    size = len(text) + count * (len(body) - len(name))
    if size > MAX_LENGTH:
        raise MatcalcError(f"unfolding the abbreviation `{name}` makes a line of {size:,} characters, "
                           f"over the {MAX_LENGTH:,} an expression may have; write it with fewer "
                           f"nested lets, or state the function directly")
    return re.sub(_whole_name(name), lambda _: body, text)
