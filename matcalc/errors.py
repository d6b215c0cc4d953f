"""One family of exceptions, so a caller (and the CLI) can catch every user-facing fault at once.

Each error says what went wrong and where: a parse error carries the source text and the column, and
renders a caret under it; a shape error names the sub-expression and both shapes.
"""

from __future__ import annotations

WINDOW = 72


class MatcalcError(Exception):
    """Base of every error matcalc raises for bad input or an unsupported request."""


class ParseError(MatcalcError):
    """The text is not an expression of the language; `column` is 1-based."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.message = message
        self.text = text
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        if not self.text or self.column is None:
            return self.message
        line = self.text.replace("\n", " ")
        col = max(self.column, 1) - 1
        if len(line) > WINDOW:  # show a window around the column, not the whole text
            lo = max(0, min(col - WINDOW // 2, len(line) - WINDOW))
            line = ("…" if lo else "") + line[lo:lo + WINDOW] + ("…" if lo + WINDOW < len(line) else "")
            col = col - lo + (1 if lo else 0)
        return f"{self.message} (column {self.column})\n  {line}\n  {' ' * col}^"


class ShapeError(MatcalcError):
    """Two shapes that cannot meet: the message names the sub-expression and both shapes."""


class UnsupportedError(MatcalcError):
    """A well-formed request that matcalc does not (yet) do; the message says which operation."""


class AssumptionError(MatcalcError):
    """An --assume text that is not one of the recognised forms."""


class InternalError(MatcalcError):
    """matcalc's own result failed its self-check (check/guard.py): a bug of matcalc's, never shown as an
    answer. The message names the expression; the CLI exits with code 4."""

    exit_code = 4
