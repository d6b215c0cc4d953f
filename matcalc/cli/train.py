"""`matcalc train`: the demo that trains an MLP on derived gradients (the logic is in matcalc/train/)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import MatcalcError
from .common import guarded


def _hidden(text: str) -> tuple[int, ...]:
    if len(text) > 200:
        raise MatcalcError(f"--hidden takes a few layer sizes such as 128,64; got {len(text)} characters")
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise MatcalcError(f"--hidden takes layer sizes separated by commas, such as 128,64; got {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise MatcalcError(f"--hidden takes positive layer sizes such as 128,64; got {text!r}")
    return sizes


@click.command()
@click.option("--hidden", default="128,64", show_default=True, help="Hidden layer sizes.")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--lr", type=float, default=0.1, show_default=True, help="Learning rate of minibatch SGD.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=0, show_default=True)
@click.option("--data", "data_path", metavar="FILE.npz",
              help="Train on your own data: an .npz with arrays X (samples × features) and y (integer labels).")
@click.option("--plot", "plot_path", metavar="FILE.png", help="Save loss and accuracy curves (.png, .pdf, .svg).")
@click.option("--force", is_flag=True, help="Overwrite the --plot file if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--show-code", is_flag=True, help="Also print the generated NumPy code of the loss and gradients.")
@click.option("--backend", type=click.Choice(["numpy", "torch", "jax"]), default="numpy", show_default=True,
              help="Array library the compiled step runs on (torch and jax are optional extras).")
def train(hidden, epochs, lr, batch_size, seed, data_path, plot_path, force, as_json, show_code, backend):
    """Train an MLP on scikit-learn's digits (or --data) with gradients derived by matcalc.

    Exit codes: 0 trained; 2 bad input; 3 the derived gradients failed their check or training diverged."""
    guarded(_run)(hidden, epochs, lr, batch_size, seed, data_path, plot_path, as_json, show_code, backend, force)


def _run(hidden, epochs, lr, batch_size, seed, data_path, plot_path, as_json, show_code=False, backend="numpy",
         force=False):
    from ..train import demo as demo

    sizes = _hidden(hidden)
    if plot_path:  # a bad --plot is said before training, not after it
        plot_path = demo.check_plot_path(plot_path, force)
    echo = (lambda *a, **k: None) if as_json else click.echo
    bar = {}

    def on_start(net, check):
        echo(f"network   {'-'.join(map(str, net.sizes))}, relu hidden layers, softmax cross-entropy, "
             f"minibatch SGD (batch {batch_size}, lr {lr}, seed {seed})")
        echo(f"loss      {net.loss}")
        echo("gradients derived by matcalc (Z pre-activations, A = relu(Z), S = softmax_rows(...)):")
        for name, formula in demo.formulas(net):
            echo(f"  d{name:<4}= {formula}")
        if show_code:
            echo("generated NumPy (interpreted step by step; the training step is the same with lr*dW):")
            code = net.plan.source("loss_and_gradients", "", with_helpers=False)
            echo(code.replace("import numpy as np", "", 1).strip("\n"))
        echo(f"gradient check on one batch: largest relative error {check.max_rel_error:.1e} "
             f"(finite differences {check.finite_differences:.1e} on {check.entries} entries, "
             f"HIPS autograd {check.autograd:.1e}; goal < {demo.GRAD_CHECK_GOAL:.0e})")
        if not as_json:
            bar["bar"] = click.progressbar(length=epochs, label="training", show_eta=False,
                                           item_show_func=lambda e: e and
                                           f"epoch {e.epoch}: loss {e.loss:.4f}, test {e.test_accuracy:.2%}")
            bar["bar"].__enter__()

    def on_epoch(e):
        if "bar" in bar:
            bar["bar"].update(1, e)

    try:
        from ..train.backends import train as train_on

        result = train_on(sizes, epochs, lr, batch_size, seed, data_path, on_start, on_epoch, backend=backend)
    except (demo.GradientCheckError, demo.TrainingDiverged) as err:
        if "bar" in bar:
            bar["bar"].__exit__(None, None, None)
        click.echo(f"error: {err}", err=True)
        sys.exit(3)
    if "bar" in bar:
        bar["bar"].__exit__(None, None, None)
    if plot_path:
        demo.plot_history(result, plot_path)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    echo("")
    echo(" epoch      loss   train acc   test acc")
    for e in result.epochs:
        echo(f"{e.epoch:>6}  {e.loss:8.4f}   {e.train_accuracy:8.2%}   {e.test_accuracy:8.2%}")
    echo("")
    echo(f"test accuracy {result.test_accuracy:.2%} ({result.samples[1]} samples) after {len(result.epochs)} "
         f"epochs; {result.train_seconds:.2f} s training ({1000 * result.train_seconds / len(result.epochs):.1f} "
         f"ms/epoch), {result.derive_seconds:.2f} s deriving")
    if plot_path:
        echo(f"curves saved to {plot_path}")
