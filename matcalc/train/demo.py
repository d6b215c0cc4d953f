"""The training demo: proof by use.

An MLP (relu hidden layers, softmax cross-entropy, minibatch SGD) is trained on scikit-learn's digits
with gradients nobody wrote by hand: the loss is one expression in the language, `matcalc.derive` gives
the gradient of every weight and bias, and the code generator compiles the loss and all gradients into
one plan that computes every shared value (activations, softmax, output error) once. Before training,
the derived gradients are checked against finite differences and against HIPS autograd.

The training step is the compiled plan of the loss and lr times every derived gradient (the scalar lr
joins 1/m on the shared output error), followed by W -= step: nothing here differentiates anything.
The plan is interpreted by codegen's closures; no generated text is executed.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..api import Derivation, derive
from ..compile import codegen
from ..errors import MatcalcError
from ..language.expr import Node, mul, substitute, sym, walk
from ..language.printing import to_text
from . import data

DEFAULT_HIDDEN = (128, 64)
LEARNING_RATE = "lr"   # the name of the learning rate in the compiled step
GRAD_CHECK_GOAL = 1e-7


class GradientCheckError(MatcalcError):
    """The derived gradients disagree with finite differences or autograd: training would be a lie."""


class TrainingDiverged(MatcalcError):
    """The loss became NaN or infinite."""


def loss_expression(sizes: list[int]) -> tuple[str, dict]:
    """The batched mean cross-entropy of an MLP as one expression, and the shapes of its names.

    Rows are samples: Z1 = X*W1 + b1', A1 = relu(Z1), ..., S = softmax_rows(Z_L)."""
    layers = len(sizes) - 1
    if layers < 1:
        raise MatcalcError("a network needs at least an input and an output layer")
    z = "X"
    for k in range(1, layers + 1):
        z = f"{z}*W{k} + b{k}'"
        if k < layers:
            z = f"relu({z})"
    shapes = {"X": ("m", "d0"), "Y": ("m", f"d{layers}")}
    for k in range(1, layers + 1):
        shapes[f"W{k}"] = (f"d{k - 1}", f"d{k}")
        shapes[f"b{k}"] = (f"d{k}",)
    return f"-sum(Y .* log(softmax_rows({z})))/m", shapes


@dataclass
class Network:
    """The derived network: one derivation per parameter, compiled together with the loss."""

    sizes: list[int]
    loss: str
    shapes: dict
    derivations: dict[str, Derivation]
    plan: codegen.Plan     # the loss and every gradient, compiled together into one plan
    scores: codegen.Plan   # the logits, for accuracy
    parameters: list[str] = field(default_factory=list)
    updates: codegen.Plan | None = None   # the loss and lr times every gradient: the training loop's step

    @property
    def root(self) -> Node:
        return next(iter(self.derivations.values())).typed.root


def derive_network(sizes: list[int], batch_size: int = 64) -> Network:
    """Derive the gradient of the loss for every W and b and compile them with the loss into one plan
    (`plan`), and lr times them into the training step (`updates`). batch_size only guides the code
    generator's choices (order of products, where a scalar factor goes); any batch runs."""
    loss, shapes = loss_expression(sizes)
    layers = len(sizes) - 1
    names = [n for k in range(1, layers + 1) for n in (f"W{k}", f"b{k}")]
    derivations = {n: derive(loss, wrt=n, shapes=shapes, assume=["Y one-hot"]) for n in names}
    first = derivations[names[0]]
    hints = {"m": batch_size, **{f"d{k}": s for k, s in enumerate(sizes)}}
    outputs = {"loss": first.typed.root, **{n: d.result for n, d in derivations.items()}}
    plan = codegen.compile_nodes(outputs, first.typed.dims, sizes=hints, names=_value_names(first.typed.root))
    logits = _logits(first.typed.root)
    scores = codegen.compile_nodes({"scores": logits}, first.typed.dims, sizes=hints)
    # The SGD steps lr*dW: the same derived formulas times one more scalar, which the code generator
    # applies once, to the output error shared by every gradient ((S - Y)*(lr/m)), instead of six times.
    lr = sym(LEARNING_RATE, (1, 1))
    steps = {"loss": first.typed.root, **{n: mul(lr, d.result) for n, d in derivations.items()}}
    updates = codegen.compile_nodes(steps, first.typed.dims, sizes=hints, names=_value_names(first.typed.root))
    return Network(list(sizes), loss, shapes, derivations, plan, scores, names, updates)


