"""`%matcalc` and `%%matcalc`: the CLI's commands in a notebook cell, with rich output.

    %load_ext matcalc
    %matcalc derive "x'*A*x" --wrt x            the Derivation, shown in LaTeX; `_` holds it
    %matcalc check "x'*A*x" --wrt x --claim "2*A*x"
    %%matcalc check --derivation               the cell body is the derivation file
    %%matcalc derive --wrt W                    the cell body is the expression (definitions allowed)
    %matcalc check --code backprop EXPR --wrt W  a function of the notebook's own cells (or FILE.py:FN)
    %matcalc check --document notes.ipynb        a published derivation (Markdown, .tex, a notebook's cells)
    %%matcalc check --document                   the cell body is the document (Markdown)

The words after `%matcalc` are parsed by the very click commands of `matcalc` (cli/), so an option
means the same in a cell as in a terminal; the library is then called directly and its result object
returned, so the notebook renders it (LaTeX, Markdown) and the next cell can use it. A user's mistake
is the CLI's one-line message (with its caret under a parse error) on stderr, never a traceback.
"""

from __future__ import annotations

import shlex
import sys
import warnings

import click

from ..api import derive, kronecker, tensor_index, verify, verify_steps
from ..budget import limit
from ..cli.check import check as check_command
from ..cli.common import DEFAULT_ASSUME, DEFAULT_EXPRESSION, make_budget, parse_shapes
from ..cli.derive import derive as derive_command
from ..cli.rules import rules as rules_command
from ..engine.tensor_index import HasMatrixForm
from ..errors import MatcalcError

COMMANDS = {"derive": derive_command, "check": check_command, "rules": rules_command}
USAGE = ("usage: %matcalc derive EXPR --wrt X [options] | %matcalc check EXPR --wrt X --claim CLAIM [options] | "
         "%%matcalc check --derivation (the cell is the file) | %%matcalc derive --wrt X (the cell is the "
         "expression) | %matcalc check --document FILE | %%matcalc check --document (the cell is the document) | "
         "%matcalc rules")


