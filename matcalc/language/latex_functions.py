"""LaTeX calls of declared abstract functions: `f(z)`, `\\phi(z)`, `\\sigma'(z)`, `f''(z)`.

The LaTeX lexer (latex.py) hands its raw pieces here before it classifies them: a declared function's
name (a letter, or a Greek command) with its primes and an opening parenthesis becomes one function
token whose value is the ASCII name with the primes (`sigma'`), so `\\sigma(Wx)` is the declared σ, not
the logistic function it means otherwise, and `f'(z)` is f's derivative, not a transpose times (z).
"""

from __future__ import annotations

from .functions import declared_functions


def abstract_calls(toks: list, greek: dict, make_token, error) -> list:
    """A declared abstract function called (`f(z)`, `\\phi(z)`, `\\sigma'(z)`, `f''(z)`): one FUNC token
    whose value is the ASCII name with its primes. Undeclared, `\\sigma'(z)` would read as a transpose
    times (z): refused, saying how to declare it."""
    declared = declared_functions()
    out: list = []
    i = 0
    while i < len(toks):
        t = toks[i]
        base = str(t) if t.type == "WORD" else t[1:] if t.type == "CMD" and t[1:] in greek else None
        base = greek.get(base, base) if t.type == "CMD" else base
        j = i + 1
        while j < len(toks) and toks[j].type == "PUNCT" and str(toks[j]) == "'":
            j += 1
        opens = j < len(toks) and toks[j].type == "PUNCT" and str(toks[j]) == "("
        if base is not None and opens and base in declared:
            out.append(make_token("FUNC", base + "'" * (j - i - 1), t.start_pos, toks[j - 1].end_pos))
            i = j
            continue
        if base is not None and opens and j > i + 1 and t.type == "CMD" and base in ("sigma", "phi", "varphi", "psi"):
            raise error(f"{t}{chr(39) * (j - i - 1)}(…) is the derivative of a function {base}: declare it as an "
                        f"abstract function (--function {base}, functions=[{base!r}])", t.start_pos)
        out.append(t)
        i += 1
    return out
