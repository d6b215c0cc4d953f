"""Library results as the JSON the page typesets: LaTeX beside every text, steps as the CLI shows them.

The CLI's text rendering (api/text.py: render_text) names the forward pass (z = W*x + b, s = softmax(z))
and skips repeated result lines; the page shows the same steps, so this module follows the same rules,
emitting LaTeX for KaTeX as well as the ASCII text. The plain-text CLI output is included too
("text"), so a tool using the API can print exactly what `matcalc derive` prints.
"""

from __future__ import annotations

import shlex

from ..api import derive, kronecker, verify, verify_steps
from ..api.text import program_latex, render_text, shown_step, step_names
from ..check.chain_file import is_chain_derivation, read_chain
from ..check.derivation_file import read_derivation
from ..check.reading import read_input
from ..check.verdict import TOLERANCE
from ..engine.derive import prepare
from ..engine.tensor_index import matrix_form_exists
from ..errors import MatcalcError
from ..language.expr import shape_text
from ..language.functions import declared_functions
from ..language.printing import _latex_name, to_latex, to_latex_bounded, to_text, to_text_bounded
from ..language.shapes import elaborate_many


def _dims(shape) -> list[str]:
    return [str(d) for d in shape]


def latex_of(text: str | None, shapes: dict | None = None) -> str | None:
    """LaTeX for an ASCII expression (a claim, matcalc's expected answer, a derivation line); None when
    it does not type — the page then shows the text as written."""
    if not text:
        return None
    try:
        typed, _ = elaborate_many(text, shapes or {})
    except (MatcalcError, RecursionError):
        try:
            typed, _ = elaborate_many(text, {})
        except (MatcalcError, RecursionError):
            return None
    return to_latex(typed.root)


def _partial(node_latex: str) -> str:
    return r"\frac{\partial f}{\partial " + node_latex + "}"


def steps_of(d) -> tuple[list[dict], list[dict]]:
    """The steps as `matcalc derive --steps` lists them, each with LaTeX: ([step], [where-definition])."""
    _, names, defs = step_names(d)
    taken = d.taken

    steps, shown, k = [], None, 0
    for s in d.steps:
        node = shown_step(d, s.node) if s.node is not None else None
        text = to_text_bounded(node, taken) if node is not None else s.expression
        if s.kind == "result" and (s.target == "f" or text == shown):
            continue
        shown = text
        entry = {"number": None, "target": s.target, "target_latex": None,
                 "expression": text, "latex": to_latex_bounded(node, taken) if node is not None else None,
                 "rule": s.rule, "source": s.source, "kind": s.kind}
        if s.target:
            k += 1
            entry["number"] = k
            if s.target_node is not None:
                target = shown_step(d, s.target_node, target=True)
                held = s.target.split(" = ", 1)[0] + " = " if " = ∂f/∂" in s.target else ""
                entry["target"] = held + (f"∂f/∂{to_text_bounded(target, taken)}" if target.op in ("sym", "fn")
                                          else f"∂f/∂({to_text_bounded(target, taken)})")
                inner = to_latex_bounded(target, taken)
                if target.op not in ("sym", "fn"):
                    inner = r"\left(" + inner + r"\right)"
                entry["target_latex"] = (_latex_name(held[:-3]) + " = " if held else "") + _partial(inner)
        steps.append(entry)
    where = [{"name": n, "definition": t, "latex": latex_of(t, {k: v for k, v in d.shapes.items()})}
             for n, t in defs]
    return steps, where


def _shape_specs(shapes: dict) -> dict:
    """Resolved shapes as the spec elaborate_many takes: () scalar, (n,) vector, (r, c) matrix."""
    out = {}
    for name, (r, c) in shapes.items():
        out[name] = () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)
    return out


def cli_command(words: list[str]) -> str:
    """A shell line a reader can paste: "x'*A*x" in double quotes (as the README writes it) when that is
    safe, shlex's quoting otherwise."""
    def quote(w: str) -> str:
        if "'" in w and not any(c in w for c in '"$`\\!'):
            return f'"{w}"'
        return shlex.quote(w)

    return " ".join(quote(w) for w in words)


def derive_words(expression, wrt, shapes, assume, layout) -> list[str]:
    """The `matcalc derive` command line of the page's inputs, word by word."""
    words = ["matcalc", "derive", expression, "--wrt", wrt]
    for name, dims in shapes.items():
        words += ["--shape", f"{name}={dims}"]
    for a in assume:
        words += ["--assume", a]
    for f in sorted(declared_functions()):      # the abstract functions the request declared
        words += ["--function", f]
    if layout != "denominator":
        words += ["--layout", layout]
    return words


