"""`matcalc check`: is a hand-derived gradient right? Or: does each line of a derivation follow?

    matcalc check EXPR --wrt X --claim CLAIM [--shape NAME=d1,d2]... [--assume TEXT]... [--layout ...]
    matcalc check --derivation FILE [--shape ...] [--assume ...]

Exit 0 when the claim (or every step) is right; 1 when it is wrong, has the wrong shape, or is right
only under an assumption that was not given; 2 on bad input (the message says whether the fault is in
the expression, in the claim, or on which line of the file).
"""

from __future__ import annotations

import json
import sys

import click

from ..api import verify, verify_steps
from ..budget import limit
from ..errors import MatcalcError
from ..language.arguments import read_text_file
from .common import (
    EXPRESSION_COMMAND,
    ExpressionCommand,
    assume_option,
    budget_options,
    guarded,
    input_option,
    make_budget,
    parse_shapes,
    shape_option,
)


@click.command(cls=ExpressionCommand, context_settings=EXPRESSION_COMMAND)
@click.argument("expression", required=False)
@click.option("--wrt", help="The variable the claim is the derivative with respect to.")
@click.option("--claim", help="Your derivative, e.g. \"2*A*x\" (quote it for the shell).")
@click.option("--derivation", "derivation_file", metavar="FILE",
              help="Check a derivation file instead: one expression a line, each equal to the line before.")
@shape_option
@assume_option
@click.option("--layout", type=click.Choice(["denominator", "numerator"]), default=None,
              help="The claim's layout (default: denominator; a derivation file may say 'layout: ...').")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 to check a claimed Hessian (of a scalar function of a vector).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@input_option
@budget_options
@guarded
def check(expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind, time_limit,
          memory_limit):
    """Check CLAIM, the derivative of EXPRESSION with respect to --wrt; or a whole --derivation FILE."""
    with limit(make_budget(time_limit, memory_limit)):
        _check(expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind)


def _check(expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind):
    if derivation_file is not None:
        if expression is not None or claim is not None:
            raise MatcalcError("--derivation checks a file: give no EXPRESSION or --claim with it")
        # bounded (1 MB), a byte-order mark accepted, nothing of the file quoted in an error
        text = read_text_file(derivation_file, "the derivation file")
        result = verify_steps(text, shapes=parse_shapes(shapes), assume=assume, wrt=wrt, layout=layout,
                              input=input_kind)
    else:
        if expression is None:
            raise MatcalcError("give an EXPRESSION, --wrt and --claim (or --derivation FILE)")
        if not wrt:
            raise MatcalcError("--wrt is required: the variable your claim is the derivative with respect to")
        if claim is None:
            raise MatcalcError("--claim is required: the derivative you want checked")
        result = verify(expression, wrt=wrt, claim=claim, shapes=parse_shapes(shapes), assume=assume,
                        layout=layout or "denominator", input=input_kind, order=order)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(result._repr_markdown_())
    else:
        click.echo(str(result))
    if not result.ok:
        sys.exit(1)
