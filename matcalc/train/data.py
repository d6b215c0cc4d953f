"""Data and initialisation shared by the `train` demo and its benchmark.

Both must see exactly the same numbers (same split, same scaling, same initial weights) so that a
difference in loss or accuracy between matcalc and a peer can only come from the gradients.
Everything here is plain NumPy and deterministic given a seed.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator

import numpy as np

from matcalc.errors import MatcalcError

_NPZ_EXPECTED = (
    "expected an .npz file (numpy.savez) holding 'X', a float array of shape (N, features) "
    "or (N, ...), and 'y', N integer class labels with at least 2 distinct classes"
)


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: a real data set that needs no download.

    Pixel values are 0..16, so dividing by 16 puts them in [0, 1] without looking at the data.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:     # an optional extra: the core install has no scikit-learn
        raise MatcalcError('matcalc train needs scikit-learn for its default data set (the digits): '
                           'pip install "matcalc[train]" (or train on your own data: --data FILE.npz)') from None

    digits = load_digits()
    X = np.asarray(digits.data, dtype=np.float64) / 16.0
    y = np.asarray(digits.target, dtype=np.int64)
    return X, y


def _npz_error(path: str, problem: str) -> MatcalcError:
    return MatcalcError(f"{path}: {problem}; {_NPZ_EXPECTED}")


def _read_npz_arrays(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read X and y without ever unpickling: a data file must not be able to run code.

    The container is checked first because NumPy reports any non-zip file as "pickled data",
    which would mislead a user who passed, say, a CSV.
    """
    if not os.path.isfile(path):
        raise _npz_error(path, "no such file")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        raise _npz_error(path, "this is a single-array .npy file (numpy.save), not an .npz archive")
    if not zipfile.is_zipfile(path):
        raise _npz_error(path, "not an npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("X", "y") if k not in npz.files]
            if missing:
                found = ", ".join(repr(k) for k in npz.files) or "no arrays"
                raise _npz_error(path, f"missing array(s) {', '.join(map(repr, missing))} (found {found})")
            arrays = npz["X"], npz["y"]
    except MatcalcError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _npz_error(path, "an array is stored as Python objects, which are never loaded") from exc
        raise _npz_error(path, f"not a readable npz file ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _npz_error(path, f"not a readable npz file ({exc})") from exc
    for name, array in zip(("X", "y"), arrays):
        if not isinstance(array, np.ndarray):  # NumPy hands back raw bytes for a non-.npy member
            raise _npz_error(path, f"{name!r} is not a NumPy array inside the archive")
    return arrays


def _check_features(path: str, X: np.ndarray) -> np.ndarray:
    if X.dtype.kind not in "biuf":
        raise _npz_error(path, f"'X' has dtype {X.dtype}, not a real number type")
    if X.ndim < 2:
        raise _npz_error(path, f"'X' has {X.ndim} dimension(s), shape {X.shape}; need at least 2")
    X = X.reshape(X.shape[0], int(np.prod(X.shape[1:]))).astype(np.float64)
    if X.shape[1] == 0:
        raise _npz_error(path, f"'X' has no features, shape {X.shape}")
    bad = ~np.isfinite(X)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise _npz_error(path, f"'X' contains {int(bad.sum())} NaN/inf value(s), first in row {row}")
    return X


def _check_labels(path: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim != 1:
        raise _npz_error(path, f"'y' has shape {y.shape}; need a 1-D array of labels")
    if y.shape[0] != n:
        raise _npz_error(path, f"'X' has {n} rows but 'y' has {y.shape[0]} labels")
    if y.dtype.kind in "biu":
        labels = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise _npz_error(path, "'y' holds non-integer values; labels must be whole numbers")
        labels = y.astype(np.int64)
    else:
        raise _npz_error(path, f"'y' has dtype {y.dtype}; labels must be integers")
    if labels.size and labels.min() < 0:
        raise _npz_error(path, f"'y' holds a negative label ({int(labels.min())}); labels must be >= 0")
    n_classes = np.unique(labels).size
    if n_classes < 2:
        raise _npz_error(path, f"'y' has {n_classes} distinct class(es); a classifier needs at least 2")
    return labels


def load_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A user's own data set, validated up front so training never fails halfway with a NumPy error.

    Images of shape (N, h, w, ...) are flattened to (N, features), since the MLP sees vectors.
    """
    path = os.fspath(path)
    X, y = _read_npz_arrays(path)
    X = _check_features(path, X)
    return X, _check_labels(path, y, X.shape[0])


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Own split (not sklearn's) so the result depends only on NumPy's generator and the seed."""
    if not 0.0 < test_fraction < 1.0:
        raise MatcalcError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    n = X.shape[0]
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise MatcalcError(f"cannot split {n} samples with test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def standardize(Xtr: np.ndarray, Xte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statistics come from the training set only, so nothing about the test set leaks in.

    Constant features (std 0, e.g. always-blank corner pixels) are only centred, not divided by 0.
    """
    mean = Xtr.mean(axis=0)
    std = Xtr.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (Xtr - mean) / std, (Xte - mean) / std


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Float targets for softmax cross-entropy; rows sum to 1."""
    y = np.asarray(y)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise MatcalcError(f"labels must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    Y = np.zeros((y.shape[0], n_classes), dtype=np.float64)
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y


def init_params(sizes: list[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-normal weights keep relu activations' variance steady layer to layer.

    W is (fan_in, fan_out) because layers are applied row-major to a batch: Z = A @ W + b.
    Layers are drawn in order from one generator, so the same sizes and seed give the same net.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise MatcalcError(f"sizes must list at least 2 positive layer widths, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        params.append((W, np.zeros(fan_out)))
    return params


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A fresh permutation each call, so every epoch visits every sample once in a new order.

    The last batch may be smaller than batch_size; no sample is dropped.
    """
    if batch_size < 1:
        raise MatcalcError(f"batch_size must be positive, got {batch_size}")
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