def _value_names(root: Node) -> dict[Node, str]:
    """A1, A2, ... for the activations (as in the printed formulas) and Z_L for the logits, to name the
    values of the generated source."""
    relus = [n for n in walk(root) if n.op == "fn" and n.attr == "relu"]  # innermost first
    names = {n: f"A{k}" for k, n in enumerate(relus, 1)}
    names[_logits(root)] = f"Z{len(relus) + 1}"
    return names


def _pre_activations(root: Node) -> list[Node]:
    return [n.args[0] for n in walk(root) if n.op == "fn" and n.attr == "relu"]


def _logits(root: Node) -> Node:
    for n in walk(root):
        if n.op == "fn" and n.attr == "softmax_rows":
            return n.args[0]
    raise MatcalcError("the loss has no softmax_rows(...)")


def formulas(net: Network) -> list[tuple[str, str]]:
    """The derived gradients as a NumPy user writes them: activations named A1, A2, ..., the
    pre-activations Z1, Z2, ... and the softmax S, so `dW3 = (1/m)*A2'*(S - Y)`."""
    mapping: dict[Node, Node] = {}
    for n in walk(net.root):
        if n.op == "fn" and n.attr == "softmax_rows":
            mapping[n] = sym("S", n.shape)
    relus = [n for n in walk(net.root) if n.op == "fn" and n.attr == "relu"]  # innermost first
    for k, n in enumerate(relus, 1):
        mapping[n.args[0]] = sym(f"Z{k}", n.shape)
        mapping[n] = sym(f"A{k}", n.shape)
    return [(name, to_text(_pull_transposes(substitute(d.result, mapping)))) for name, d in
            net.derivations.items()]


def _pull_transposes(node: Node) -> Node:
    """For display: (S' - Y') reads better as (S - Y)', as a NumPy user writes (S - Y).sum(axis=0)."""
    from ..language.expr import transpose

    def count(n: Node) -> int:
        return sum(1 for x in walk(n) if x.op == "T")

    if node.op != "mul":
        return node
    args = []
    for a in node.args:
        if a.op in ("add", "had") and not a.is_scalar and count(transpose(a)) < count(a):
            args.append(Node("T", (transpose(a),), None, a.shape))
        else:
            args.append(a)
    return Node("mul", tuple(args), None, node.shape)


def parameter_arrays(params) -> dict[str, np.ndarray]:
    env = {}
    for k, (W, b) in enumerate(params, 1):
        env[f"W{k}"], env[f"b{k}"] = W, b
    return env


def sgd_step(net: Network, env: dict, lr: float) -> float:
    """One minibatch SGD step on the arrays in env (updated in place): W -= lr*dW for every parameter,
    lr*dW from the compiled plan of the derived formulas. Returns the loss before the step."""
    env[LEARNING_RATE] = lr
    out = net.updates(**env)
    for name in net.parameters:
        env[name] -= out[name]
    return out["loss"]


def check_updates(net: Network, env: dict, lr: float) -> None:
    """The step plan is the checked gradient plan times lr; make sure, on the probe batch."""
    grads = net.plan(**env)
    steps = net.updates(**{**env, LEARNING_RATE: lr})
    for name in ["loss", *net.parameters]:
        want = grads[name] if name == "loss" else lr * grads[name]
        if not np.allclose(steps[name], want, rtol=1e-12, atol=1e-15 * max(1.0, abs(lr))):
            raise GradientCheckError(f"the compiled SGD step for {name} is not lr times the checked gradient; "
                                     f"not training on it")


