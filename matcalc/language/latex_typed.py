r"""LaTeX as people type it, made ready for latex.lark without teaching the grammar each habit (issue 22).

Two steps around latex.py's lexer: `as_typed` rewrites the text before it is cut into tokens, keeping its
length so that every error column stays where the user typed it; `function_of_sum` puts in the parentheses a
function before a `\sum` means. What reads this way (what latex.py itself reads as people type it is in its
docstring):

  * `\hat{\mathbf{y}}`, `\mathbf{\hat{y}}` (an accent on a bold name) are `\hat{y}`;
  * `\sum_{j=1}^{N} …`, `\sum\limits_{k=1}^{K} …`: a sum over the whole range from 1 (its bounds dropped; any
    other lower bound is refused, as before);
  * `\log \sum_j e^{z_j} + c`: the function takes the whole sum, up to the next + or − outside brackets.
"""

from __future__ import annotations

import re

_ACCENTED = re.compile(r"\\(hat|widehat|tilde|widetilde|bar|overline)\s*\{\s*\\(?:mathbf|boldsymbol|bm|mathrm|mathit)\s*"
                       r"\{\s*(\\?[A-Za-z0-9]+)\s*\}\s*\}")
_BOLD_ACCENT = re.compile(r"\\(?:mathbf|boldsymbol|bm)\s*\{\s*\\(hat|widehat|tilde|widetilde|bar|overline)\s*"
                          r"\{\s*(\\?[A-Za-z0-9]+)\s*\}\s*\}")
_BOUNDED_SUM = re.compile(r"(\\sum\s*(?:\\limits\s*)?_\s*\{\s*[A-Za-z](?:\s*,\s*[A-Za-z])*)\s*=\s*1\s*\}\s*"
                          r"\^\s*(?:\{\s*\\?[A-Za-z0-9]+\s*\}|[A-Za-z0-9])")


def as_typed(text: str) -> str:
    r"""The same text (same length, so every column stays) with what papers add and the grammar need not
    know: `\hat{\mathbf{y}}` and `\mathbf{\hat{y}}` are `\hat{y}`; the bounds of `\sum_{j=1}^{N}` (the
    whole range, from 1) are dropped."""
    def pad(new: str, old: str) -> str:
        return new + " " * (len(old) - len(new))

    text = _ACCENTED.sub(lambda m: pad(f"\\{m.group(1)}{{{m.group(2)}}}", m.group(0)), text)
    text = _BOLD_ACCENT.sub(lambda m: pad(f"\\{m.group(1)}{{{m.group(2)}}}", m.group(0)), text)
    return _BOUNDED_SUM.sub(lambda m: pad(m.group(1) + "}", m.group(0)), text)


def function_of_sum(toks: list, openers: dict, ends: set, tok) -> list:
    r"""`\log \sum_j e^{z_j} + c`: a function before a \sum takes the whole sum, up to the next + or − (or
    the bracket that closes), as TeX is read; the parentheses it means are put in."""
    out = list(toks)
    i = 0
    while i < len(out) - 1:
        if out[i].type == "FUNC" and out[i + 1].type == "SUM":
            depth, j = 0, i + 1
            while j < len(out):
                t = out[j]
                if t.type in openers:
                    depth += 1
                elif t.type in openers.values():
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and t.type in ("PLUS", "MINUS") and out[j - 1].type in ends:
                    break
                j += 1
            at = out[j].start_pos if j < len(out) else out[-1].end_pos
            out.insert(j, tok("RPAR", ")", at, at))
            out.insert(i + 1, tok("LPAR", "(", out[i].end_pos, out[i].end_pos))
        i += 1
    return out


__all__ = ["as_typed", "function_of_sum"]
