"""Hostile input: odd shapes, wrong shapes, None gradients, misuse, edge hyper-parameters, and
property tests (hypothesis) against the NumPy references."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer_table import ROWS

ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS]


def _reference(row, variant, w0, grads, lr):
    init, update = row.reference(**variant)
    w, state = np.array(w0, dtype=np.float64), init(np.array(w0, dtype=np.float64))
    for t, g in enumerate(grads, start=1):
        w, state = update(np.asarray(g, dtype=np.float64), state, w, t, float(np.float32(lr)))
    return w


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_scalar_and_zero_size_variables(row):
    scalar = keras.Variable(np.float64(0.7), dtype="float64")
    empty = keras.Variable(np.zeros((0, 3)), dtype="float64")
    optimizer = row.cls(learning_rate=row.learning_rate)
    grads = [0.3, -1.2, 0.5]
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g, tf.float64), scalar), (tf.zeros((0, 3), tf.float64), empty)])
    assert empty.shape == (0, 3)
    np.testing.assert_allclose(scalar.numpy(), _reference(row, {}, 0.7, grads, row.learning_rate), rtol=1e-12)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_gradient_of_the_wrong_shape_names_the_variable(row):
    variable = keras.Variable(np.zeros((3, 2), "float32"), name="kernel")
    optimizer = row.cls()
    with pytest.raises(ValueError, match=r"'kernel'.*\(3, 4\).*\(3, 2\)"):
        optimizer.apply_gradients([(tf.zeros((3, 4)), variable)])
    sparse = tf.IndexedSlices(tf.zeros((2, 5)), tf.constant([0, 1]), tf.constant([3, 5]))
    with pytest.raises(ValueError, match="'kernel'"):
        optimizer.apply_gradients([(sparse, variable)])
    np.testing.assert_array_equal(variable.numpy(), 0.0)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_none_gradients_are_skipped_as_keras_does(row):
    a = keras.Variable(np.ones(2, "float32"), name="a")
    b = keras.Variable(np.ones(2, "float32"), name="b")
    optimizer = row.cls(learning_rate=row.learning_rate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # two steps: ADOPT's first step only initializes its second moment
            optimizer.apply_gradients([(tf.constant([1.0, -1.0]), a), (None, b)])
    assert any("Gradients do not exist" in str(w.message) for w in caught)
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    assert np.all(a.numpy() != 1.0)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_non_trainable_variables_are_rejected(row):
    frozen = keras.Variable(np.zeros(3, "float32"), trainable=False, name="moving_mean")
    with pytest.raises(ValueError, match="non-trainable.*moving_mean"):
        row.cls().build([frozen])


def _edge_cases(row):
    """Every numeric hyper-parameter at each end of its valid range the constructor accepts."""
    probe = row.cls()
    cases = []
    for key in probe._config_keys:
        value = getattr(probe, key)
        if isinstance(value, bool) or not isinstance(value, float):
            continue
        for candidate in (0.0, 1e-12, 1.0 - 1e-7, 1.0, 1e3):
            try:
                row.cls(**{key: candidate})
            except ValueError:
                continue
            cases.append(pytest.param(row, {key: candidate}, id=f"{row.name}-{key}={candidate:g}"))
    return cases


@pytest.mark.parametrize("row, kwargs", [case for row in ROWS for case in _edge_cases(row)])
def test_edge_hyperparameters_stay_finite_and_match_the_reference(row, kwargs):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 2))
    grads = [rng.uniform(0.1, 1.0, size=(3, 2)) * rng.choice([-1, 1], size=(3, 2)) for _ in range(6)]
    variable = keras.Variable(w0, dtype="float64")
    optimizer = row.cls(learning_rate=0.01, **kwargs)
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    want = _reference(row, kwargs, w0, grads, 0.01)
    assert np.all(np.isfinite(variable.numpy())) and np.all(np.isfinite(want))
    np.testing.assert_allclose(variable.numpy(), want, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- property tests
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def problems(draw, row):
    shape = draw(shapes)
    steps = draw(st.integers(1, 6))
    size = int(np.prod(shape)) if shape else 1
    floats = st.floats(-10, 10, allow_nan=False, width=64)
    w0 = np.array(draw(st.lists(floats, min_size=size, max_size=size)), dtype=np.float64).reshape(shape)
    grads = [
        np.array(draw(st.lists(floats, min_size=size, max_size=size)), dtype=np.float64).reshape(shape)
        for _ in range(steps)
    ]
    lr = draw(st.sampled_from([1e-4, 1e-3, 0.01, 0.1, 1.0]))
    variant = draw(st.sampled_from(row.variants))
    return w0, grads, lr, variant


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_property_matches_reference(row):
    @settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(problems(row))
    def check(problem):
        w0, grads, lr, variant = problem
        variable = keras.Variable(w0, dtype="float64")
        optimizer = row.cls(learning_rate=lr, **variant)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), variable)])
        want = _reference(row, variant, w0, grads, lr)
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-10, atol=1e-12)

    check()