def batch_env(params, X, Y) -> dict:
    env = parameter_arrays(params)
    env["X"], env["Y"] = X, Y
    return env


# ---------------------------------------------------------------- the gradient check


@dataclass
class GradCheck:
    finite_differences: float  # largest relative error of the derived gradients vs central differences
    autograd: float            # largest relative error vs HIPS autograd
    entries: int

    @property
    def max_rel_error(self) -> float:
        return max(self.finite_differences, self.autograd)


def _off_the_kinks(net: Network, env: dict, loss_plan, pre: dict, seed: int) -> None:
    """relu has no derivative at exactly 0: matcalc's step(z) takes 0 there, autograd's maximum 1/2. A
    pre-activation sitting exactly on the kink (constant features standardised to 0 with zero biases)
    would make the two checks disagree about a point where neither is wrong; the check is made at a
    point nearby instead, the biases shifted by a tiny random amount (a copy: training is unaffected)."""
    rng = np.random.default_rng(seed + 1)
    for _ in range(8):
        out = loss_plan(**env)
        if not any(np.any(out[k] == 0) for k in pre):
            return
        for name in net.parameters:
            if name.startswith("b"):
                env[name] = env[name] + 1e-3 * rng.standard_normal(env[name].shape)


def gradient_check(net: Network, params, X, Y, entries: int = 16, seed: int = 0) -> GradCheck:
    """Derived gradients on one batch against (a) central differences of the loss on random entries of
    every parameter and (b) HIPS autograd's full gradient of the same forward expression.

    relu has a kink at 0: an entry whose ±h step moves some pre-activation across 0 has no central
    difference to compare with, so another entry is drawn instead (`GradCheck.entries` counts those used)."""
    import autograd
    import autograd.numpy as anp

    env = batch_env([(W.copy(), b.copy()) for W, b in params], X, Y)
    pre = {f"Z{k}": z for k, z in enumerate(_pre_activations(net.root), 1)}
    loss_plan = codegen.compile_nodes({"loss": net.root, **pre}, {"m"})
    _off_the_kinks(net, env, loss_plan, pre, seed)
    derived = net.plan(**env)

    def loss_and_pattern():
        out = loss_plan(**env)
        return out["loss"], [out[k] > 0 for k in pre]

    rng = np.random.default_rng(seed)
    worst_fd = 0.0
    checked = 0
    for name in net.parameters:
        x = env[name]
        idx, fd = [], []
        for _ in range(20 * entries):
            if len(idx) == entries:
                break
            i = tuple(int(rng.integers(0, s)) for s in x.shape)
            h = 1e-5 * max(1.0, abs(x[i]))
            old = x[i]
            x[i] = old + h
            plus, up = loss_and_pattern()
            x[i] = old - h
            minus, down = loss_and_pattern()
            x[i] = old
            if any(np.any(a != b) for a, b in zip(up, down)):
                continue    # a relu kink lies between the two points
            idx.append(i)
            fd.append((plus - minus) / (2 * h))
        if not idx:
            continue
        fd = np.array(fd)
        got = np.array([derived[name][i] for i in idx])
        scale = max(np.linalg.norm(fd), np.linalg.norm(got), 1e-12)
        worst_fd = max(worst_fd, float(np.linalg.norm(got - fd) / scale))
        checked += len(idx)
    forward = codegen.compile_nodes({"loss": net.root}, {"m"}, xp=anp)
    worst_ad = 0.0
    for name in net.parameters:
        def loss_of(value, _name=name):
            local = dict(env)
            local[_name] = value
            return forward(**local)["loss"]

        want = autograd.grad(loss_of)(env[name])
        scale = max(float(np.max(np.abs(want))), 1e-12)
        worst_ad = max(worst_ad, float(np.max(np.abs(derived[name] - want)) / scale))
    return GradCheck(worst_fd, worst_ad, checked)


