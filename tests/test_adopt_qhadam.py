"""ADOPT's first two steps and QHAdam's limits, by hand."""

import keras
import numpy as np
import tensorflow as tf

import keras_optim_zoo as koz


def _f64(x):
    return tf.constant(np.asarray(x, np.float64))


def test_adopt_first_step_only_initializes_the_second_moment_then_steps_by_the_clipped_ratio():
    variable = keras.Variable(np.array([1.0, 1.0, 1.0]), dtype="float64")
    optimizer = koz.ZooADOPT(learning_rate=0.125, beta_1=0.5)  # exact in the float32 rate
    optimizer.apply_gradients([(_f64([2.0, -0.5, 0.0]), variable)])
    np.testing.assert_array_equal(variable.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(optimizer.get_slot(variable, "velocity").numpy(), [4.0, 0.25, 0.0])
    # Step 2: n = g / max(sqrt(v), 1e-6) = [3/2, -1/0.5, 1e-3/1e-6], clipped to +-(2-1)^0.25 = 1;
    # m = 0.5 n; w -= 0.125 m.
    optimizer.apply_gradients([(_f64([3.0, -1.0, 1e-3]), variable)])
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.0625, 1.0 + 0.0625, 1.0 - 0.0625], rtol=1e-15)
    unclipped = keras.Variable(np.array([1.0]), dtype="float64")
    plain = koz.ZooADOPT(learning_rate=0.125, beta_1=0.5, clip_exponent=None)
    for g in ([2.0], [3.0]):
        plain.apply_gradients([(_f64(g), unclipped)])
    np.testing.assert_allclose(unclipped.numpy(), [1.0 - 0.125 * 0.5 * 1.5], rtol=1e-15)


def test_qhadam_with_nu_one_is_adam_with_the_epsilon_after_the_bias_correction():
    # First step: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps) for every beta.
    variable = keras.Variable(np.array([1.0, 1.0]), dtype="float64")
    optimizer = koz.ZooQHAdam(learning_rate=0.125, nu_1=1.0, nu_2=1.0, epsilon=0.5)
    optimizer.apply_gradients([(_f64([2.0, -0.5]), variable)])
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.125 * 2.0 / 2.5, 1.0 + 0.125 * 0.5 / 1.0], rtol=1e-15)


def test_qhadam_with_nu_zero_is_rmsprop_like_sign_of_the_current_gradient():
    # nu_1 = 0: the numerator is the current gradient; nu_2 = 0: the denominator |g| + eps.
    variable = keras.Variable(np.array([0.0, 0.0]), dtype="float64")
    optimizer = koz.ZooQHAdam(learning_rate=0.125, nu_1=0.0, nu_2=0.0, epsilon=0.0)
    for g in ([3.0, -2.0], [-1.0, 4.0]):
        optimizer.apply_gradients([(_f64(g), variable)])
    np.testing.assert_allclose(variable.numpy(), [-0.125 + 0.125, 0.125 - 0.125], atol=1e-15)
