"""A document's verdicts: one record per stating equation (or link of a chain), and the text and JSON
renderings (`matcalc check --document`); the HTML page is render.py's."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

VERDICTS = ("CORRECT", "WRONG", "UNREAD")
MARKS = {"CORRECT": "✓", "WRONG": "✗", "UNREAD": "?"}


@dataclass
class Equation:
    line: int                   # 1-based line of the file (of the cell, in a notebook) where the equation starts
    latex: str
    verdict: str                # CORRECT | WRONG | UNREAD
    why: str
    role: str                   # derivative definition shape assumption other
    cell: int | None = None
    link: str | None = None     # "k/n" for the k-th link of a chain of n
    span_line: int = 0
    kind: str | None = None     # the mistake's kind for WRONG (sign, factor, transpose, ...)
    case: str = ""
    assumed: list = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {"line": self.line, "latex": self.latex, "verdict": self.verdict, "why": self.why, "role": self.role}
        if self.cell is not None:
            d["cell"] = self.cell
        if self.link:
            d["link"] = self.link
        if self.kind:
            d["mistake"] = self.kind
        if self.case:
            d["case"] = self.case
        if self.assumed:
            d["assumed"] = list(self.assumed)
        return d


@dataclass
class DocumentReport:
    name: str
    equations: list

    @property
    def ok(self) -> bool:
        return not any(e.verdict == "WRONG" for e in self.equations)

    def counts(self) -> dict:
        out = {v: 0 for v in VERDICTS}
        for e in self.equations:
            out[e.verdict] += 1
        return out

    def derivative_counts(self) -> tuple[int, int]:
        ds = [e for e in self.equations if e.role == "derivative"]
        return sum(e.verdict != "UNREAD" for e in ds), len(ds)

    def as_dict(self) -> dict:
        return {"equations": [e.as_dict() for e in self.equations], "counts": self.counts()}

    def __str__(self) -> str:
        c = self.counts()
        read, total = self.derivative_counts()
        wrong = [e for e in self.equations if e.verdict == "WRONG"]
        head = (f"verdict:   {'WRONG — ' + _where(wrong[0]) if wrong else 'no equation is wrong'}\n"
                f"equations: {len(self.equations)} ({c['CORRECT']} correct, {c['WRONG']} wrong, {c['UNREAD']} unread); "
                f"derivative claims read {read}/{total}\n")
        lines = [head]
        for e in self.equations:
            mark = {"CORRECT": "ok  ", "WRONG": "BAD ", "UNREAD": "?   "}[e.verdict]
            where = f"cell {e.cell} line {e.line:3d}" if e.cell is not None else f"line {e.line:4d}"
            latex = " ".join(e.latex.split())
            if len(latex) > 90:
                latex = latex[:87] + "..."
            lines.append(f"  {mark}{where}: {latex}")
            why = e.why + (f" ({'; '.join(e.assumed)})" if e.assumed else "")
            if e.verdict != "CORRECT" or e.role in ("derivative",):
                lines.append(f"        {e.verdict}: {why}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        c = self.counts()
        read, total = self.derivative_counts()
        return (f"<matcalc DocumentReport of {self.name!r}: {len(self.equations)} equations ({c['CORRECT']} correct, "
                f"{c['WRONG']} wrong, {c['UNREAD']} unread); derivative claims read {read}/{total}>")

    def _headline(self) -> tuple[str, str]:
        c = self.counts()
        read, total = self.derivative_counts()
        wrong = [e for e in self.equations if e.verdict == "WRONG"]
        verdict = f"❌ WRONG — {_where(wrong[0])}" if wrong else "✅ no equation is wrong"
        return (verdict, f"{self.name}: {len(self.equations)} equations ({c['CORRECT']} correct, {c['WRONG']} wrong, "
                         f"{c['UNREAD']} unread); derivative claims read {read}/{total}")

    def _repr_markdown_(self) -> str:
        verdict, counts = self._headline()
        rows = [f"**{_md(verdict)}**", "", _md(counts), "", "| | where | equation | why |", "|---|---|---|---|"]
        for e in self.equations:
            latex = " ".join(e.latex.split()).replace("\\|", "\\Vert ").replace("|", "\\vert ").replace("$", "\\$")
            why = _md(e.why + (f" ({'; '.join(e.assumed)})" if e.assumed else ""))
            rows.append(f"| {MARKS[e.verdict]} | {_at(e)} | ${latex}$ | {e.verdict}: {why} |")
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        verdict, counts = self._headline()
        rows = []
        for e in self.equations:
            why = e.why + (f" ({'; '.join(e.assumed)})" if e.assumed else "")
            rows.append(f"<tr><td>{MARKS[e.verdict]}</td><td>{html.escape(_at(e))}</td>"
                        f"<td>\\({html.escape(' '.join(e.latex.split()))}\\)</td>"
                        f"<td><b>{e.verdict}</b>: {html.escape(why)}</td></tr>")
        return (f"<div class='matcalc-document'><p><b>{html.escape(verdict)}</b><br>{html.escape(counts)}</p>"
                "<table><thead><tr><th></th><th>where</th><th>equation</th><th>verdict</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table></div>")


def _md(text: str) -> str:
    """Prose for a Markdown table: its bars, underscores and asterisks are text."""
    return text.replace("|", "\\|").replace("_", "\\_").replace("*", "\\*")


def _at(e: Equation) -> str:
    return f"cell {e.cell}, line {e.line}" if e.cell is not None else f"line {e.line}"


def _where(e: Equation) -> str:
    return f"{_at(e)}: {e.why}"


__all__ = ["Equation", "DocumentReport", "VERDICTS"]
