"""`matcalc check`: is a hand-derived gradient right? Or: does each line of a derivation follow?

    matcalc check EXPR --wrt X --claim CLAIM [--shape NAME=d1,d2]... [--assume TEXT]... [--layout ...]
    matcalc check --derivation FILE [--shape ...] [--assume ...]
    matcalc check --code FILE.py:FUNCTION EXPR --wrt W[,W2,...] [--shape ...] [--assume ...]
    matcalc check --document FILE.md|FILE.tex|FILE.ipynb [--format text|json|html]

Exit 0 when the claim (or every step, or the function) is right; 1 when it is wrong, has the wrong
shape, or is right only under an assumption that was not given — or when the function raises, returns
NaN or the wrong type (one line says which); 2 on bad input (the message says whether the fault is in
the expression, in the claim, or on which line of the file) and when the function runs past the time
or memory budget. `--code` imports only FILE, by path, in a child process that runs the function.
"""

from __future__ import annotations

import json
import sys

import click

from ..budget import limit
from ..errors import MatcalcError
from ..language.arguments import read_text_file
from .common import (
    EXPRESSION_COMMAND,
    ExpressionCommand,
    assume_option,
    budget_options,
    function_option,
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
@click.option("--code", "code", metavar="FILE.py:FUNCTION",
              help="Check a gradient function instead: FUNCTION of FILE (imported, and run, in a child process) "
                   "takes the expression's variables by name and returns the gradient (a dict or tuple for several "
                   "--wrt names, comma-separated).")
@click.option("--document", "document_file", metavar="FILE",
              help="Check a published derivation: a Markdown, LaTeX or notebook file, every equation judged.")
@shape_option
@assume_option
@click.option("--layout", type=click.Choice(["denominator", "numerator"]), default=None,
              help="The claim's layout (default: denominator; a derivation file may say 'layout: ...').")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 to check a claimed Hessian (of a scalar function of a vector).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text",
              show_default=True)
@function_option
@input_option
@budget_options
@guarded
def check(expression, wrt, claim, derivation_file, code, document_file, shapes, assume, layout, order, fmt, functions,
          input_kind, time_limit, memory_limit):
    """Check CLAIM, the derivative of EXPRESSION with respect to --wrt; or a whole --derivation FILE; or the
    gradient function --code FILE.py:FUNCTION; or a published --document FILE."""
    with limit(make_budget(time_limit, memory_limit)):
        if document_file is not None:
            if code is not None:
                raise MatcalcError("--document checks a file: give no --code with it")
            _document(expression, claim, derivation_file, document_file, layout, fmt)
            return
        if fmt == "html":
            raise MatcalcError("--format html is for --document")
        if code is not None:
            if functions:
                raise MatcalcError("--code checks a function of arrays: --function (an abstract f) does not apply")
            _check_code(code, expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind)
        else:
            _check(expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind,
                   list(functions))


BUDGET_FAULTS = ("timeout", "memory")    # past the budget: exit 2, as every command; other faults exit 1


def _check_code(code, expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind):
    from ..api import check_gradient

    if claim is not None or derivation_file is not None or order != 1:
        raise MatcalcError("--code checks a function: give no --claim, --derivation or --order with it")
    if expression is None:
        raise MatcalcError("give the EXPRESSION the function is the gradient of, e.g. "
                           "matcalc check --code grad.py:grad \"x'*A*x\" --wrt x")
    if not wrt:
        raise MatcalcError("--wrt is required: the variable (or variables, comma-separated) the function's "
                           "gradient is with respect to")
    names = [w.strip() for w in wrt.split(",")]
    result = check_gradient(code, expression, wrt=names if len(names) > 1 else names[0], shapes=parse_shapes(shapes),
                            assume=assume, layout=layout or "denominator", input=input_kind)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    elif result.fault is not None:
        click.echo(f"error: {result.diagnosis}", err=True)
    elif fmt == "markdown":
        click.echo(result._repr_markdown_())
    else:
        click.echo(str(result))
    if result.fault in BUDGET_FAULTS:
        sys.exit(2)
    if not result.ok:
        sys.exit(1)


def _document(expression, claim, derivation_file, document_file, layout, fmt):
    from ..check.documents import check_document      # (not through api/: a document needs none of the engine)

    if expression is not None or claim is not None or derivation_file is not None:
        raise MatcalcError("--document checks a file: give no EXPRESSION, --claim or --derivation with it")
    text = read_text_file(document_file, "the document")
    report = check_document(text, name=str(document_file), layout=layout)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "html":
        from ..web.document_page import document_html

        click.echo(document_html(text, report, title=str(document_file)))
    else:
        click.echo(str(report))
    if not report.ok:
        sys.exit(1)


def _check(expression, wrt, claim, derivation_file, shapes, assume, layout, order, fmt, input_kind,
           functions=None):
    from ..api import verify, verify_steps

    if derivation_file is not None:
        if expression is not None or claim is not None:
            raise MatcalcError("--derivation checks a file: give no EXPRESSION or --claim with it")
        # bounded (1 MB), a byte-order mark accepted, nothing of the file quoted in an error
        text = read_text_file(derivation_file, "the derivation file")
        result = verify_steps(text, shapes=parse_shapes(shapes), assume=assume, wrt=wrt, layout=layout,
                              input=input_kind, functions=functions)
    else:
        if expression is None:
            raise MatcalcError("give an EXPRESSION, --wrt and --claim (or --derivation FILE)")
        if not wrt:
            raise MatcalcError("--wrt is required: the variable your claim is the derivative with respect to")
        if claim is None:
            raise MatcalcError("--claim is required: the derivative you want checked")
        result = verify(expression, wrt=wrt, claim=claim, shapes=parse_shapes(shapes), assume=assume,
                        layout=layout or "denominator", input=input_kind, order=order, functions=functions)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(result._repr_markdown_())
    else:
        click.echo(str(result))
    if not result.ok:
        sys.exit(1)