def run(line: str, cell: str | None = None, namespace: dict | None = None):
    """The result of one `%matcalc` line (or `%%matcalc` cell): the library's object, or None after an
    error has been said on stderr. `namespace` is the notebook's (for `--code NAME`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _run(line, cell, namespace or {})
    except MatcalcError as err:
        _say(f"error: {err}")
    except click.ClickException as err:
        _say(f"error: {err.format_message()}")
    except (RecursionError, MemoryError) as err:
        _say(f"error: the input is too large or too deeply nested to handle ({type(err).__name__})")
    return None


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _run(line: str, cell: str | None, namespace: dict):
    try:
        words = shlex.split(line)
    except ValueError as err:
        raise MatcalcError(f"cannot read the magic's words: {err} (quote expressions as in a shell)") from None
    if not words or words[0] not in COMMANDS:
        raise MatcalcError(USAGE)
    name, args = words[0], words[1:]
    body, document = None, False
    if cell is not None:
        body = cell.strip("\n")
        if name == "check" and "--derivation" in args:
            args.remove("--derivation")      # the cell is the file
        elif name == "check" and "--document" in args:
            args.remove("--document")        # the cell is the document
            document = True
        elif name != "derive":
            raise MatcalcError(f"%%matcalc {name} takes no cell; write %%matcalc check --derivation, "
                               f"%%matcalc check --document or %%matcalc derive --wrt X")
    params = _parse(name, args)
    if name == "rules":
        return _rules(params)
    with limit(make_budget(params.get("time_limit"), params.get("memory_limit"))):
        if name == "derive":
            return _derive(params, body)
        if document or params.get("document_file") is not None:
            return _check_document(params, body if document else None)
        return _check(params, body, namespace)


def _parse(name: str, args: list[str]) -> dict:
    command = COMMANDS[name]
    try:
        ctx = command.make_context(f"%matcalc {name}", list(args))
    except click.exceptions.Exit:
        raise MatcalcError(f"%matcalc {name} --help: see `matcalc {name} --help` in a terminal") from None
    return dict(ctx.params)


def _derive(p: dict, body: str | None):
    expression = body if body is not None else p["expression"]
    if body is not None and p["expression"] is not None:
        raise MatcalcError("%%matcalc derive takes the expression from the cell: give no EXPR on the line")
    wrt, assume = p["wrt"], p["assume"]
    if expression is None:
        expression, wrt, assume = DEFAULT_EXPRESSION, wrt or "W", assume or DEFAULT_ASSUME
    if not wrt:
        raise MatcalcError("--wrt is required: the name of the variable to differentiate with respect to")
    shapes = parse_shapes(p["shapes"])
    fmt = p["fmt"]
    functions = list(p.get("functions") or ()) or None      # --function f: an abstract f(z)
    if fmt == "kron":
        return kronecker(expression, wrt, shapes, assume, p["layout"], p["input_kind"], functions=functions)
    if fmt == "index" and p["order"] == 1:
        try:
            return tensor_index(expression, wrt, shapes, assume, p["input_kind"], functions=functions)
        except HasMatrixForm:
            pass
    d = derive(expression, wrt=wrt, shapes=shapes, assume=assume, layout=p["layout"], order=p["order"],
               input=p["input_kind"], direction=p["direction"], functions=functions)
    if fmt == "index":
        _show_text(d.index)
    elif fmt in ("numpy", "torch", "jax", "cupy"):
        _show_code(d.source(fmt))
    elif fmt == "latex":
        _show_text(d.latex)
    elif fmt == "json":
        import json

        _show_text(json.dumps(d.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "markdown" or p["steps"]:
        _show_markdown(d._repr_markdown_())
    return d


def _check(p: dict, body: str | None, namespace: dict):
    if p.get("code") is not None:
        return _check_code(p, namespace)
    functions = list(p.get("functions") or ()) or None      # --function f: an abstract f(z)
    if body is not None:
        if p["expression"] is not None or p["claim"] is not None:
            raise MatcalcError("%%matcalc check --derivation checks the cell: give no EXPRESSION or --claim")
        return verify_steps(body, shapes=parse_shapes(p["shapes"]), assume=p["assume"], wrt=p["wrt"],
                            layout=p["layout"], input=p["input_kind"], functions=functions)
    if p["derivation_file"] is not None:
        from ..language.arguments import read_text_file

        text = read_text_file(p["derivation_file"], "the derivation file")
        return verify_steps(text, shapes=parse_shapes(p["shapes"]), assume=p["assume"], wrt=p["wrt"],
                            layout=p["layout"], input=p["input_kind"], functions=functions)
    if p["expression"] is None or not p["wrt"] or p["claim"] is None:
        raise MatcalcError("give an EXPRESSION, --wrt and --claim (or %%matcalc check --derivation with the "
                           "derivation in the cell)")
    return verify(p["expression"], wrt=p["wrt"], claim=p["claim"], shapes=parse_shapes(p["shapes"]),
                  assume=p["assume"], layout=p["layout"] or "denominator", input=p["input_kind"], order=p["order"],
                  functions=functions)


def _check_code(p: dict, namespace: dict):
    """A gradient function: a name defined in the notebook (run in this kernel), or FILE.py:FUNCTION (run
    in a child process under the budget, as `matcalc check --code` does)."""
    from ..api import check_gradient

    code = p["code"]
    fn = code if ":" in code else namespace.get(code)
    if fn is None or (not isinstance(fn, str) and not callable(fn)):
        raise MatcalcError(f"--code {code}: no function of that name in the notebook (or give FILE.py:FUNCTION)")
    if p["expression"] is None or not p["wrt"]:
        raise MatcalcError("give the EXPRESSION the function is the gradient of and --wrt, e.g. "
                           "%matcalc check --code grad \"x'*A*x\" --wrt x")
    names = [w.strip() for w in p["wrt"].split(",")]
    return check_gradient(fn, p["expression"], wrt=names if len(names) > 1 else names[0],
                          shapes=parse_shapes(p["shapes"]), assume=p["assume"], layout=p["layout"] or "denominator",
                          input=p["input_kind"])


def _check_document(p: dict, body: str | None):
    """A document as `matcalc check --document` reads it (the file, or the cell's Markdown); the report is returned
    (the notebook shows it as a table, each equation marked); --format json or html shows that form too."""
    from ..api import check_document

    if p["expression"] is not None or p["claim"] is not None or p.get("code") is not None:
        raise MatcalcError("--document checks a document: give no EXPRESSION, --claim or --code with it")
    if body is not None:
        text, name = body, "the cell"
    else:
        from ..language.arguments import read_text_file

        text, name = read_text_file(p["document_file"], "the document"), str(p["document_file"])
    report = check_document(text, name=name, layout=p["layout"])
    if p["fmt"] == "json":
        import json

        _show_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif p["fmt"] == "html":
        from IPython.display import HTML

        from ..web.document_page import document_html

        _display(HTML(document_html(text, report, title=name)))
    return report


def _rules(p: dict):
    from .. import tables

    chosen = {"functions": tables.functions().values, "operators": tables.operators().values,
              "simplify": tables.simplify_rows, "identities": tables.identity_rows}
    names = list(chosen) if p["table"] == "all" else [p["table"]]
    rows = ["| table | row | source |", "|---|---|---|"]
    for name in names:
        for r in chosen[name]():
            what = getattr(r, "name", None) or getattr(r, "expression", "") or getattr(r, "op", "")
            rows.append(f"| {name} | `{what}` | {r.source} |")
    _show_markdown("\n".join(rows))
    return None


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _show_text(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(f"```\n{text}\n```"))


def _show_code(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(f"```python\n{text.rstrip()}\n```"))


def _show_markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))


def register(ipython) -> None:
    """Register `%matcalc` / `%%matcalc` on an IPython shell (called by `%load_ext matcalc`)."""
    def matcalc(line, cell=None):
        return run(line, cell, ipython.user_ns)

    matcalc.__doc__ = __doc__
    ipython.register_magic_function(matcalc, magic_kind="line_cell", magic_name="matcalc")