# ---------------------------------------------------------------- training


@dataclass
class Epoch:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


@dataclass
class TrainResult:
    sizes: list[int]
    epochs: list[Epoch]
    grad_check: GradCheck
    train_seconds: float
    derive_seconds: float
    formulas: list[tuple[str, str]]
    loss_expression: str
    samples: tuple[int, int]

    @property
    def test_accuracy(self) -> float:
        return self.epochs[-1].test_accuracy if self.epochs else float("nan")

    def as_dict(self) -> dict:
        return {
            "test_accuracy": self.test_accuracy,
            "train_accuracy": self.epochs[-1].train_accuracy if self.epochs else None,
            "final_loss": self.epochs[-1].loss if self.epochs else None,
            "train_seconds": self.train_seconds,
            "seconds_per_epoch": self.train_seconds / max(len(self.epochs), 1),
            "derive_seconds": self.derive_seconds,
            "grad_check_max_rel_error": self.grad_check.max_rel_error,
            "grad_check_finite_differences": self.grad_check.finite_differences,
            "grad_check_autograd": self.grad_check.autograd,
            "epochs": len(self.epochs),
            "layers": self.sizes,
            "train_samples": self.samples[0],
            "test_samples": self.samples[1],
            "loss_expression": self.loss_expression,
            "gradients": dict(self.formulas),
            "history": [e.__dict__ for e in self.epochs],
        }


def accuracy(net: Network, params, X, labels) -> float:
    env = parameter_arrays(params)
    env["X"] = X
    scores = net.scores(**env)["scores"]
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def prepare_data(path: str | None, seed: int, max_megabytes: float = 200.0, max_classes: int = 10_000):
    """Digits scaled to [0, 1] (the default), or the user's npz standardised on its training split.

    A user's file is sized before anything is allocated, because a few megabytes on disk can ask for
    gigabytes: a zip member that inflates a thousandfold (a zip bomb), an .npy header that declares a
    shape of billions, or one label of 3,000,000 that makes the one-hot targets N × 3,000,001. So: every
    member's declared uncompressed size (zipfile never inflates past it), then X's and y's headers
    (their shapes and dtypes, read without their data), and X as float64, must fit in `max_megabytes`;
    after loading, the number of classes (largest label + 1) must be at most `max_classes` and the
    one-hot targets must fit in `max_megabytes` too. Each refusal is a MatcalcError saying what and how big.
    """
    if path is None:
        X, y = data.load_digits_data()
        return data.train_test_split(X, y, 0.2, seed)
    import os
    import zipfile

    limit = int(max_megabytes * 2**20)
    shown = repr(os.fspath(path))[:120]

    def too_big(what: str, nbytes: int) -> MatcalcError:
        return MatcalcError(f"{shown}: {what} would take {nbytes / 2**20:,.0f} MB, more than the "
                            f"{max_megabytes:g} MB matcalc's training demo reads; use a smaller data set")

    def header_of(archive: zipfile.ZipFile, member: str):
        """(shape, dtype) from an .npy member's header, without reading its data."""
        with archive.open(member) as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            except (ValueError, EOFError, SyntaxError, TypeError) as exc:
                raise MatcalcError(f"{shown}: the header of {member!r} is not a valid .npy header "
                                   f"({str(exc)[:120]})") from None
        return shape, dtype

    if os.path.isfile(path) and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
                total = sum(m.file_size for m in members)
                if total > limit:
                    raise too_big(f"the archive's {len(members)} member(s) unpacked", total)
                names = {m.filename for m in members}
                for key in ("X", "y"):
                    member = f"{key}.npy"
                    if member not in names:
                        continue  # load_npz names what is missing
                    shape, dtype = header_of(archive, member)
                    count = math.prod(int(d) for d in shape)
                    if count * dtype.itemsize > limit:
                        raise too_big(f"{key!r} of shape {tuple(shape)} and dtype {dtype}", count * dtype.itemsize)
                    if key == "X" and count * 8 > limit:
                        raise too_big(f"'X' of shape {tuple(shape)} as float64", count * 8)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise MatcalcError(f"{shown}: not a readable npz file ({str(exc)[:120]})") from None
    X, y = data.load_npz(path)
    classes = int(y.max()) + 1
    if classes > max_classes:
        raise MatcalcError(f"{shown}: 'y' holds the label {classes - 1}, so {classes:,} classes; matcalc's "
                           f"training demo takes at most {max_classes:,} (labels 0..{max_classes - 1}); "
                           f"renumber the labels 0, 1, 2, … by class")
    if len(y) * classes * 8 > limit:
        raise too_big(f"the one-hot targets ({len(y):,} samples × {classes:,} classes)", len(y) * classes * 8)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.2, seed)
    Xtr, Xte = data.standardize(Xtr, Xte)
    return Xtr, Xte, ytr, yte


