"""What every matcalc command shares: the error guard (a MatcalcError is one message and exit 2, never
a traceback; an InternalError — a result of matcalc's that failed its own numeric self-check — exit 4), the --shape/--assume/--layout/--input options, the --time-limit/--memory-limit budget,
and the default expression of `matcalc derive`."""

from __future__ import annotations

import functools
import sys

import click

from ..budget import Budget
from ..errors import InternalError, MatcalcError

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
        except InternalError as err:
            # matcalc's own result failed its self-check: never shown, and not the user's fault (exit 4)
            click.echo(f"error: {err}", err=True)
            sys.exit(InternalError.exit_code)
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


def make_budget(time_limit, memory_limit) -> Budget:
    return Budget.with_limits(time_limit, memory_limit)


shape_option = click.option("--shape", "shapes", multiple=True, metavar="NAME=d1,d2",
                            help="Declare a shape: W=c,d (matrix), x=d (vector), lam= (scalar); numbers allowed.")


assume_option = click.option("--assume", "assume", multiple=True, metavar="TEXT",
                             help="An assumption: 'sum(y) = 1', 'A symmetric', 'X positive definite', 'x > 0'.")


layout_option = click.option("--layout", type=click.Choice(["denominator", "numerator"]), default="denominator",
                             show_default=True, help="Denominator: a gradient has the variable's shape.")


input_option = click.option("--input", "input_kind", type=click.Choice(["auto", "ascii", "latex"]),
                            default="auto", show_default=True, help="The expression's notation.")


function_option = click.option("--function", "functions", multiple=True, metavar="NAME",
                               help="An abstract elementwise function the expression calls (repeatable): "
                                    "--function f lets it write f(z); results use f'(z), f''(z).")
EXPRESSION_COMMAND = {"ignore_unknown_options": True}  # so "-y'*log(...)" is an expression, not an option
