"""`matcalc derive`: differentiate an expression and print the result, its steps, or its code.

    matcalc derive [EXPR] --wrt X [--shape NAME=d1,d2]... [--assume TEXT]... [--layout ...] [--order 2]
                   [--format text|latex|json|numpy|torch|jax|cupy|markdown|index|kron] [--steps] [--method ...]

Without EXPR it derives the softmax cross-entropy step by step (the README's first command)."""

from __future__ import annotations

import json

import click

from ..api.derivation import derive as derive_expression
from ..api.derivation import differential, kronecker, tensor_index
from ..api.text import render_text
from ..budget import limit
from ..engine.differential import differential_steps
from ..engine.tensor_index import HasMatrixForm, matrix_form_exists
from ..errors import MatcalcError, UnsupportedError
from ..language.expr import shape_text
from ..language.functions import declared
from ..language.printing import to_text_bounded
from .common import (
    DEFAULT_ASSUME,
    DEFAULT_EXPRESSION,
    EXPRESSION_COMMAND,
    ExpressionCommand,
    assume_option,
    budget_options,
    function_option,
    guarded,
    input_option,
    layout_option,
    make_budget,
    parse_shapes,
    shape_option,
)


@click.command(cls=ExpressionCommand, context_settings=EXPRESSION_COMMAND)
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
@function_option
@input_option
@budget_options
@guarded
def derive(expression, wrt, shapes, assume, layout, order, direction, fmt, steps, method, show_shapes, functions,
           input_kind, time_limit, memory_limit):
    """Differentiate EXPRESSION (default: the softmax cross-entropy -y'*log(softmax(W*x + b)))."""
    if (show_shapes or method == "differential") and steps is None:
        steps = True                       # --shapes and --method annotate the steps: asking for them asks for steps
    with limit(make_budget(time_limit, memory_limit)), declared(list(functions)):
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
        dF = differential(expression, wrt, parse_shapes(shapes), assume, input_kind)
        if not dF.typed.root.is_scalar:          # a scalar's differential steps are written below
            click.echo(_differential_of_a_matrix_function(dF, expression, wrt, shapes, assume, input_kind))
            return
    if fmt == "kron":
        if order != 1:
            raise MatcalcError("--format kron writes a first derivative; give --order 1")
        click.echo(kronecker(expression, wrt, parse_shapes(shapes), assume, layout, input_kind).report())
        return
    if fmt == "index" and order == 1:
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
            differential_steps(d)              # refuses a non-scalar or second-order derivative up front
        click.echo(render_text(d, bool(steps), show_shapes, method))


def _differential_of_a_matrix_function(dF, expression, wrt, shapes, assume, input_kind) -> str:
    """dF = A*dX*B, then the derivative it gives: the Jacobian where one exists, else the entries."""
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
            k = kronecker(expression, wrt, parse_shapes(shapes), assume, "numerator", input_kind)
            lines.append(f"so, in vec/Kronecker form:  {k.label} = {k.text}")
    return "\n".join(lines)