def train(hidden=DEFAULT_HIDDEN, epochs: int = 30, lr: float = 0.1, batch_size: int = 64, seed: int = 0,
          data_path: str | None = None, on_start=None, on_epoch=None) -> TrainResult:
    """Train the MLP with derived gradients. `on_start(net, check)` and `on_epoch(Epoch)` report progress."""
    _check_options(hidden, epochs, lr, batch_size, seed)
    check_network_size([1, *hidden, 2])  # before reading any data
    Xtr, Xte, ytr, yte = prepare_data(data_path, seed)
    classes = int(max(ytr.max(), yte.max())) + 1
    sizes = [Xtr.shape[1], *hidden, classes]
    check_network_size(sizes)
    t0 = time.perf_counter()
    net = derive_network(sizes, batch_size)
    derive_seconds = time.perf_counter() - t0
    params = data.init_params(sizes, seed)
    Ytr = data.one_hot(ytr, classes)
    probe = slice(0, min(batch_size, len(Xtr)))
    check = gradient_check(net, params, Xtr[probe], Ytr[probe], seed=seed)
    if not check.max_rel_error < GRAD_CHECK_GOAL:
        raise GradientCheckError(
            f"the derived gradients disagree with the independent checks (finite differences: "
            f"{check.finite_differences:.2e}, autograd: {check.autograd:.2e}; allowed {GRAD_CHECK_GOAL:.0e}); "
            f"not training on them")
    check_updates(net, batch_env(params, Xtr[probe], Ytr[probe]), lr)
    if on_start is not None:
        on_start(net, check)
    rng = np.random.default_rng(seed)
    env = parameter_arrays(params)
    history: list[Epoch] = []
    started = time.perf_counter()
    # a diverging run is reported below, not as NumPy warnings; small matrices run best on one BLAS thread
    with np.errstate(all="ignore"), _one_blas_thread():
        for epoch in range(1, epochs + 1):
            t = time.perf_counter()
            total, count = 0.0, 0
            for idx in data.minibatches(len(Xtr), batch_size, rng):
                env["X"], env["Y"] = Xtr[idx], Ytr[idx]
                loss = sgd_step(net, env, lr)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} in epoch {epoch}: the updates diverged. The learning rate "
                        f"({lr:g}) is probably too high, or the inputs are not scaled (largest |x| is "
                        f"{float(np.max(np.abs(Xtr))):g}); try --lr {lr / 10:g}")
                total += loss * len(idx)
                count += len(idx)
            seconds = time.perf_counter() - t
            record = Epoch(epoch, total / count, accuracy(net, params, Xtr, ytr),
                           accuracy(net, params, Xte, yte), seconds)
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
    train_seconds = time.perf_counter() - started
    return TrainResult(sizes, history, check, train_seconds, derive_seconds, formulas(net), net.loss,
                       (len(Xtr), len(Xte)))


