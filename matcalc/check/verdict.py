"""What the checker answers: a verdict on one claim, or on a derivation line by line, and how it reads.

A verdict says not only yes or no but on what evidence: how many instances, which witnesses (autograd
and finite differences, or finite differences alone), the tolerance, and whether the claim was also
proved equal to matcalc's own answer by rewriting — so a reader can judge how it could be fooled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .truth import LOOSE, TIGHT

TOLERANCE = LOOSE          # the loosest a claim is ever held to (finite differences alone)

CORRECT = "correct"
ASSUMPTION = "correct only under an assumption"
WRONG = "wrong"
SHAPE = "shape mismatch"
UNDECIDED = "undecided"
STATUSES = (CORRECT, ASSUMPTION, WRONG, SHAPE, UNDECIDED)
KINDS = ("transpose", "sign", "factor", "missing term", "extra term", "missing factor", "hadamard", "assumption",
         "shape")

@dataclass
class Verdict:
    """The answer to "is my derivative right?": a status, a sentence saying why, and the evidence."""

    ok: bool
    status: str
    diagnosis: str
    expected: str | None
    max_relative_error: float
    counterexample: dict | None
    kind: str | None
    instances: int
    expression: str = ""
    wrt: str = ""
    claim: str = ""
    layout: str = "denominator"
    assumptions: list[str] = field(default_factory=list)
    rescue: str | None = None          # the assumption under which the claim would be right
    symbolic_match: bool | None = None  # engine normal form == claim normal form (None: not tried)
    engine_agrees: bool | None = None   # matcalc's own result agrees with finite differences
    notes: list[str] = field(default_factory=list)
    claim_shape: str = ""
    expected_shape: str = ""
    sizes: list[dict] = field(default_factory=list)   # the dimension sizes of each instance
    proved: bool = False               # the claim rewrites to matcalc's own answer (and the numbers agree)
    witness: str = ""                  # what measured the truth: autograd + finite differences, or FD alone
    tolerance: float = TOLERANCE       # the relative error under which values count as equal
    scrutiny: str = ""                 # what extra instances a claim written differently was put through

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict:
        """JSON-ready: arrays become lists, an infinite error becomes null."""
        err = self.max_relative_error
        return {
            "ok": self.ok,
            "status": self.status,
            "kind": self.kind,
            "diagnosis": self.diagnosis,
            "expression": self.expression,
            "wrt": self.wrt,
            "claim": self.claim,
            "layout": self.layout,
            "assumptions": list(self.assumptions),
            "expected": self.expected,
            "expected_shape": self.expected_shape,
            "claim_shape": self.claim_shape,
            "rescue": self.rescue,
            "instances": self.instances,
            "sizes": self.sizes,
            "max_relative_error": err if math.isfinite(err) else None,
            "symbolic_match": self.symbolic_match,
            "engine_agrees": self.engine_agrees,
            "notes": list(self.notes),
            "proved": self.proved,
            "witness": self.witness,
            "tolerance": self.tolerance,
            "scrutiny": self.scrutiny,
            "counterexample": None if self.counterexample is None else
            {k: np.asarray(v).tolist() for k, v in self.counterexample.items()},
        }

    def __str__(self) -> str:
        return render_verdict(self)

    def __repr__(self) -> str:
        what = f"{self.status} ({self.kind})" if self.kind else self.status
        return f"<matcalc Verdict {what}: claim {self.claim!r} for d/d{self.wrt} of {self.expression!r}>"

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.ok else "❌"
        rows = [f"**{mark} {self.status}**" + (f" ({self.kind})" if self.kind else ""), "",
                f"{self.diagnosis}", "",
                "| | |", "|---|---|",
                f"| expression | `{self.expression}` |",
                f"| with respect to | `{self.wrt}` ({self.layout} layout) |",
                f"| your answer | `{self.claim}` |",
                f"| matcalc's answer | `{self.expected}` |" if self.expected else "| matcalc's answer | — |",
                f"| evidence | {_evidence_text(self)} |"]
        if self.assumptions:
            rows.append(f"| assuming | {'; '.join(self.assumptions)} |")
        for note in self.notes:
            rows.append(f"| note | {note} |")
        return "\n".join(rows)


def _evidence_text(v: Verdict) -> str:
    """One line on what was measured, so a reader can judge the verdict (README: What CORRECT means)."""
    if not v.instances:
        return "decided by the shapes alone"
    err = v.max_relative_error
    shown = f"{err:.2g}" if math.isfinite(err) else "∞ (not a number or a shape clash)"
    sizes = "; ".join(", ".join(f"{k}={n}" for k, n in s.items()) for s in v.sizes[:3] if s)
    more = f" and {len(v.sizes) - 3} more" if len(v.sizes) > 3 else ""
    witness = v.witness or "finite differences"
    text = (f"{v.instances} random instances" + (f" (sizes {sizes}{more})" if sizes else "")
            + f" against {witness} of the expression: largest relative error {shown}"
            + f" (equal means < {v.tolerance:g} of the derivative's size)")
    if v.scrutiny:
        text += f"; {v.scrutiny}"
    if v.symbolic_match is not None:
        text += "; " + ("proved by rewriting: the same normal form as matcalc's answer" if v.symbolic_match
                        else "symbolic normal forms differ")
    return text


def render_verdict(v: Verdict) -> str:
    """The text the CLI prints: verdict, diagnosis, matcalc's answer, evidence."""
    head = "CORRECT" if v.ok else v.status.upper()
    if v.kind and not v.ok:
        head += f" ({v.kind})"
    lines = [f"verdict:   {head}",
             f"           ∂/∂{v.wrt} of {v.expression}   ({v.layout} layout)",
             f"your answer:      {v.claim}",
             f"matcalc's answer: {v.expected if v.expected is not None else '(matcalc could not derive it)'}"]
    if v.assumptions:
        lines.append(f"assuming:  {'; '.join(v.assumptions)}")
    lines.append(f"why:       {v.diagnosis}")
    lines.append(f"evidence:  {_evidence_text(v)}")
    for note in v.notes:
        lines.append(f"note:      {note}")
    return "\n".join(lines)



