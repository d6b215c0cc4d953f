"""The `matcalc` command: derive, check, train, rules. Thin: parse options, call the library, print.

Every error a user can cause is a MatcalcError, printed as one clear message with exit code 2; a
wrong claim exits 1; success 0. No traceback reaches the terminal.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from ..engine.derive import derive as derive_expression
from ..errors import MatcalcError, UnsupportedError
from ..language.printing import MAX_INLINE, inline_size, to_text_bounded

DEFAULT_EXPRESSION = "-y'*log(softmax(W*x + b))"
DEFAULT_ASSUME = ("sum(y) = 1",)


def guarded(command):
    """Turn every fault into a message and exit code 2 (bad input) — never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        import warnings

        try:
            with warnings.catch_warnings():
                # NumPy's overflow/invalid-value warnings (with our file paths) are not messages for users:
                # the checks report non-finite values themselves
                warnings.simplefilter("ignore", RuntimeWarning)
                return command(*args, **kwargs)
        except MatcalcError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except RecursionError:
            click.echo("error: the expression is nested too deeply for matcalc's recursive passes", err=True)
            sys.exit(2)
        except MemoryError:
            click.echo("error: ran out of memory (the machine refused an allocation); lower the sizes, or "
                       "--memory-limit to stop earlier with a message", err=True)
            sys.exit(2)
        except (KeyboardInterrupt, click.exceptions.Exit, SystemExit):
            raise
        except click.ClickException:
            raise
        except Exception as err:  # a bug of ours: still one line, still exit 2, never a traceback
            click.echo(f"error: internal error ({type(err).__name__}: {err}); please report it", err=True)
            sys.exit(2)

    return run


def parse_shapes(specs) -> dict:
    shapes = {}
    for spec in specs:
        if "=" not in spec:
            raise MatcalcError(f"--shape takes NAME=d1,d2 (a matrix), NAME=d (a vector) or NAME= (a scalar); "
                               f"got {spec!r}")
        name, dims = spec.split("=", 1)
        name = name.strip()
        if not name.isidentifier():
            raise MatcalcError(f"--shape {spec[:60]!r}: {name[:40]!r} is not a name")
        if name in shapes:
            raise MatcalcError(f"--shape gives {name} twice ({name}={shapes[name]} and {spec[:60]}); give each name "
                               f"once")
        shapes[name] = dims.strip()
    return shapes


def budget_options(command):
    """--time-limit and --memory-limit: the budget every derivation of the command runs under."""
    command = click.option("--memory-limit", type=click.FloatRange(min=0), default=None, metavar="MB",
                           help="Stop with a message past this much new memory (default 1024, or "
                                "MATCALC_MEMORY_LIMIT; 0: no limit).")(command)
    return click.option("--time-limit", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                        help="Stop with a message past this many seconds (default 10, or MATCALC_TIME_LIMIT; "
                             "0: no limit).")(command)


def make_budget(time_limit, memory_limit):
    from ..budget import Budget

    return Budget.with_limits(time_limit, memory_limit)


shape_option = click.option("--shape", "shapes", multiple=True, metavar="NAME=d1,d2",
                            help="Declare a shape: W=c,d (matrix), x=d (vector), lam= (scalar); numbers allowed.")
assume_option = click.option("--assume", "assume", multiple=True, metavar="TEXT",
                             help="An assumption: 'sum(y) = 1', 'A symmetric', 'X positive definite', 'x > 0'.")
layout_option = click.option("--layout", type=click.Choice(["denominator", "numerator"]), default="denominator",
                             show_default=True, help="Denominator: a gradient has the variable's shape.")
input_option = click.option("--input", "input_kind", type=click.Choice(["auto", "ascii", "latex"]),
                            default="auto", show_default=True, help="The expression's notation.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcalc")
def main():
    """Derive, check and run matrix-calculus gradients, in matrix notation, showing the work."""


EXPRESSION_COMMAND = {"ignore_unknown_options": True}  # so "-y'*log(...)" is an expression, not an option