def _one_blas_thread():
    """One BLAS thread for the loop: for 64×128 products threads cost more than they give, and on a
    busy machine they wait on each other (measured 10× slower on 2 shared cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, train as configured
        return contextlib.nullcontext()
    return threadpool_limits(1)


MAX_PARAMETERS = 20_000_000   # weights of the demo network (160 MB of float64), checked before allocating
PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "webp", "tif", "tiff")


def check_plot_path(path, force: bool = False) -> str:
    """Refuse a plot path before training, not after: an unknown extension, a directory, a missing
    parent directory, or an existing file (unless force)."""
    import os

    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"the plot path must be a str, got {type(path).__name__}")
    path = os.fspath(path)
    shown = repr(path[:80])
    if os.path.isdir(path) or path.endswith(("/", os.sep)) or os.path.basename(path) in ("", ".", ".."):
        raise MatcalcError(f"--plot {shown} is a directory; give a file name such as "
                           f"{os.path.join(path, 'curves.png')!r}")
    stem, ext = os.path.splitext(os.path.basename(path))
    ext = ext[1:].lower()
    if not stem or not ext:
        raise MatcalcError(f"--plot {shown} has no extension; name the format, e.g. curves.png "
                           f"({', '.join(PLOT_FORMATS)})")
    if ext not in PLOT_FORMATS:
        raise MatcalcError(f"--plot {shown}: matplotlib cannot write .{ext[:10]} files; use one of "
                           f"{', '.join(PLOT_FORMATS)}")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise MatcalcError(f"--plot {shown}: the directory {parent[:80]!r} does not exist")
    if os.path.exists(path) and not force:
        raise MatcalcError(f"--plot {shown} exists; not overwriting it (add --force to replace it)")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:      # an optional extra, said before training
        raise MatcalcError('--plot needs matplotlib: pip install "matcalc[plot]"')
    return path


def check_network_size(sizes) -> None:
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if weights > MAX_PARAMETERS:
        raise MatcalcError(f"a {'-'.join(map(str, sizes))} network has {weights:,} weights "
                           f"({weights * 8 / 2**20:,.0f} MB each for weights, gradients and updates); the demo "
                           f"takes at most {MAX_PARAMETERS:,}: use smaller --hidden sizes")


def _check_options(hidden, epochs, lr, batch_size, seed=0) -> None:
    if not hidden or any(int(h) < 1 for h in hidden):
        raise MatcalcError(f"--hidden takes positive layer sizes such as 128,64; got {hidden!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MatcalcError(f"--seed must be a whole number >= 0, got {seed!r}")
    if epochs < 1:
        raise MatcalcError(f"--epochs must be at least 1, got {epochs}")
    if not (lr > 0 and np.isfinite(lr)):
        raise MatcalcError(f"--lr must be a positive number, got {lr}")
    if batch_size < 1:
        raise MatcalcError(f"--batch-size must be at least 1, got {batch_size}")


def plot_history(result: TrainResult, path: str) -> None:
    """Loss and accuracy curves, saved with matplotlib (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e.epoch for e in result.epochs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [e.loss for e in result.epochs], marker="o")
    left.set_xlabel("epoch")
    left.set_ylabel("mean cross-entropy (train)")
    left.set_title("loss")
    right.plot(epochs, [e.train_accuracy for e in result.epochs], marker="o", label="train")
    right.plot(epochs, [e.test_accuracy for e in result.epochs], marker="o", label="test")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.set_title("accuracy")
    right.legend()
    from matplotlib.ticker import MaxNLocator

    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"MLP {'-'.join(map(str, result.sizes))} on gradients derived by matcalc")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as err:
        raise MatcalcError(f"cannot write the plot to {path}: {err.strerror or err}") from None
    finally:
        plt.close(fig)


__all__ = ["train", "derive_network", "loss_expression", "formulas", "gradient_check", "sgd_step",
           "check_updates", "plot_history", "GradientCheckError", "TrainingDiverged"]
