"""matcalc.data: the digits loader, the guarded npz loader, splitting, scaling and initialisation."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from matcalc.train.data import (
    init_params,
    load_digits_data,
    load_npz,
    minibatches,
    one_hot,
    standardize,
    train_test_split,
)
from matcalc.errors import MatcalcError


# --- digits -----------------------------------------------------------------------------------


def test_digits_shape_dtype_and_range():
    X, y = load_digits_data()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


# --- load_npz: good files ---------------------------------------------------------------------


def test_load_npz_round_trip(tmp_path):
    X = np.random.default_rng(0).random((6, 3))
    y = np.array([0, 1, 2, 0, 1, 2])
    path = tmp_path / "ok.npz"
    np.savez(path, X=X, y=y)
    X2, y2 = load_npz(path)
    assert X2.dtype == np.float64 and np.array_equal(X2, X)
    assert np.issubdtype(y2.dtype, np.integer) and np.array_equal(y2, y)


def test_load_npz_flattens_images_and_accepts_integral_float_labels(tmp_path):
    X = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3)
    path = tmp_path / "images.npz"
    np.savez_compressed(path, X=X, y=np.array([1.0, 0.0, 1.0, 0.0]), extra=np.zeros(2))
    X2, y2 = load_npz(str(path))
    assert X2.shape == (4, 6) and X2.dtype == np.float64
    assert np.array_equal(X2[1], X[1].ravel())
    assert np.array_equal(y2, [1, 0, 1, 0]) and np.issubdtype(y2.dtype, np.integer)


# --- load_npz: every malformed file raises MatcalcError saying what is wrong and what is expected


def _write_npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


GOOD_X = np.zeros((4, 3))
GOOD_Y = np.array([0, 1, 0, 1])


def _assert_malformed(path, *fragments):
    with pytest.raises(MatcalcError) as info:
        load_npz(path)
    message = str(info.value)
    assert str(path) in message
    assert "expected" in message and "'X'" in message and "'y'" in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_file(tmp_path):
    _assert_malformed(tmp_path / "nope.npz", "no such file")


def test_directory_is_not_a_file(tmp_path):
    _assert_malformed(tmp_path, "no such file")


def test_text_file_is_not_npz(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2,3\n4,5,6\n")
    _assert_malformed(path, "not an npz file")


def test_empty_file_is_not_npz(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _assert_malformed(path, "not an npz file")


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"X": GOOD_X, "y": GOOD_Y}))
    _assert_malformed(path, "not an npz file")


def test_single_npy_file(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, GOOD_X)
    _assert_malformed(path, ".npy")


def test_zip_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "fake.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"not an array")
        archive.writestr("y.npy", b"not an array")
    _assert_malformed(path, "not a NumPy array")


def test_object_array_is_never_unpickled(tmp_path):
    path = _write_npz(tmp_path, X=np.array([[1, "a"], [None, 2]], dtype=object), y=np.array([0, 1]))
    _assert_malformed(path, "Python objects")


@pytest.mark.parametrize("present, missing", [({"y": GOOD_Y}, "'X'"), ({"X": GOOD_X}, "'y'")])
def test_missing_key(tmp_path, present, missing):
    path = _write_npz(tmp_path, features=GOOD_X, **present)
    _assert_malformed(path, "missing", missing, "'features'")


def test_x_one_dimensional(tmp_path):
    _assert_malformed(_write_npz(tmp_path, X=np.zeros(4), y=GOOD_Y), "'X' has 1 dimension", "(4,)")


def test_x_scalar(tmp_path):
    _assert_malformed(_write_npz(tmp_path, X=np.array(3.0), y=GOOD_Y), "'X' has 0 dimension")


def test_x_without_features(tmp_path):
    _assert_malformed(_write_npz(tmp_path, X=np.zeros((4, 0)), y=GOOD_Y), "no features")


@pytest.mark.parametrize("X", [np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2), dtype=complex)])
def test_x_not_real_numbers(tmp_path, X):
    _assert_malformed(_write_npz(tmp_path, X=X, y=np.array([0, 1])), "'X' has dtype")


def test_y_two_dimensional(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=one_hot(GOOD_Y, 2))
    _assert_malformed(path, "'y' has shape (4, 2)", "1-D")


def test_length_mismatch(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=np.array([0, 1, 0]))
    _assert_malformed(path, "4 rows", "3 labels")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features(tmp_path, bad):
    X = GOOD_X.copy()
    X[2, 1] = bad
    _assert_malformed(_write_npz(tmp_path, X=X, y=GOOD_Y), "NaN/inf", "row 2")


def test_fractional_labels(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=np.array([0.0, 1.5, 0.0, 1.0]))
    _assert_malformed(path, "non-integer")


def test_nan_labels(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=np.array([0.0, np.nan, 0.0, 1.0]))
    _assert_malformed(path, "non-integer")


def test_string_labels(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=np.array(["cat", "dog", "cat", "dog"]))
    _assert_malformed(path, "must be integers")


def test_negative_labels(tmp_path):
    path = _write_npz(tmp_path, X=GOOD_X, y=np.array([0, -1, 0, 1]))
    _assert_malformed(path, "negative label")


def test_single_class(tmp_path):
    _assert_malformed(_write_npz(tmp_path, X=GOOD_X, y=np.zeros(4, dtype=int)), "1 distinct class")


def test_empty_data_set(tmp_path):
    path = _write_npz(tmp_path, X=np.zeros((0, 3)), y=np.zeros(0, dtype=int))
    _assert_malformed(path, "0 distinct class")


# --- splitting and scaling ----------------------------------------------------------------------


def _tracked_data(n=50):
    """Row i of X holds i, so a split's X and y can be checked to still line up."""
    X = np.repeat(np.arange(n, dtype=float)[:, None], 3, axis=1)
    return X, np.arange(n)


