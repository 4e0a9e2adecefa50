"""``skip_nonfinite=True``: a step with a NaN/Inf gradient leaves weights and all state untouched."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from optimizer_table import ROWS

ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS]


def _grads(rng, shapes, poison=False, sparse=False):
    grads = [rng.normal(size=s).astype("float32") for s in shapes]
    if poison:
        grads[1][0, 0] = np.nan
        grads[0][1] = np.inf
    out = [tf.constant(g) for g in grads]
    if sparse:
        values, indices = grads[1][[0, 2, 0]], tf.constant([0, 2, 0])
        out[1] = tf.IndexedSlices(tf.constant(values), indices, tf.constant(shapes[1]))
    return out


def _state(optimizer, variables):
    skipped = optimizer.skipped_steps
    return [v.numpy().copy() for v in variables] + [
        v.numpy().copy() for v in optimizer.variables if v is not skipped
    ]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_nonfinite_step_is_skipped_and_invisible(row, sparse, mode):
    shapes = [(3,), (4, 2)]
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    clean = [_grads(rng, shapes, sparse=sparse) for _ in range(4)]
    poisoned = _grads(rng, shapes, poison=True, sparse=sparse)

    def run(stream):
        variables = [keras.Variable(w) for w in initial]
        optimizer = row.cls(learning_rate=row.learning_rate, weight_decay=0.01, skip_nonfinite=True)

        def step(grads):
            optimizer.apply_gradients(zip(grads, variables))

        if mode == "jit":
            step = tf.function(step, jit_compile=True)
        states = []
        for grads in stream:
            step(grads)
            states.append(_state(optimizer, variables))
        return states, optimizer

    with_nan, optimizer = run(clean[:2] + [poisoned] + clean[2:])
    without, reference = run(clean)
    # The poisoned step changed nothing ...
    for a, b in zip(with_nan[1], with_nan[2]):
        np.testing.assert_array_equal(a, b)
    # ... and the run continues exactly as if it had never happened.
    for a, b in zip(with_nan[-1], without[-1]):
        np.testing.assert_array_equal(a, b)
    assert int(optimizer.skipped_steps) == 1 and int(reference.skipped_steps) == 0
    assert int(optimizer.iterations) == 4
    assert all(np.all(np.isfinite(x)) for x in with_nan[-1])


def test_without_the_option_nan_propagates_as_in_keras():
    for cls in (ROWS[4].cls, keras.optimizers.Adam):
        variable = keras.Variable(np.ones(3, "float32"))
        cls().apply_gradients([(tf.constant([np.nan, 1.0, 1.0]), variable)])
        assert np.isnan(variable.numpy()[0]) and np.all(np.isfinite(variable.numpy()[1:]))


def test_skip_nonfinite_rejects_accumulation_and_ema():
    cls = ROWS[4].cls
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        cls(skip_nonfinite=True, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="use_ema"):
        cls(skip_nonfinite=True, use_ema=True)
    with pytest.raises(TypeError, match="skip_nonfinite"):
        cls(skip_nonfinite="yes")


def test_skipped_steps_is_zero_without_the_option():
    assert ROWS[0].cls().skipped_steps == 0