@main.command(context_settings=EXPRESSION_COMMAND)
@click.argument("expression", required=False)
@click.option("--wrt", help="The variable to differentiate with respect to (default: the first matrix).")
@shape_option
@assume_option
@layout_option
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 for the Hessian of a scalar function of a vector.")
@click.option("--direction", metavar="NAME", help="With --order 2: the Hessian-vector product H[NAME].")
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json", "numpy", "torch", "jax", "cupy",
                                                      "markdown", "index", "kron"]),
              default="text", show_default=True,
              help="numpy/torch/jax/cupy: the generated code for that array library (printed, not run); "
                   "index: the result entry by entry (df/dW_ij = ...), also for derivatives with no matrix form "
                   "(df_i/dW_kl = delta_ik*x_l); kron: the vec/Kronecker Jacobian ∂vec(F)/∂vec(X)' "
                   "(kron(B', A) for A*X*B) and its product with a direction.")
@click.option("--steps/--no-steps", default=None, help="Show the derivation step by step.")
@click.option("--method", type=click.Choice(["adjoint", "differential"]), default="adjoint", show_default=True,
              help="How the steps are written: adjoint (∂f/∂Z = G) or the differential method (df = tr(G' dZ)).")
@click.option("--shapes", "show_shapes", is_flag=True,
              help="With the steps: each step's shapes, as [64×m · m×10 → 64×10] for a product.")
@input_option
@budget_options
@guarded
def derive(expression, wrt, shapes, assume, layout, order, direction, fmt, steps, method, show_shapes, input_kind,
           time_limit, memory_limit):
    """Differentiate EXPRESSION (default: the softmax cross-entropy -y'*log(softmax(W*x + b)))."""
    from ..budget import limit

    if (show_shapes or method == "differential") and steps is None:
        steps = True                       # --shapes and --method annotate the steps: asking for them asks for steps
    with limit(make_budget(time_limit, memory_limit)):
        _derive_command(expression, wrt, shapes, assume, layout, order, direction, fmt, steps, input_kind,
                        show_shapes, method)


