"""`matcalc rules`: the identity tables of rules/, each row with its source (text or JSON)."""

from __future__ import annotations

import json

import click

from .. import tables
from .common import guarded


@click.command()
@click.option("--table", type=click.Choice(["functions", "operators", "simplify", "identities", "all"]),
              default="all", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def rules(table, fmt):
    """List the identity tables of rules/, each row with its source."""
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
        shown = row.get("spelling") or row["name"]
        label = f"{shown}(x, y)" if row.get("arity", 1) == 2 else \
            f"{shown}(X, {row['axis']})" if row.get("axis") else row["name"]
        body = f"d {label}: " + (f"G .* ({row['derivative']})" if row["derivative"] else row["adjoint"])
        if row.get("derivative2"):
            body += f", G .* ({row['derivative2']})"
        return f"  {row['printed'] if 'printed' in row else row.get('spelling') or row['name']:<16} {body}\n" \
               f"  {'':<16} {row['rule']}   [{row['source']}]"
    if table == "operators":
        return f"  {row['op'] + ' (' + row['slot'] + ')':<16} adjoint {row['adjoint']:<20} {row['rule']}   [{row['source']}]"
    if table == "simplify":
        return f"  {row['pattern']:<26} -> {row['result']:<14} {row['name']}   [{row['source']}]"
    assume = f"   assuming {'; '.join(row['assume'])}" if row["assume"] else ""
    return f"  d/d{row['wrt']} {row['expression']:<34} = {row['gradient']}{assume}   [{row['source']}]"
