"""Decoupled weight decay: Keras scaling, TFA scaling, exclusions, and the TFA-style class factory."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from optimizer_table import ROWS

WD_ROWS = [pytest.param(row, id=row.name) for row in ROWS if row.builtin is not None]


def _steps(optimizer, variables, grads):
    for g in grads:
        optimizer.apply_gradients(zip([tf.constant(x) for x in g], variables))
    return [v.numpy() for v in variables]


def _problem(seed=0, steps=10):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    grads = [[rng.normal(size=w.shape).astype("float32") for w in initial] for _ in range(steps)]
    return initial, grads


@pytest.mark.parametrize("row", WD_ROWS)
def test_learning_rate_scaled_decay_equals_keras(row):
    """weight_decay (Keras scaling) on a zoo optimizer equals the built-in with the same decay."""
    initial, grads = _problem()
    # LAMB puts the decay inside the trust ratio by default (paper, TFA); Keras's Lamb does not.
    keras_form = {"weight_decay_in_trust_ratio": False} if row.name == "zoo_lamb" else {}
    zoo = _steps(
        row.cls(learning_rate=0.05, weight_decay=0.1, **keras_form), [keras.Variable(w) for w in initial], grads
    )
    ref = _steps(row.builtin(learning_rate=0.05, weight_decay=0.1), [keras.Variable(w) for w in initial], grads)
    plain = _steps(row.cls(learning_rate=0.05), [keras.Variable(w) for w in initial], grads)
    for z, r, p in zip(zoo, ref, plain):
        np.testing.assert_array_equal(z, r)
        assert np.max(np.abs(z - p)) > 1e-3  # the decay really acted


def test_tfa_scaling_decays_by_the_raw_coefficient():
    """weight_decay_scaling="none": w <- w - wd * w, then the step (TFA's SGDW/AdamW)."""
    w0 = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, 0.5, -1.0])
    variable = keras.Variable(w0, dtype="float64")
    optimizer = koz.ZooSGD(learning_rate=0.1, weight_decay=0.01, weight_decay_scaling="none")
    optimizer.apply_gradients([(tf.constant(g), variable)])
    np.testing.assert_allclose(variable.numpy(), w0 - 0.01 * w0 - np.float32(0.1) * g, rtol=1e-15)
    keras_scaled = keras.Variable(w0, dtype="float64")
    koz.ZooSGD(learning_rate=0.1, weight_decay=0.01).apply_gradients([(tf.constant(g), keras_scaled)])
    np.testing.assert_allclose(keras_scaled.numpy(), w0 - 0.1 * 0.01 * w0 - 0.1 * g, rtol=1e-7)


@pytest.mark.parametrize("scaling", ["learning_rate", "none"])
def test_exclude_from_weight_decay_is_honoured(scaling):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = koz.ZooSGD(learning_rate=0.5, weight_decay=0.2, weight_decay_scaling=scaling)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    kernel, bias = model.trainable_variables
    bias.assign([1.0, -1.0])
    k0 = kernel.numpy()
    zeros = [tf.zeros_like(kernel), tf.zeros_like(bias)]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables))
    np.testing.assert_array_equal(bias.numpy(), [1.0, -1.0])
    factor = 0.2 * (0.5 if scaling == "learning_rate" else 1.0)
    np.testing.assert_allclose(kernel.numpy(), k0 - k0 * factor, rtol=1e-6)


def test_invalid_scaling_is_rejected():
    with pytest.raises(ValueError, match="weight_decay_scaling"):
        koz.ZooAdam(weight_decay=0.1, weight_decay_scaling="tfa")


def test_scaling_round_trips_through_config():
    optimizer = koz.ZooAdam(weight_decay=0.1, weight_decay_scaling="none")
    config = optimizer.get_config()
    assert config["weight_decay_scaling"] == "none" and config["weight_decay"] == 0.1
    assert koz.ZooAdam.from_config(config).weight_decay_scaling == "none"


def test_extend_any_optimizer_with_tfa_style_decay():
    AdamW = koz.extend_with_decoupled_weight_decay(keras.optimizers.Adam)
    assert koz.extend_with_decoupled_weight_decay(keras.optimizers.Adam) is AdamW  # cached
    initial, grads = _problem(1, steps=5)
    extended = _steps(AdamW(weight_decay=0.01, learning_rate=0.05), [keras.Variable(w) for w in initial], grads)
    # The same by hand: decay by the raw coefficient, then Keras's Adam step on the decayed weights.
    variables = [keras.Variable(w) for w in initial]
    adam = keras.optimizers.Adam(learning_rate=0.05)
    for g in grads:
        for v in variables:
            v.assign(v - v * 0.01)
        adam.apply_gradients(zip([tf.constant(x) for x in g], variables))
    for e, v in zip(extended, variables):
        np.testing.assert_allclose(e, v.numpy(), rtol=1e-6, atol=1e-7)
    config = AdamW(weight_decay=0.01).get_config()
    assert config["weight_decay_scaling"] == "none"
    assert type(AdamW.from_config(config)) is AdamW


def test_extended_class_reloads_from_keras_file(tmp_path):
    SGDW = koz.extend_with_decoupled_weight_decay(keras.optimizers.SGD)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=SGDW(weight_decay=0.05, learning_rate=0.1, momentum=0.9), loss="mse")
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(reloaded.optimizer) is SGDW and reloaded.optimizer.weight_decay == 0.05
    model.train_on_batch(x, y)
    reloaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), reloaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_extend_rejects_non_optimizers():
    with pytest.raises(TypeError, match="base_optimizer"):
        koz.extend_with_decoupled_weight_decay(object)
    with pytest.raises(ValueError, match="weight_decay_scaling"):
        koz.extend_with_decoupled_weight_decay(keras.optimizers.SGD, weight_decay_scaling="both")
