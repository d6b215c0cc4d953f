"""The `matcalc` command: derive, check, train, rules, serve. Thin: each command lives in its own
module of this package, parses its options, calls the library and prints.

Every error a user can cause is a MatcalcError, printed as one clear message with exit code 2; a
wrong claim exits 1; success 0. No traceback reaches the terminal.
"""

from __future__ import annotations

import importlib

import click

COMMANDS = ("derive", "check", "train", "rules", "serve")      # each the function of the module of its name


class _Commands(click.Group):
    """Each command's module is imported when the command runs (a `check --document` loads no engine)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module(f"{__package__}.{name}"), name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcalc")
def main():
    """Derive, check and run matrix-calculus gradients, in matrix notation, showing the work."""

if __name__ == "__main__":
    main(prog_name="matcalc")
