"""Algorithm-specific tests of the sign methods: Lion, signSGD/Signum and Tiger."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import gradient_stream, run_zoo, TEST_FUSE_MIN_SIZE


# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.


# --------------------------------------------------------------------------- sign methods
def test_lion_equals_keras_lion_with_weight_decay_bit_for_bit():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 4)).astype("float32")
    grads = [rng.normal(size=(6, 4)).astype("float32") for _ in range(30)]
    results = []
    for cls in (koz.ZooLion, keras.optimizers.Lion):
        variable = keras.Variable(start)
        optimizer = cls(learning_rate=3e-3, beta_1=0.8, beta_2=0.95, weight_decay=0.1)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), variable)])
        results.append(variable.numpy())
    assert np.max(np.abs(results[1] - start)) > 1e-2
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("name, kwargs", [("zoo_signsgd", {}), ("zoo_signsgd", {"momentum": 0.9}),
                                          ("zoo_tiger", {}), ("zoo_lion", {})])
def test_sign_methods_move_every_coordinate_by_lr_and_zero_stays(name, kwargs):
    variable = keras.Variable(np.array([1.0, 1.0, 1.0]), dtype="float64")
    optimizer = koz.get(name, learning_rate=0.25, **kwargs)
    optimizer.apply_gradients([(tf.constant([3.0, -1e-3, 0.0], tf.float64), variable)])
    np.testing.assert_array_equal(variable.numpy(), [0.75, 1.25, 1.0])  # sign(0) = 0


def test_tiger_is_signum_with_tiger_default():
    rng = np.random.default_rng(1)
    start = rng.normal(size=(5, 3))
    stream = gradient_stream(rng, [(5, 3)], 20, sparse=False)
    tiger = run_zoo(koz.ZooTiger(0.01, fuse_min_size=TEST_FUSE_MIN_SIZE), [start], stream)
    signum = run_zoo(koz.ZooSignSGD(0.01, momentum=0.965, fuse_min_size=TEST_FUSE_MIN_SIZE), [start], stream)
    np.testing.assert_array_equal(tiger[0], signum[0])
