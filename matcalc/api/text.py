"""A derivation as the CLI prints it and the web page shows it beside the typeset math: what was
derived, the shapes and assumptions, the forward pass named (z = W*x + b, s = softmax(z)), each step
with its rule and source (or the differential method's lines), and the result, with repeated parts
named when it is long."""

from __future__ import annotations

from ..engine.differential import differential_steps
from ..language import expr as E
from ..language.expr import shape_text, substitute
from ..language.printing import (
    MAX_INLINE,
    _latex_name,
    abbreviations,
    inline_size,
    to_latex_bounded,
    to_text_bounded,
)
from ..language.shape_notes import shape_note


def step_names(d):
    """(renamer or None, node -> name symbol, [(name, text)]): how the steps name the forward pass — by the
    user's definitions (h = tanh(W*x); …) when there are any, else as a hand derivation would (z = W*x + b,
    s = softmax(z))."""
    user = d.names
    if user:
        defs = [(n, to_text_bounded(body, d.taken)) for n, body in user.definitions() if n in d.typed.definitions]
        return user, user.names, defs
    names, defs = abbreviations(d.typed.root, set(d.typed.names))
    return None, names, defs


def shown_step(d, node, target: bool = False):
    """A step's node with the forward pass named (a step's own held adjoint written out, not as its name);
    a target is named outright (∂f/∂h3)."""
    user = d.names
    if user:
        return user(node, keep_root=not target)
    names = d.__dict__.get("_abbreviations")
    if names is None:
        names = d.__dict__["_abbreviations"] = abbreviations(d.typed.root, set(d.typed.names))[0]
    return substitute(node, names) if names else node


def program_latex(d, parts: bool = False):
    """The expression in LaTeX: the user's definitions (h = …), then the objective written with them; with
    `parts`, the two apart: ([definition], objective)."""
    user = d.names
    root = user(d.typed.root) if user else d.typed.root
    defs = [f"{_latex_name(n)} = {to_latex_bounded(b, d.taken)}" for n, b in (user.definitions() if user else ())
            if n in d.typed.definitions]
    if parts:
        return defs, to_latex_bounded(root, d.taken)
    return ",\\quad ".join(defs + [to_latex_bounded(root, d.taken)])


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
        user, names, defs = step_names(d)

        def short(node, fallback):
            if node is None or not names:
                return fallback
            return to_text_bounded(shown_step(d, node), d.taken)

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
            text = short(s.node, s.expression)
            if s.kind == "result" and (s.target == "f" or text == shown):
                continue
            shown = text
            if s.target:
                k += 1
                target = s.target
                if s.target_node is not None and names:
                    inner = to_text_bounded(shown_step(d, s.target_node, target=True), d.taken)
                    target = f"∂f/∂{inner}" if s.target_node.op in ("sym", "fn") or inner in {
                        n for n, _ in defs} or _atomic(inner) else f"∂f/∂({inner})"
                    if s.target_node.op == "bcast":
                        target = f"∂f/∂({inner} repeated)"
                    if " = ∂f/∂" in s.target:      # a held adjoint: dh2 = ∂f/∂h2
                        target = f"{s.target.split(' = ', 1)[0]} = {target}"
                lines.append(noted(f"  {k:>2}. {target} = {text}", s.node))
            else:
                lines.append(noted(f"      {'':>{len(str(k))}}= {text}", s.node))
            if s.rule:
                lines.append(f"        by {s.rule}" + (f"  [{s.source}]" if s.source else ""))
    lines.append("")
    held = not E.is_zero(d.result) and d.program()[1]
    if held or inline_size(d.result) > MAX_INLINE:  # k layers inline to 2^k characters: the named form
        defs, text = d.statements()
        if inline_size(d.result) > MAX_INLINE:
            lines.append(f"(printed inline the result would take about {inline_size(d.result):,} characters; "
                         f"repeated subexpressions are named: the lines below read back as one input)")
        else:
            lines.append("(with the adjoints of your definitions named, as backprop writes them: the lines "
                         "below read back as one input)")
        lines.extend(f"{name} = {definition}" for name, definition in defs)
        lines.append(text)
        return "\n".join(lines)
    lines.append(str(d))
    text, defs = d.shared
    if defs and len(str(d)) > 100:
        lines.append("")
        lines.append("the same, with repeated subexpressions named:")
        lines.append(f"  {text}")
        width = max(len(n) for n, _ in defs)
        for k, (name, definition) in enumerate(defs):
            lines.append(f"  {'where' if k == 0 else '     '} {name:<{width}} = {definition}")
    return "\n".join(lines)


def _atomic(text: str) -> bool:
    return text.isidentifier() or (text.endswith("'") and text[:-1].isidentifier())


def _dims(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return f"{r}"
    return f"{r}×{c}"
