"""LaTeX's token-level conventions, before the grammar sees the tokens: a `^`, `_`, `\\frac` or `\\sqrt`
without braces takes one character (`x_i2` is x_i times 2, `\\frac12` is 1/2). And the reader's
internal error, a message with an offset that latex.py turns into a ParseError with its caret."""

from __future__ import annotations

from lark import Token


class LatexError(Exception):
    """Internal: a message and a 0-based offset, turned into ParseError once the text is at hand."""

    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.message, self.pos = message, pos


def split_single_char_args(toks: list[Token]) -> list[Token]:
    """LaTeX gives ^ _ \\frac \\sqrt one character when there are no braces: x_i2, \\frac12."""
    out = list(toks)
    i = 0
    while i < len(out):
        t = out[i]
        if t.type == "PUNCT" and str(t) in "^_":
            split_arg(out, i + 1, numbers_ok=False)
        elif t.type == "CMD" and t[1:] in ("frac", "dfrac", "tfrac"):
            split_arg(out, split_arg(out, i + 1, numbers_ok=True), numbers_ok=True)
        elif t.type == "CMD" and t[1:] == "sqrt":
            split_arg(out, i + 1, numbers_ok=True)
        i += 1
    return out


def split_arg(out: list[Token], i: int, numbers_ok: bool) -> int:
    """Split the token at i to its first character if it is a longer WORD/NUM; index after the argument."""
    if i >= len(out):
        return i
    t = out[i]
    if t.type == "PUNCT" and str(t) == "{":
        depth = 0
        for j in range(i, len(out)):
            if out[j].type == "PUNCT" and str(out[j]) in "{}":
                depth += 1 if str(out[j]) == "{" else -1
                if depth == 0:
                    return j + 1
        return len(out)
    if t.type in ("WORD", "NUM") and len(t) > 1:
        if t.type == "NUM" and (not numbers_ok or t[1] == "."):
            raise LatexError(f"ambiguous unbraced argument {t}: LaTeX takes only its first character; use braces, e.g. {{{t}}}", t.start_pos)
        s = t.start_pos
        out[i : i + 1] = [Token(t.type, t[0], start_pos=s, end_pos=s + 1),
                          Token("WORD" if t[1:2].isalpha() else "NUM", t[1:], start_pos=s + 1, end_pos=t.end_pos)]
    return i + 1
