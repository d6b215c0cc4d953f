"""What every matcalc command shares: the error guard (a MatcalcError is one message and exit 2, never
a traceback; an InternalError — a result of matcalc's that failed its own numeric self-check — exit 4), the --shape/--assume/--layout/--input options, the --time-limit/--memory-limit budget,
and the default expression of `matcalc derive`."""

from __future__ import annotations

import functools
import re
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
        except BrokenPipeError:
            closed_pipe()
        except (KeyboardInterrupt, click.exceptions.Exit, SystemExit):
            raise
        except click.ClickException:
            raise
        except Exception as err:  # a bug of ours: still one line, still exit 2, never a traceback
            click.echo(f"error: internal error ({type(err).__name__}: {err}); please report it", err=True)
            sys.exit(2)

    return run


def closed_pipe() -> None:
    """The reader of our output has gone (`matcalc rules | head -2`): end quietly, as `cat` does — no
    message, and exit 141 (128 + SIGPIPE, what a shell reports for a writer killed by the closed pipe).
    The rest of the output goes to /dev/null, so that Python's own flush at exit does not complain."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass                     # not a real file (a test runner's stream)
    except Exception:            # noqa: BLE001 — io.UnsupportedOperation and the like: nothing to redirect
        pass
    sys.exit(141)


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


class ExpressionCommand(click.Command):
    """A command whose one argument is an expression that may start with '-' (`-y'*log(softmax(z))`).

    click reads such a word as a cluster of short options: `-y'*log(softmax(W2*tanh(W1*x)))` holds an 'h',
    so it printed the help and exited 0 — a script believed it had passed. Here every word that starts
    with '-' and is neither an option of the command (`--wrt`, `--wrt=W`, `-h`) nor the value of the
    option before it is the expression: it is moved behind `--`, where click takes words as arguments.
    A word spelled like an option (`--wrtt`) is refused as no such option (exit 2), never taken for the
    expression."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expression_words_last(self, ctx, list(args)))


_OPTION_LIKE = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]*(=.*)?", re.DOTALL)


def expression_words_last(command: click.Command, ctx, args: list[str]) -> list[str]:
    """`args` with each expression that starts with '-' moved behind a `--` at the end (before the words
    that already follow a `--` of the user's: behind it, click takes every word as an argument)."""
    after: list[str] = []
    if "--" in args:
        at = args.index("--")
        args, after = args[:at], args[at + 1:]
    takes_value, flags = set(), set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            names = set(param.opts) | set(param.secondary_opts)
            (flags if param.is_flag or param.count else takes_value).update(names)
    kept, moved = [], []
    value_next = False
    for word in args:
        if value_next:
            kept.append(word)
            value_next = False
            continue
        name = word.split("=", 1)[0]
        if name in takes_value:
            kept.append(word)
            value_next = "=" not in word
        elif name in flags or not word.startswith("-") or word == "-":
            kept.append(word)                        # a flag or a plain word
        elif word.startswith("--") and _OPTION_LIKE.fullmatch(word):
            import difflib                           # a misspelled option: click's own message, exit 2

            raise click.NoSuchOption(name, possibilities=difflib.get_close_matches(name, takes_value | flags),
                                     ctx=ctx)
        else:
            moved.append(word)                       # -y'*log(...), -x, -2*A*x: an expression
    return kept + (["--"] + moved + after if moved or after else [])