def test_split_sizes_disjoint_and_aligned():
    X, y = _tracked_data(1797)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_fraction=0.2, seed=0)
    assert (len(Xtr), len(Xte), len(ytr), len(yte)) == (1438, 359, 1438, 359)
    assert np.array_equal(Xtr[:, 0], ytr) and np.array_equal(Xte[:, 0], yte)
    assert np.array_equal(np.sort(np.concatenate([ytr, yte])), y)


def test_split_is_deterministic_and_seeded():
    X, y = _tracked_data()
    first = train_test_split(X, y, 0.2, seed=3)
    again = train_test_split(X, y, 0.2, seed=3)
    other = train_test_split(X, y, 0.2, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[3], other[3])


def test_split_shuffles():
    X, y = _tracked_data()
    _, _, ytr, _ = train_test_split(X, y, 0.2, seed=0)
    assert not np.array_equal(ytr, np.sort(ytr))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1e-6])
def test_split_rejects_degenerate_fractions(fraction):
    X, y = _tracked_data(10)
    with pytest.raises(MatcalcError, match="test_fraction"):
        train_test_split(X, y, fraction)


def test_standardize_uses_train_statistics_and_keeps_constant_columns_finite():
    rng = np.random.default_rng(0)
    Xtr = np.column_stack([rng.normal(5, 3, 200), np.full(200, 7.0)])
    Xte = np.array([[5.0, 7.0], [8.0, 9.0]])
    Str, Ste = standardize(Xtr, Xte)
    assert np.allclose(Str.mean(axis=0), 0.0) and np.isclose(Str[:, 0].std(), 1.0)
    assert np.all(Str[:, 1] == 0.0)
    mean, std = Xtr[:, 0].mean(), Xtr[:, 0].std()
    assert np.allclose(Ste[:, 0], (Xte[:, 0] - mean) / std)
    assert np.array_equal(Ste[:, 1], [0.0, 2.0])


def test_one_hot():
    Y = one_hot(np.array([2, 0, 1, 2]), 4)
    assert Y.shape == (4, 4) and Y.dtype == np.float64
    assert np.array_equal(Y.sum(axis=1), np.ones(4)) and np.array_equal(Y.argmax(axis=1), [2, 0, 1, 2])
    assert np.all(Y[:, 3] == 0)


def test_one_hot_rejects_out_of_range_labels():
    with pytest.raises(MatcalcError, match="0..2"):
        one_hot(np.array([0, 3]), 3)


# --- initialisation and batching ----------------------------------------------------------------


def test_init_params_shapes_and_zero_biases():
    params = init_params([5, 7, 4, 3], seed=0)
    assert [(W.shape, b.shape) for W, b in params] == [((5, 7), (7,)), ((7, 4), (4,)), ((4, 3), (3,))]
    assert all(W.dtype == np.float64 and np.all(b == 0) for W, b in params)


def test_init_params_deterministic_per_seed():
    a, b, c = (init_params([64, 128, 64, 10], seed=s) for s in (0, 0, 1))
    assert all(np.array_equal(Wa, Wb) for (Wa, _), (Wb, _) in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])


def test_init_params_is_he_normal():
    (W, _), = init_params([400, 500], seed=0)
    assert abs(W.std() / np.sqrt(2 / 400) - 1) < 0.01 and abs(W.mean()) < 0.01 * W.std()
    expected = np.random.default_rng(0).standard_normal((400, 500)) * np.sqrt(2 / 400)
    assert np.array_equal(W, expected)


@pytest.mark.parametrize("sizes", [[5], [5, 0, 3]])
def test_init_params_rejects_bad_sizes(sizes):
    with pytest.raises(MatcalcError, match="sizes"):
        init_params(sizes, seed=0)


def test_minibatches_cover_every_index_once_in_a_fresh_order():
    rng = np.random.default_rng(0)
    first = list(minibatches(10, 4, rng))
    second = list(minibatches(10, 4, rng))
    assert [len(idx) for idx in first] == [4, 4, 2]
    for batches in (first, second):
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_minibatches_rejects_nonpositive_batch_size():
    with pytest.raises(MatcalcError, match="batch_size"):
        list(minibatches(10, 0, np.random.default_rng(0)))
