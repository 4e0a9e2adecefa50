"""Algorithm-specific tests of the Adam relatives whose update adds or changes one term: ADOPT,
QHAdam, Adan, AdEMAMix and AdaBound/AMSBound (the table-driven checks are in test_conformance)."""

import math

import keras
import numpy as np
import tensorflow as tf
import pytest

import keras_optim_zoo as koz
import reference
from harness import f32, run_reference, run_steps


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


def _step(optimizer, variable, gradient):
    optimizer.apply_gradients([(keras.ops.convert_to_tensor(np.asarray(gradient, "float64")), variable)])
    return variable.numpy()


def test_adan_first_step_is_a_normalized_gradient_step():
    """t = 1: the difference is 0, so u = g / (|g| + eps) (every bias correction cancels)."""
    w = keras.Variable(np.array([1.0, -2.0, 0.5]), dtype="float64")
    g = np.array([0.3, -4.0, 1e-9])
    got = _step(koz.ZooAdan(learning_rate=0.125), w, g)  # a rate exact in float32 (Keras keeps it so)
    want = np.array([1.0, -2.0, 0.5]) - 0.125 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_adan_second_step_uses_the_gradient_difference():
    """t = 2 by hand, with the official betas: the difference g2 - g1 enters v and n."""
    b1, b2, b3, lr = 0.98, 0.92, 0.99, 0.125
    g1, g2 = 1.0, 3.0
    w = keras.Variable(np.array([0.0]), dtype="float64")
    optimizer = koz.ZooAdan(learning_rate=lr)
    _step(optimizer, w, [g1])
    got = _step(optimizer, w, [g2])[0]
    w1 = -lr * g1 / (abs(g1) + 1e-8)
    d = g2 - g1
    m = (1 - b1) * (b1 * g1 + g2)
    v = (1 - b2) * d
    n = (1 - b3) * (b3 * g1**2 + (g2 + b2 * d) ** 2)
    u = (m / (1 - b1**2) + b2 * v / (1 - b2**2)) / (math.sqrt(n / (1 - b3**2)) + 1e-8)
    assert got == pytest.approx(w1 - lr * u, rel=1e-14)
    assert optimizer.get_slot(w, "previous_gradient").numpy()[0] == g2


@pytest.mark.parametrize("scaling, factor", [("learning_rate", 1 + 0.5 * 0.2), ("none", 1 + 0.2)])
def test_adan_proximal_decay_divides(scaling, factor):
    """A zero gradient moves nothing but the decay: w / (1 + lr wd) (proximal), as the official code."""
    w = keras.Variable(np.array([2.0, -1.0]), dtype="float64")
    optimizer = koz.ZooAdan(learning_rate=0.5, weight_decay=0.2, weight_decay_scaling=scaling)
    np.testing.assert_allclose(_step(optimizer, w, [0.0, 0.0]), np.array([2.0, -1.0]) / factor, rtol=1e-15)
    no_prox = keras.Variable(np.array([2.0, -1.0]), dtype="float64")
    optimizer = koz.ZooAdan(learning_rate=0.5, weight_decay=0.2, weight_decay_scaling=scaling, no_prox=True)
    np.testing.assert_allclose(_step(optimizer, no_prox, [0.0, 0.0]), np.array([2.0, -1.0]) * (2 - factor), rtol=1e-15)


def test_adan_excluded_variables_do_not_decay():
    keep, decay = (keras.Variable(np.array([2.0]), dtype="float64", name=n) for n in ("bias", "kernel"))
    optimizer = koz.ZooAdan(learning_rate=0.5, weight_decay=0.2)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply_gradients([(keras.ops.zeros((1,), "float64"), keep), (keras.ops.zeros((1,), "float64"), decay)])
    assert keep.numpy()[0] == 2.0
    assert decay.numpy()[0] == pytest.approx(2.0 / 1.1, rel=1e-15)