@dataclass
class StepCheck:
    """One line of a derivation, judged against the line above (or, for the first, the expression)."""

    line: int
    text: str
    ok: bool
    status: str
    diagnosis: str
    kind: str | None = None
    rescue: str | None = None
    max_relative_error: float = 0.0
    previous: int | None = None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if not math.isfinite(d["max_relative_error"]):
            d["max_relative_error"] = None
        return d


@dataclass
class StepsVerdict:
    """A derivation judged line by line; `first_bad` is the file's line number of the first bad step."""

    ok: bool
    status: str
    diagnosis: str
    first_bad: int | None
    steps: list[StepCheck]
    assumptions: list[str] = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    instances: int = 0
    rescue: str | None = None
    evidence: str = ""                 # how the lines were judged, when not as one chain of equalities

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict:
        return {"ok": self.ok, "status": self.status, "diagnosis": self.diagnosis, "first_bad": self.first_bad,
                "rescue": self.rescue, "evidence": self.evidence or _chain_evidence(self), "assumptions": self.assumptions, "shapes": self.shapes,
                "instances": self.instances, "steps": [s.as_dict() for s in self.steps]}

    def __str__(self) -> str:
        return render_steps(self)

    def __repr__(self) -> str:
        bad = f", first bad line {self.first_bad}" if self.first_bad is not None else ""
        return f"<matcalc StepsVerdict {'CORRECT' if self.ok else 'WRONG'}: {len(self.steps)} line{'s' if len(self.steps) != 1 else ''}{bad}>"

    def _repr_markdown_(self) -> str:
        rows = [f"**{'✅' if self.ok else '❌'} {self.diagnosis}**", "", "| line | expression | verdict |",
                "|---|---|---|"]
        for s in self.steps:
            rows.append(f"| {s.line} | `{s.text}` | {'✓' if s.ok else '✗ ' + s.diagnosis} |")
        return "\n".join(rows)


def render_steps(v: StepsVerdict) -> str:
    """The text the CLI prints for a derivation: the verdict, then every line marked ok or BAD."""
    lines = [f"verdict:   {'CORRECT' if v.ok else 'WRONG'} — {v.diagnosis}"]
    if v.assumptions:
        lines.append(f"assuming:  {'; '.join(v.assumptions)}")
    for s in v.steps:
        mark = "ok " if s.ok else "BAD"
        lines.append(f"  {mark} line {s.line:>3}: {s.text}")
        if not s.ok:
            lines.append(f"               {s.diagnosis}")
    lines.append(f"evidence:  {v.evidence or _chain_evidence(v)}")
    return "\n".join(lines)


def _chain_evidence(v: StepsVerdict) -> str:
    return (f"{v.instances} random instances shared by every line; two lines are equal when they differ by "
            f"< {TIGHT:g} of their size; a first line checked against the expression's derivative is judged as "
            f"a single claim is (< {TOLERANCE:g} of the derivative's size)")



__all__ = ["Verdict", "StepCheck", "StepsVerdict", "render_verdict", "render_steps", "TOLERANCE", "TIGHT",
           "CORRECT", "ASSUMPTION", "WRONG", "SHAPE", "UNDECIDED", "STATUSES", "KINDS"]
