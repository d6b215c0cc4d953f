"""The `matcalc` command: derive, check, train, rules, serve. Thin: each command lives in its own
module of this package, parses its options, calls the library and prints.

Every error a user can cause is a MatcalcError, printed as one clear message with exit code 2; a
wrong claim exits 1; success 0. No traceback reaches the terminal.
"""

from __future__ import annotations

import click


def _command(name: str) -> click.Command:
    """Each command's module is imported when that command runs (or --help lists them), so that
    `matcalc derive` does not import the checker, the trainer or the web server."""
    if name == "derive":
        from .derive import derive as command
    elif name == "check":
        from .check import check as command
    elif name == "train":
        from .train import train as command
    elif name == "rules":
        from .rules import rules as command
    else:
        from .serve import serve as command
    return command


COMMANDS = ("derive", "check", "train", "rules", "serve")


class _Commands(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        return _command(name) if name in COMMANDS else None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcalc")
def main():
    """Derive, check and run matrix-calculus gradients, in matrix notation, showing the work."""


if __name__ == "__main__":
    main(prog_name="matcalc")