def test_ademamix_beta_3_warmup_moves_the_half_life_linearly_from_beta_1():
    """beta_3(t) starts at beta_1 (t -> 0), reaches beta_3 at t = T; its half-life is linear in t."""
    optimizer = koz.ZooAdEMAMix(beta_3_warmup=100, beta_3=0.9999)
    betas = [float(optimizer._beta_3(keras.ops.convert_to_tensor(float(t), "float64"))) for t in (0, 50, 99, 100, 500)]
    assert betas[0] == pytest.approx(0.9 + 1e-8, rel=1e-12)
    assert betas[3] == betas[4] == 0.9999
    def f(beta):
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    for t, beta in zip((50, 99), betas[1:3]):
        assert beta == pytest.approx(0.5 ** (1 / ((1 - t / 100) * f(0.9) + t / 100 * f(0.9999) + 1)), rel=1e-14)
    assert betas[0] < betas[1] < betas[2] < betas[3]


def test_ademamix_alpha_warmup_and_slow_average_by_hand():
    """Two steps by hand with alpha warming up over 4 steps (alpha(t) = alpha t / 4)."""
    b1, b2, b3, alpha, lr = 0.9, 0.999, 0.9999, 8.0, 2.0**-7
    w = keras.Variable(np.array([0.0]), dtype="float64")
    optimizer = koz.ZooAdEMAMix(learning_rate=lr, alpha=alpha, alpha_warmup=4)
    g = [2.0, -1.0]
    m1 = m2 = v = 0.0
    want = 0.0
    for t, gt in enumerate(g, start=1):
        got = _step(optimizer, w, [gt])[0]
        m1, m2, v = b1 * m1 + (1 - b1) * gt, b3 * m2 + (1 - b3) * gt, b2 * v + (1 - b2) * gt * gt
        want -= lr * (m1 / (1 - b1**t) + alpha * t / 4 * m2) / (math.sqrt(v) / math.sqrt(1 - b2**t) + 1e-8)
        assert got == pytest.approx(want, rel=1e-13)


# --------------------------------------------------------------------------- AdaBound
def test_adabound_first_step_by_hand_adam_inside_the_bounds_clipped_outside():
    """t = 1: Adam's step size lr * sqrt(1 - b2) / (1 - b1) / (sqrt(v) + eps) unless it leaves
    [0.1 (1 - 1/1.001), 0.1 (1 + 1000)]: a huge gradient is held at the lower bound, a tiny one
    at the upper bound."""
    lr, b1, b2, eps = f32(1e-3), 0.9, 0.999, 1e-8
    g = np.array([1.0, -3.0, 1000.0, 1e-12])
    got = run_steps(koz.ZooAdaBound(learning_rate=1e-3), np.zeros(4), [g])
    alpha = lr * np.sqrt(1 - b2) / (1 - b1)
    m, v = (1 - b1) * g, (1 - b2) * g * g
    eta = alpha / (np.sqrt(v) + eps)
    lower, upper = 0.1 * (1 - 1 / (1e-3 + 1)), 0.1 * (1 + 1 / 1e-3)
    assert eta[2] < lower and eta[3] > upper and lower < eta[0] < upper and lower < eta[1] < upper
    want = -np.array([eta[0], eta[1], lower, upper]) * m
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # Inside the bounds the step is Adam's (with epsilon 1e-8): about lr * sign(g).
    np.testing.assert_allclose(got[:2], [-lr, lr], rtol=1e-4)


def test_adabound_becomes_sgd_with_momentum_at_final_lr():
    """Late in training (gamma t >> 1) both bounds pinch final_lr: w <- w - final_lr * m."""
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=5) for _ in range(400)]
    optimizer = koz.ZooAdaBound(learning_rate=1e-3, final_lr=0.05, gamma=0.5)
    variable = keras.Variable(np.zeros(5), dtype="float64")
    for g in grads[:-1]:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    before = variable.numpy()
    optimizer.apply_gradients([(tf.constant(grads[-1]), variable)])
    m = optimizer.get_slot(variable, "momentum").numpy()
    t = 400
    lower, upper = 0.05 * (1 - 1 / (0.5 * t + 1)), 0.05 * (1 + 1 / (0.5 * t))
    step = (before - variable.numpy()) / m
    assert np.all(step >= lower * (1 - 1e-12)) and np.all(step <= upper * (1 + 1e-12))
    np.testing.assert_allclose(step, 0.05, rtol=6e-3)


