"""Algorithm-specific tests of the layer-wise methods: LARS (trust ratio, exclusions) and NovoGrad
(one second moment per variable)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from harness import apply_steps, f32, TEST_FUSE_MIN_SIZE


# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.


# --------------------------------------------------------------------------- LARS exclusions
def _dense_model():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones")])
    return model


def _lars_run(optimizer, steps=6):
    model = _dense_model()
    rng = np.random.default_rng(2)
    start = [np.asarray(w, np.float64) for w in model.get_weights()]
    grads = [[rng.normal(size=w.shape) for w in start] for _ in range(steps)]
    optimizer.build(model.trainable_variables)
    for step in grads:
        optimizer.apply_gradients(zip([tf.constant(g, tf.float32) for g in step], model.trainable_variables))
    return start, grads, [w.astype(np.float64) for w in model.get_weights()]


def _lars_reference(start, grads, lr, per_variable_kwargs):
    out = []
    for i, w in enumerate(start):
        init, update = reference.lars(**per_variable_kwargs[i])
        state = init(w)
        for t, step in enumerate(grads, start=1):
            w, state = update(np.asarray(step[i], np.float32).astype(np.float64), state, w, t, f32(lr))
        out.append(w)
    return out


def test_lars_excludes_bias_from_decay_and_adaptation():
    optimizer = koz.ZooLARS(learning_rate=0.5, weight_decay=0.01, eta=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    start, grads, got = _lars_run(optimizer)
    kernel = {"weight_decay": 0.01, "eta": 0.01}
    bias = {"weight_decay": 0.0, "eta": 0.01, "exclude": True}
    want = _lars_reference(start, grads, 0.5, [kernel, {k: v for k, v in bias.items() if k != "exclude"}])
    np.testing.assert_allclose(got[0], want[0], rtol=2e-6)
    # The bias takes ratio 1 (not adapted) and no decay: plain momentum SGD.
    sgd = _lars_reference(start, grads, 0.5, [kernel, {"eta": 0.01, "weight_decay": 0.0}])
    assert not np.allclose(got[1], sgd[1], rtol=1e-3)  # the adapted rule would differ ...
    init, update = reference.sgd(momentum=0.9)  # ... the bias follows Keras-form momentum SGD
    w, state = start[1], init(start[1])
    for t, step in enumerate(grads, start=1):
        w, state = update(np.asarray(step[1], np.float32).astype(np.float64), state, w, t, 0.5)
    np.testing.assert_allclose(got[1], w, rtol=2e-6)


def test_lars_exclude_from_layer_adaptation_keeps_decay():
    optimizer = koz.ZooLARS(learning_rate=0.5, weight_decay=0.01, exclude_from_layer_adaptation=["bias"], fuse_min_size=TEST_FUSE_MIN_SIZE)
    start, grads, got = _lars_run(optimizer)
    want = _lars_reference(start, grads, 0.5, [{"weight_decay": 0.01}, {"weight_decay": 0.01}])
    np.testing.assert_allclose(got[0], want[0], rtol=2e-6)
    # Bias: not adapted (ratio 1) but decayed inside the step: v = m v + lr (g + wd w).
    w, v = start[1], np.zeros_like(start[1])
    for step in grads:
        v = 0.9 * v + 0.5 * (np.asarray(step[1], np.float32).astype(np.float64) + 0.01 * w)
        w = w - v
    np.testing.assert_allclose(got[1], w, rtol=2e-6)


def test_lars_fuses_only_when_every_variable_takes_the_same_choices():
    optimizer = koz.ZooLARS(weight_decay=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    big = keras.Variable(np.ones((64, 32), "float32"), name="kernel")
    small_bias = keras.Variable(np.ones((32,), "float32"), name="bias")
    optimizer.build([big, small_bias])
    assert not optimizer._fuses(big)
    uniform = koz.ZooLARS(weight_decay=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    uniform.build([keras.Variable(np.ones((64, 32), "float32"), name="kernel")])
    assert uniform._fuses(uniform._trainable_variables[0])


# --------------------------------------------------------------------------- NovoGrad
def test_novograd_keeps_one_scalar_second_moment_per_variable():
    kernel = keras.Variable(np.ones((3, 2)), dtype="float64", name="kernel")
    bias = keras.Variable(np.ones(2), dtype="float64", name="bias")
    optimizer = koz.ZooNovoGrad(learning_rate=0.125, beta_2=0.5, epsilon=0.0, amsgrad=True)
    g1 = [np.full((3, 2), 2.0), np.array([3.0, 4.0])]  # ||.||^2 = 24 and 25
    g2 = [np.full((3, 2), 1.0), np.array([0.0, 0.0])]  # ||.||^2 = 6 and 0
    optimizer.apply_gradients(zip([tf.constant(g) for g in g1], [kernel, bias]))
    velocity = optimizer.get_slot(kernel, "velocity")
    assert tuple(velocity.shape) == () and tuple(optimizer.get_slot(kernel, "momentum").shape) == (3, 2)
    assert float(velocity.numpy()) == 24.0  # first step: ||g_1||^2, not (1 - beta_2) ||g_1||^2
    assert float(optimizer.get_slot(bias, "velocity").numpy()) == 25.0
    # Step 1 moves each weight by lr * g / ||g||: the layer's gradient direction, unit length.
    np.testing.assert_allclose(bias.numpy(), 1 - 0.125 * np.array([3.0, 4.0]) / 5.0, rtol=1e-15)
    optimizer.apply_gradients(zip([tf.constant(g) for g in g2], [kernel, bias]))
    assert float(velocity.numpy()) == 0.5 * 24 + 0.5 * 6
    assert float(optimizer.get_slot(bias, "velocity").numpy()) == 12.5
    assert float(optimizer.get_slot(kernel, "velocity_hat").numpy()) == 24.0  # max(24, 15)
    # State: the momentum plus two scalars per variable (iterations and learning rate aside).
    assert sum(int(np.prod(v.shape)) for v in optimizer.variables[2:]) == 6 + 2 + 2 * 2


def test_novograd_is_invariant_to_the_gradient_scale():
    """With epsilon = 0 the layer-wise normalization cancels any per-layer rescaling of g."""
    rng = np.random.default_rng(6)
    w0, grads = rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(15)]
    runs = [
        apply_steps(koz.ZooNovoGrad(learning_rate=0.05, epsilon=0.0), keras.Variable(w0, dtype="float64"),
               [g * scale for g in grads])
        for scale in (1.0, 1e-6, 1e6)
    ]
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    np.testing.assert_allclose(runs[2], runs[0], rtol=1e-12)


def test_novograd_first_step_is_per_variable():
    """A variable whose first gradient is zero starts v at its first non-zero gradient."""
    variable = keras.Variable(np.zeros(2), dtype="float64")
    optimizer = koz.ZooNovoGrad(learning_rate=0.1, beta_2=0.9)
    apply_steps(optimizer, variable, [np.zeros(2), np.array([0.6, 0.8])])
    assert float(optimizer.get_slot(variable, "velocity").numpy()) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(variable.numpy(), [-0.06, -0.08], rtol=1e-6)  # a unit step, not 1/sqrt(0.1)


def test_novograd_weight_decay_is_its_own_not_the_base_decoupled_one():
    """wd * w goes through the momentum (once), the base's decoupled decay is off; exclusions hold."""
    model_kernel = keras.Variable(np.full((2, 2), 2.0), dtype="float64", name="kernel")
    model_bias = keras.Variable(np.full(2, 2.0), dtype="float64", name="bias")
    optimizer = koz.ZooNovoGrad(learning_rate=0.125, weight_decay=0.5, beta_1=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    zeros = [tf.zeros((2, 2), tf.float64), tf.zeros(2, tf.float64)]
    optimizer.apply_gradients(zip(zeros, [model_kernel, model_bias]))
    # d = 0 / (0 + eps) + 0.5 * 2 = 1; m = 1; w = 2 - 0.125 * 1 (decayed once, through m).
    np.testing.assert_allclose(model_kernel.numpy(), 1.875, rtol=1e-15)
    np.testing.assert_array_equal(model_bias.numpy(), 2.0)
    optimizer.apply_gradients(zip(zeros, [model_kernel, model_bias]))
    # d = 0.5 * 1.875 = 0.9375; m = 0.5 * 1 + 0.9375 = 1.4375; w = 1.875 - 0.125 * 1.4375.
    np.testing.assert_allclose(model_kernel.numpy(), 1.875 - 0.125 * 1.4375, rtol=1e-15)
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.5 and optimizer.weight_decay == 0.5
    assert koz.ZooNovoGrad.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="weight_decay_scaling"):
        koz.ZooNovoGrad(weight_decay=0.1, weight_decay_scaling="none")


def test_novograd_float16_variable_keeps_its_squared_norm_in_float32():
    """||g||^2 of a float16 layer easily exceeds float16's 65504: the scalar state is float32."""
    variable = keras.Variable(np.zeros(1000), dtype="float16")
    optimizer = koz.ZooNovoGrad(learning_rate=0.01)
    optimizer.apply_gradients([(tf.fill([1000], tf.constant(10.0, tf.float16)), variable)])
    velocity = optimizer.get_slot(variable, "velocity")
    assert keras.backend.standardize_dtype(velocity.dtype) == "float32"
    assert float(velocity.numpy()) == pytest.approx(1e5)
    np.testing.assert_allclose(variable.numpy().astype(np.float64), -0.01 / np.sqrt(1000), rtol=1e-3)