def derivation_body(expression, wrt, shapes, assume, layout, order, direction, input_kind) -> dict:
    if order == 1 and _no_matrix_form(expression, wrt, shapes, assume, input_kind):
        return kronecker_body(expression, wrt, shapes, assume, layout, input_kind)
    d = derive(expression, wrt=wrt, shapes=shapes, assume=assume, layout=layout, order=order,
               input=input_kind, direction=direction)
    other = "numerator" if layout == "denominator" else "denominator"
    twin = derive(expression, wrt=wrt, shapes=shapes, assume=assume, layout=other, order=order,
                  input=input_kind, direction=direction)
    steps, where = steps_of(d)
    shared_text, shared_defs = d.shared
    specs = _shape_specs(d.shapes)
    try:
        numpy_source, numpy_error = d.numpy_source, None
    except MatcalcError as err:
        numpy_source, numpy_error = None, str(err)
    words = derive_words(d.expression, wrt, shapes, assume, layout)
    if order != 1:
        words += ["--order", str(order)]
    if direction:
        words += ["--direction", direction]
    return {
        "expression": d.expression,
        "expression_latex": program_latex(d),
        "wrt": d.wrt,
        "wrt_latex": to_latex(d.typed.names[d.wrt]),
        "layout": layout,
        "order": d.order,
        "direction": d.direction,
        "kind": d.kind,
        "shape": shape_text(d.shape),
        "shapes": {n: _dims(s) for n, s in sorted(d.shapes.items())},
        "shapes_text": {n: shape_text(s) for n, s in sorted(d.shapes.items())},
        "assumptions": list(d.assumptions.texts),
        "result": str(d),
        "latex": d.latex,
        "layouts": {layout: {"result": str(d), "latex": d.latex, "shape": shape_text(d.shape)},
                    other: {"result": str(twin), "latex": twin.latex, "shape": shape_text(twin.shape)}},
        "shared": {"result": shared_text, "latex": latex_of(shared_text, None) if shared_defs else d.latex,
                   "where": [{"name": n, "definition": t, "latex": latex_of(t, specs)} for n, t in shared_defs]},
        "steps": steps,
        "where": where,
        "numpy": numpy_source,
        "numpy_error": numpy_error,
        "text": render_text(d, True),
        "cli": cli_command(words),
    }


def verdict_body(expression, wrt, claim, shapes, assume, layout, order, input_kind) -> dict:
    v = verify(expression, wrt=wrt, claim=claim, shapes=shapes, assume=assume, layout=layout,
               input=input_kind, order=order)
    body = v.as_dict()
    body["text"] = str(v)
    body["evidence"] = evidence_text(body)
    body["claim_latex"] = latex_of(v.claim, shapes)
    body["expected_latex"] = latex_of(v.expected, shapes)
    body["expression_latex"] = latex_of(v.expression, shapes)
    return body


def evidence_text(v: dict) -> str:
    """One line on what was measured (as the CLI's "evidence:" line), from the verdict's fields."""
    if not v.get("instances"):
        return "decided by the shapes alone"
    err = v.get("max_relative_error")
    shown = f"{err:.2g}" if err is not None else "∞ (not a number or a shape clash)"
    sizes = "; ".join(", ".join(f"{k}={n}" for k, n in s.items()) for s in v.get("sizes") or [] if s)
    text = (f"{v['instances']} random instances" + (f" (sizes {sizes})" if sizes else "")
            + f" against finite differences of the expression: largest relative error {shown}"
            + f" (equal means < {TOLERANCE:g})")
    if v.get("symbolic_match") is not None:
        text += "; symbolic normal forms " + ("agree" if v["symbolic_match"] else "differ")
    return text


def steps_body(text, shapes, assume, wrt, layout, input_kind) -> dict:
    v = verify_steps(text, shapes=shapes, assume=assume, wrt=wrt, layout=layout, input=input_kind)
    body = v.as_dict()
    body["text"] = str(v)
    doc = read_chain(text, input_kind) if is_chain_derivation(text) else read_derivation(text)
    known = {**doc.shapes, **shapes}
    for step in body["steps"]:
        step["latex"] = latex_of(step["text"], known)
    return body


