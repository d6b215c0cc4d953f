"""What `check_gradient` answers: a Verdict about a function, one per variable inside it, and beside
them matcalc's formula and the NumPy it generates for the same gradients.

Kinds, beyond a claim's (transpose, sign, factor, missing term, assumption, ...): `layout` (the whole
result is the other layout's, the transpose), `mask` (a relu mask missing or of the wrong layer),
`sum-axis`, `shape-n1` (an (n, 1) or (1, n) result for (n,)), `broadcast`, `in-place` (an input
changed), `order` (the gradients in the wrong places of a dict or tuple); and for a function that
could not be judged (status "error"): raises, nan, type, timeout, memory, crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..verdict import Verdict, _evidence_text

ERROR = "error"
CODE_KINDS = ("layout", "transpose", "sign", "factor", "missing term", "extra term", "missing factor", "hadamard",
              "assumption", "mask", "sum-axis", "shape-n1", "broadcast", "in-place", "order", "shape")


@dataclass(repr=False)
class CodeVerdict(Verdict):
    """A Verdict on a gradient function; `gradients` holds the Verdict of each variable's gradient."""

    def __repr__(self) -> str:
        what = f"{self.status} ({self.kind})" if self.kind else self.status
        return f"<matcalc code verdict {what}: {self.function or self.claim} as d/d{self.wrt} of {self.expression!r}>"

    function: str = ""
    names: list[str] = field(default_factory=list)
    gradients: dict = field(default_factory=dict)
    formulas: dict = field(default_factory=dict)      # matcalc's answer for each variable
    legend: str = ""                                  # the names in the formulas (A1 = relu(Z1), ...)
    numpy_source: str = ""                            # the generated NumPy of those formulas
    fault: str | None = None                          # raises | nan | type | timeout | memory | crash
    changed: list[str] = field(default_factory=list)  # inputs the function changed in place
    calls: int = 0                                    # how many times the function was called

    def as_dict(self) -> dict:
        out = super().as_dict()
        out.update(function=self.function, names=list(self.names), formulas=dict(self.formulas),
                   legend=self.legend, numpy_source=self.numpy_source, fault=self.fault,
                   changed=list(self.changed), calls=self.calls,
                   gradients={w: v.as_dict() for w, v in self.gradients.items()})
        return out

    def __str__(self) -> str:
        return render_code_verdict(self)

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.ok else "❌"
        rows = [f"**{mark} {self.status}**" + (f" ({self.kind})" if self.kind else "") + f" — `{self.claim}`", "",
                self.diagnosis, "", "| | verdict | matcalc's answer |", "|---|---|---|"]
        for w in self.names:
            v = self.gradients.get(w)
            mark_w = "—" if v is None else "✓" if v.ok else f"✗ {v.kind or ''}"
            rows.append(f"| ∂/∂{w} | {mark_w} | `{self.formulas.get(w) or '—'}` |")
        if self.legend:
            rows += ["", f"where {self.legend}"]
        if self.numpy_source:
            rows += ["", "```python", self.numpy_source.rstrip(), "```"]
        return "\n".join(rows)


def _indent(text: str, pad: str = "    ") -> list[str]:
    return [pad + line if line else "" for line in text.rstrip().splitlines()]


def _summary(v: CodeVerdict) -> str:
    """'b3 is wrong (W1, b1, W2, b2 and W3 right).': the verdict of several gradients in one line."""
    wrong = [w for w in v.names if w in v.gradients and not v.gradients[w].ok]
    right = [w for w in v.names if w in v.gradients and v.gradients[w].ok]

    def listed(names):
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    if not wrong:
        return v.diagnosis
    text = f"{listed(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong"
    return text + (f" ({listed(right)} right)." if right else ".")


def _without_formula(text: str, formula: str | None) -> str:
    """A gradient's diagnosis without its closing 'the derivative is F.', F being printed just above."""
    if formula:
        for tail in (f"; the derivative is {formula}.", f". The derivative is {formula}.", f", which is {formula}."):
            if text.endswith(tail):
                return text[: -len(tail)] + "."
    return text


def render_code_verdict(v: CodeVerdict) -> str:
    """The text the CLI prints: the verdict, each gradient beside matcalc's formula, the evidence, and the
    NumPy matcalc generates for the same gradients."""
    head = "CORRECT" if v.ok else v.status.upper()
    if v.kind and not v.ok:
        head += f" ({v.kind})"
    of = f"∂/∂{v.wrt}" if len(v.names) == 1 else f"∂/∂({v.wrt})"
    lines = [f"verdict:   {head}", f"           {of} of {v.expression}   ({v.layout} layout)",
             f"your code:        {v.claim}"]
    several = len(v.names) > 1
    if not several:
        lines.append(f"matcalc's answer: {v.expected if v.expected is not None else '(matcalc could not derive it)'}")
        if v.legend:
            lines.append(f"           where {v.legend}")
    if v.assumptions:
        lines.append(f"assuming:  {'; '.join(v.assumptions)}")
    if several:
        lines.append("matcalc's answer, and your function's:" if v.gradients else "matcalc's answer:")
        width = max(len(w) for w in v.names)
        for w in v.names:
            g = v.gradients.get(w)
            mark = "   " if g is None else "ok " if g.ok else "BAD"
            lines.append(f"  {mark} ∂/∂{w:<{width}} = {v.formulas.get(w) or '(matcalc could not derive it)'}")
            if g is not None and not g.ok:
                lines.append(f"      {' ' * width}  {_without_formula(g.diagnosis, v.formulas.get(w))}")
        if v.legend:
            lines.append(f"      where {v.legend}")
    why = _summary(v) if several and v.fault is None and v.kind not in ("in-place", "order") else v.diagnosis
    lines.append(f"why:       {why}")
    if v.fault is None and v.instances:
        lines.append(f"evidence:  {_evidence_text(v)}; the function was called {v.calls} times")
    for note in v.notes:
        lines.append(f"note:      {note}")
    if v.numpy_source:
        lines.append("matcalc's NumPy:")
        lines += _indent(v.numpy_source)
    return "\n".join(lines)


__all__ = ["CodeVerdict", "render_code_verdict", "ERROR", "CODE_KINDS"]
