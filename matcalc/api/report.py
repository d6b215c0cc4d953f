"""The derivation as a Markdown page with MathJax-ready LaTeX: what a person would otherwise write by
hand for a paper, a blog post or a notebook (the expression, shapes, assumptions, each step with its
identity and source, the result in both layouts, and the NumPy code)."""

from __future__ import annotations

from ..language.expr import shape_text, transpose
from ..language.printing import _latex_name, to_latex_bounded
from .text import program_latex, shown_step

STEP_INLINE = 2_000      # characters of one step's LaTeX; a longer step names its repeated parts


def _target_latex(step, d, taken: set[str]) -> str:
    node, wrt = step.target_node, d.wrt
    if node is None or (node.op == "sym" and node.attr == wrt):
        return rf"\frac{{\partial f}}{{\partial {wrt}}}"
    node = shown_step(d, node, target=True)
    held = _latex_name(step.target.split(" = ", 1)[0]) + " = " if " = ∂f/∂" in step.target else ""
    inner = to_latex_bounded(node, taken, STEP_INLINE)
    inner = inner if node.op == "sym" else rf"\left({inner}\right)"
    return rf"{held}\frac{{\partial f}}{{\partial {inner}}}"


def _program_latex(d, node, taken: set[str]) -> str:
    """A result with the user's names, the held adjoints it uses written first (dh_2 = …)."""
    body, held = d.program(node)
    parts = [f"{_latex_name(n)} = {to_latex_bounded(b, taken)}" for n, b in held]
    return ",\\quad ".join(parts + [to_latex_bounded(body, taken)])


def _md(text: str) -> str:
    """Prose of a rule for Markdown: its asterisks are products, not emphasis."""
    return text.replace("*", r"\*").replace("_", r"\_")


def markdown_report(d) -> str:
    what = "Hessian" if d.order == 2 else "Derivative"
    if d.order == 2 and d.direction:
        what = f"Hessian-vector product H[{d.direction}]"
    lines = [f"## {what} of `{d.expression}` with respect to `{d.wrt}`", ""]
    taken = d.taken                      # long formulas are shown with repeated parts named, never inlined
    defs, objective = program_latex(d, parts=True)
    lines.append(f"$$f = {objective}$$")
    if defs:
        lines.append("")
        lines.append("where $$" + ",\\quad ".join(defs) + "$$")
    lines.append("")
    lines.append("| | |")
    lines.append("|---|---|")
    lines.append(f"| kind | {d.kind}, {d.layout} layout |")
    shapes = ", ".join(f"`{n}`: {shape_text(s)}" for n, s in sorted(d.shapes.items()))
    lines.append(f"| shapes | {shapes} |")
    if d.assumptions.texts:
        lines.append("| assumptions | " + "; ".join(f"`{a}`" for a in d.assumptions.texts) + " |")
    lines.append("")
    lines.append("### Derivation")
    lines.append("")
    k = 0
    for step in d.steps:
        if step.kind in ("result", "layout"):
            continue
        math = to_latex_bounded(shown_step(d, step.node), taken, STEP_INLINE) if step.node is not None \
            else step.latex
        if step.target:
            k += 1
            lines.append(f"{k}. $${_target_latex(step, d, taken)} = {math}$$")
        else:
            lines.append(f"   $$= {math}$$")
        if step.rule:
            source = f" — {_md(step.source)}" if step.source else ""
            lines.append(f"   by {_md(step.rule)}{source}")
    lines.append("")
    lines.append("### Result")
    lines.append("")
    den = d.in_layout("denominator")
    lines.append(f"Denominator layout (the gradient has the variable's shape, {shape_text(den.shape)}):")
    lines.append("")
    lines.append(f"$${_program_latex(d, den, taken)}$$")
    lines.append("")
    if not den.is_scalar:
        lines.append(f"Numerator layout (the transpose, {shape_text((den.shape[1], den.shape[0]))}):")
        lines.append("")
        lines.append(f"$${_program_latex(d, d.in_layout('numerator'), taken)}$$")
        lines.append("")
    lines.append(f"In the input syntax: `{d}`")
    lines.append("")
    lines.append("### NumPy")
    lines.append("")
    lines.append("```python")
    lines.append(d.numpy_source.rstrip())
    lines.append("```")
    return "\n".join(lines) + "\n"


__all__ = ["markdown_report", "transpose"]