def _no_matrix_form(expression, wrt, shapes, assume, input_kind) -> bool:
    try:
        typed, _ = prepare(read_input(expression, input_kind), shapes, assume)
    except MatcalcError:
        return False                     # derive reports it, with the usual message
    x = typed.names.get(wrt)
    return x is not None and not matrix_form_exists(typed.root, x)


def _vec_partial(f_latex: str, x_latex: str, layout: str) -> str:
    top = r"\top"
    if layout == "numerator":
        return (r"\frac{\partial \operatorname{vec}(" + f_latex + r")}{\partial \operatorname{vec}(" + x_latex
                + r")^" + top + "}")
    return (r"\frac{\partial \operatorname{vec}(" + f_latex + r")^" + top + r"}{\partial \operatorname{vec}("
            + x_latex + ")}")


def kronecker_body(expression, wrt, shapes, assume, layout, input_kind) -> dict:
    """A matrix function of a matrix (or a vector of a matrix): no matrix form, so the page shows its
    differential, the vec/Kronecker Jacobian in both layouts and the product with a direction."""
    k = kronecker(expression, wrt, shapes, assume, layout, input_kind)
    other = "numerator" if layout == "denominator" else "denominator"
    twin = kronecker(expression, wrt, shapes, assume, other, input_kind)
    typed = k.typed
    f_latex = "F" if not typed.root.is_scalar else "f"
    x_latex = to_latex(typed.names[wrt])
    direction = k.direction_name()
    jvp = k.jvp(direction)
    dF = k.differential
    steps = [
        {"number": 1, "target": f"d{'F'}", "target_latex": r"\mathrm{d}F", "expression": dF.text.split(" = ", 1)[1],
         "latex": to_latex(dF.node).replace(r"\mathit{" + dF.dx.attr + "}", r"\mathrm{d}" + x_latex), "kind": "chain",
         "rule": "the differential, by the product rule and the differentials of rules/functions.toml",
         "source": "Magnus & Neudecker, Matrix Differential Calculus, ch. 8–9"},
        {"number": 2, "target": k.label, "target_latex": _vec_partial(f_latex, x_latex, layout),
         "expression": k.text, "latex": k.latex, "kind": "result",
         "rule": "vec(A dX B) = (B' ⊗ A) vec(dX); vec(dX') = K(m,n) vec(dX); vec(E .* dX) = diag(vec(E)) vec(dX)",
         "source": "Magnus & Neudecker, ch. 2 §4 and ch. 3 Theorem 10; Matrix Cookbook (520)"},
        {"number": 3, "target": f"J*vec({direction})", "target_latex": r"J \operatorname{vec}(" + direction + ")",
         "expression": f"vec({to_text(jvp)})", "latex": r"\operatorname{vec}\left(" + to_latex(jvp) + r"\right)",
         "kind": "result", "rule": "applied to a direction: (B' ⊗ A) vec(V) = vec(A V B), no Kronecker product formed",
         "source": "Magnus & Neudecker, ch. 2 §4"},
    ]
    words = derive_words(expression, wrt, shapes, assume, layout) + ["--format", "kron"]
    try:
        numpy_source, numpy_error = k.source(), None
    except MatcalcError as err:
        numpy_source, numpy_error = None, str(err)
    names = {n: node.shape for n, node in typed.names.items()}
    return {
        "expression": expression,
        "expression_latex": to_latex(typed.root),
        "wrt": wrt,
        "wrt_latex": x_latex,
        "layout": layout,
        "order": 1,
        "direction": None,
        "kind": "vec/Kronecker (the derivative has more than two axes)",
        "shape": shape_text(k.shape),
        "shapes": {n: _dims(s) for n, s in sorted(names.items())},
        "shapes_text": {n: shape_text(s) for n, s in sorted(names.items())},
        "assumptions": list(dF.assumptions.texts),
        "result": k.text,
        "latex": k.latex,
        "layouts": {layout: {"result": k.text, "latex": k.latex, "shape": shape_text(k.shape),
                             "lhs_latex": _vec_partial(f_latex, x_latex, layout) + " = "},
                    other: {"result": twin.text, "latex": twin.latex, "shape": shape_text(twin.shape),
                            "lhs_latex": _vec_partial(f_latex, x_latex, other) + " = "}},
        "shared": {"result": k.text, "latex": k.latex, "where": []},
        "steps": steps,
        "where": [],
        "numpy": numpy_source,
        "numpy_error": numpy_error,
        "text": k.report(),
        "cli": cli_command(words),
    }