def _derive_command(expression, wrt, shapes, assume, layout, order, direction, fmt, steps, input_kind,
                    show_shapes=False, method="adjoint"):
    if expression is None:
        expression, wrt = DEFAULT_EXPRESSION, wrt or "W"
        assume = assume or DEFAULT_ASSUME
        steps = True if steps is None else steps
    if not wrt:
        raise MatcalcError("--wrt is required: the name of the variable to differentiate with respect to")
    if direction is not None and order != 2:
        raise MatcalcError("--direction V asks for the Hessian-vector product H[V]: give --order 2 with it")
    if method == "differential" and order == 1 and fmt == "text":
        from ..engine.forward import differential

        dF = differential(expression, wrt, parse_shapes(shapes), assume, input_kind)
        if not dF.typed.root.is_scalar:          # a scalar's differential steps are written below
            click.echo(_differential_of_a_matrix_function(dF, expression, wrt, shapes, assume, input_kind))
            return
    if fmt == "kron":
        if order != 1:
            raise MatcalcError("--format kron writes a first derivative; give --order 1")
        from ..engine.kronecker import kronecker

        click.echo(kronecker(expression, wrt, parse_shapes(shapes), assume, layout, input_kind).report())
        return
    if fmt == "index" and order == 1:
        from ..engine.tensor_index import HasMatrixForm, tensor_index

        try:
            click.echo(tensor_index(expression, wrt, parse_shapes(shapes), assume, input_kind))
            return
        except HasMatrixForm:
            pass                               # derive below writes it, Derivation.index
    d = derive_expression(expression, wrt=wrt, shapes=parse_shapes(shapes), assume=assume, layout=layout,
                             order=order, input=input_kind, direction=direction)
    if fmt == "json":
        click.echo(json.dumps(d.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "latex":
        click.echo(d.latex)
    elif fmt == "index":
        click.echo(d.index)
    elif fmt in ("numpy", "torch", "jax", "cupy"):
        click.echo(d.source(fmt), nl=False)
    elif fmt == "markdown":
        from ..api.report import markdown_report

        click.echo(markdown_report(d))
    else:
        if method == "differential" and steps:
            from ..engine.differential import differential_steps

            differential_steps(d)              # refuses a non-scalar or second-order derivative up front
        click.echo(render_text(d, bool(steps), show_shapes, method))


def _differential_of_a_matrix_function(dF, expression, wrt, shapes, assume, input_kind) -> str:
    """dF = A*dX*B, then the derivative it gives: the Jacobian where one exists, else the entries."""
    from ..language.expr import shape_text
    from ..engine.tensor_index import matrix_form_exists, tensor_index

    f, x = dF.typed.root, dF.typed.names[wrt]
    lines = [f"differential of  {expression}   ({shape_text(f.shape)})",
             f"with respect to  {wrt}   ({shape_text(x.shape)}), written d{wrt}",
             "", dF.text]
    if matrix_form_exists(f, x):
        d = derive_expression(expression, wrt=wrt, shapes=parse_shapes(shapes), assume=assume, input=input_kind)
        lines.append(f"so the Jacobian (numerator layout) is  {to_text_bounded(d.in_layout('numerator'))}")
    else:
        try:
            lines.append("so, entry by entry:  " + tensor_index(expression, wrt, parse_shapes(shapes), assume,
                                                               input_kind))
        except UnsupportedError:   # no index form (through kron or vec): the Kronecker form always exists
            from ..engine.kronecker import kronecker

            k = kronecker(expression, wrt, parse_shapes(shapes), assume, "numerator", input_kind)
            lines.append(f"so, in vec/Kronecker form:  {k.label} = {k.text}")
    return "\n".join(lines)


def _differential_lines(d, names: dict, show_shapes: bool) -> list[str]:
    """The steps as differentials of f (differential.py), ending with the derivative read off."""
    from ..engine.differential import differential_steps
    from ..language.expr import substitute

    def show(node):
        return to_text_bounded(substitute(node, names) if names else node)

    out = ["differentials (df = tr(G' dZ), so ∂f/∂Z = G; '+ …' stands for the terms through the variable's "
           "other occurrences, which the lines below take in):"]
    k = 0
    for st in differential_steps(d, show):
        note = ""
        if show_shapes:
            from ..language.shape_notes import shape_note

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
    from ..language.expr import shape_text

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
        from ..language.expr import substitute
        from ..language.printing import abbreviations

        names, defs = abbreviations(d.typed.root, set(d.typed.names))

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
        if show_shapes:
            from ..language.shape_notes import shape_note

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
    if defs and len(str(d)) > 100:
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


@main.command()
@click.option("--table", type=click.Choice(["functions", "operators", "simplify", "identities", "all"]),
              default="all", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def rules(table, fmt):
    """List the identity tables of rules/, each row with its source."""
    from .. import tables as tables

    chosen = {
        "functions": lambda: [r.__dict__ for r in tables.functions().values()],
        "operators": lambda: [r.__dict__ for r in tables.operators().values()],
        "simplify": lambda: [r.__dict__ for r in tables.simplify_rows()],
        "identities": lambda: [dict(r.__dict__, assume=list(r.assume), shapes=dict(r.shapes))
                               for r in tables.identity_rows()],
    }
    names = list(chosen) if table == "all" else [table]
    data = {name: chosen[name]() for name in names}
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for name in names:
        click.echo(f"== {name} ({tables.table_path(name).name}) ==")
        for row in data[name]:
            click.echo(_row_text(name, row))
        click.echo("")


def _row_text(table: str, row: dict) -> str:
    if table == "functions":
        body = f"d {row['name']}: " + (f"G .* ({row['derivative']})" if row["derivative"] else row["adjoint"])
        return f"  {row['printed'] if 'printed' in row else row.get('spelling') or row['name']:<16} {body}\n" \
               f"  {'':<16} {row['rule']}   [{row['source']}]"
    if table == "operators":
        return f"  {row['op'] + ' (' + row['slot'] + ')':<16} adjoint {row['adjoint']:<20} {row['rule']}   [{row['source']}]"
    if table == "simplify":
        return f"  {row['pattern']:<26} -> {row['result']:<14} {row['name']}   [{row['source']}]"
    assume = f"   assuming {'; '.join(row['assume'])}" if row["assume"] else ""
    return f"  d/d{row['wrt']} {row['expression']:<34} = {row['gradient']}{assume}   [{row['source']}]"


def _register_optional_commands() -> None:
    """Commands that live in their own modules (check, train) join the group when present."""
    import importlib

    for module, name in (("matcalc.cli.check", "check"), ("matcalc.cli.train", "train"), ("matcalc.web.serve", "serve")):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and err.name.endswith(module):
                continue
            raise
        main.add_command(getattr(mod, name))


_register_optional_commands()

if __name__ == "__main__":
    # run the one copy of this module that the registered commands import (python -m matcalc.cli)
    from matcalc.cli.app import main as registered_main

    registered_main()
