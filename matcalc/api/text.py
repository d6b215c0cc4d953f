"""A derivation as the CLI prints it and the web page shows it beside the typeset math: what was
derived, the shapes and assumptions, the forward pass named (z = W*x + b, s = softmax(z)), each step
with its rule and source (or the differential method's lines), and the result, with repeated parts
named when it is long."""

from __future__ import annotations

from ..engine.differential import differential_steps
from ..engine.intermediates import forward_names
from ..language.expr import shape_text, substitute
from ..language.printing import MAX_INLINE, abbreviations, inline_size, to_text, to_text_bounded
from ..language.shape_notes import shape_note


def _differential_lines(d, names: dict, show_shapes: bool) -> list[str]:
    """The steps as differentials of f (differential.py), ending with the derivative read off."""

    def show(node):
        return to_text_bounded(substitute(node, names) if names else node)

    out = ["differentials (df = tr(G' dZ), so ∂f/∂Z = G; '+ …' stands for the terms through the variable's "
           "other occurrences, which the lines below take in):"]
    k = 0
    for st in differential_steps(d, show):
        note = ""
        if show_shapes:
            note = f"    {shape_note(st.gradient)}"
        if st.continued:
            out.append(f"      {'':>{len(str(k))}}{st.text.strip()}{note}")
        else:
            k += 1
            out.append(f"  {k:>2}. {st.text}{note}")
        if st.rule:
            out.append(f"        by {st.rule}" + (f"  [{st.source}]" if st.source else ""))
    layout = "" if d.result.is_scalar else \
        "  (numerator layout: the transpose of G)" if d.layout == "numerator" else "  (denominator layout: G itself)"
    out.append(f"  so ∂f/∂{d.wrt} = {show(d.result)}{layout}")
    return out


def render_text(d, steps: bool, show_shapes: bool = False, method: str = "adjoint") -> str:
    lines = []
    what = "derivative"
    if d.order == 2:
        what = f"Hessian-vector product H[{d.direction}]" if d.direction else "Hessian"
    lines.append(f"{what} of  {d.expression}")
    lines.append(f"with respect to  {d.wrt}   ({d.kind}, {d.layout} layout, result {shape_text(d.shape)})")
    lines.append("shapes:  " + ", ".join(f"{n} {_dims(s)}" for n, s in sorted(d.shapes.items())))
    if d.assumptions.texts:
        lines.append("assuming:  " + "; ".join(d.assumptions.texts))
    if steps:
    
        names, defs = abbreviations(d.typed.root, set(d.typed.names))
        if d.named is not None:        # a normalisation: the steps in the book's names too (∂f/∂mu)
            more, more_defs = forward_names(d.typed.root, set(d.typed.names) | {n for n, _ in defs})
            names = {**more, **{k: substitute(v, more) for k, v in names.items()}}
            defs = [(n, to_text(v)) for n, v in more_defs] + defs

        def short(node, fallback):
            return to_text_bounded(substitute(node, names)) if node is not None and names else fallback

        lines.append("")
        if defs:
            lines.append("where  " + ",  ".join(f"{n} = {t}" for n, t in defs))
        if method == "differential":
            lines.extend(_differential_lines(d, names, show_shapes))
            steps = False                      # the adjoint loop below is skipped
        else:
            lines.append("steps:")
        def noted(line: str, node) -> str:
            return f"{line}    {shape_note(node)}" if show_shapes and node is not None else line

        k = 0
        shown = None
        for s in (d.steps if steps else ()):
            if s.kind == "result" and (s.target == "f" or s.expression == shown):
                continue
            shown = s.expression
            text = short(s.node, s.expression)
            if s.target:
                k += 1
                target = s.target
                if s.target_node is not None and names:
                    inner = short(s.target_node, "")
                    target = f"∂f/∂{inner}" if s.target_node.op in ("sym", "fn") or inner in {
                        n for n, _ in defs} else f"∂f/∂({inner})"
                    if s.target_node.op == "bcast":
                        target = f"∂f/∂({inner} repeated)"
                lines.append(noted(f"  {k:>2}. {target} = {text}", s.node))
            else:
                lines.append(noted(f"      {'':>{len(str(k))}}= {text}", s.node))
            if s.rule:
                lines.append(f"        by {s.rule}" + (f"  [{s.source}]" if s.source else ""))
    lines.append("")
    if inline_size(d.result) > MAX_INLINE:  # k layers inline to 2^k characters: only the named form
        text, defs = d.shared
        lines.append(f"(printed inline the result would take about {inline_size(d.result):,} characters; "
                     f"repeated subexpressions are named)")
        lines.append(text)
        for name, definition in defs:
            lines.append(f"  where {name} = {definition}")
        return "\n".join(lines)
    lines.append(str(d))
    text, defs = d.shared
    if defs and len(str(d)) > 100 and d.named is None:
        lines.append("")
        lines.append("the same, with repeated subexpressions named:")
        lines.append(f"  {text}")
        width = max(len(n) for n, _ in defs)
        for k, (name, definition) in enumerate(defs):
            lines.append(f"  {'where' if k == 0 else '     '} {name:<{width}} = {definition}")
    return "\n".join(lines)


def _dims(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return f"{r}"
    return f"{r}×{c}"