def test_adabound_final_lr_follows_an_assigned_learning_rate():
    """ReduceLROnPlateau-style assignment: the bounds scale by lr / base_learning_rate (official
    ``final_lr * lr / base_lr``), base_learning_rate being the initial rate."""
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(12)]
    rates = [0.01] * 4 + [0.0025] * 4 + [0.04] * 4
    variant = {"final_lr": 0.02, "gamma": 0.5}
    optimizer = koz.ZooAdaBound(learning_rate=0.01, **variant)
    assert optimizer.base_learning_rate == f32(0.01)
    got = run_steps(optimizer, w0, grads, rates)
    (want,) = run_reference(reference.adabound, variant, [w0], [[(g, g)] for g in grads], [f32(r) for r in rates])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # Not scaling would be a different trajectory (the bounds bind with gamma 0.5).
    unscaled, = run_reference(
        reference.adabound, dict(variant, base_learning_rate=1.0), [w0], [[(g, g)] for g in grads],
        [f32(r) for r in rates],
    )
    assert np.max(np.abs(unscaled - want)) > 1e-3


def test_adabound_base_learning_rate_of_a_schedule_and_in_the_config():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.02, 5, 0.5)
    optimizer = koz.ZooAdaBound(learning_rate=schedule)
    assert optimizer.base_learning_rate == f32(0.02) == float(schedule(0))
    # The resolved value is in the config: a reloaded optimizer keeps the original reference even
    # after the learning rate was lowered.
    plain = koz.ZooAdaBound(learning_rate=0.01)
    plain.learning_rate = 0.001
    config = plain.get_config()
    assert config["base_learning_rate"] == f32(0.01) and config["learning_rate"] == f32(0.001)
    rebuilt = koz.ZooAdaBound.from_config(config)
    assert rebuilt.base_learning_rate == f32(0.01) and rebuilt.get_config() == config
    assert koz.ZooAdaBound(base_learning_rate=0.5).get_config()["base_learning_rate"] == 0.5


def test_adabound_warmup_from_zero_uses_final_lr_unscaled():
    """A schedule starting at 0 has no ratio: final_lr applies as given (docstring)."""
    schedule = keras.optimizers.schedules.PolynomialDecay(0.0, 10, end_learning_rate=0.01)
    rng = np.random.default_rng(2)
    w0, grads = rng.normal(size=6), [rng.normal(size=6) for _ in range(6)]
    optimizer = koz.ZooAdaBound(learning_rate=schedule, gamma=0.5)
    assert optimizer.base_learning_rate == 0.0
    got = run_steps(optimizer, w0, grads)
    rates = [float(schedule(t)) for t in range(6)]
    (want,) = run_reference(reference.adabound, {"gamma": 0.5}, [w0], [[(g, g)] for g in grads], rates)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(got - w0)) > 1e-3


def test_amsbound_keeps_the_running_maximum_of_v():
    grads = [np.array([4.0, 1.0]), np.array([0.1, 1.0]), np.array([0.1, 1.0])]
    optimizer = koz.ZooAdaBound(learning_rate=0.01, amsbound=True, beta_2=0.5)
    variable = keras.Variable(np.zeros(2), dtype="float64")
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    v = optimizer.get_slot(variable, "velocity").numpy()
    v_hat = optimizer.get_slot(variable, "velocity_hat").numpy()
    np.testing.assert_allclose(v_hat, [8.0, 0.875], rtol=1e-15)  # max(v_1, v_2, v_3) = v_1, v_3
    assert v[0] < v_hat[0]
