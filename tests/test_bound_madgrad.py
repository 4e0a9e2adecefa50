"""Algorithm-specific tests of AdaBound/AMSBound and MADGRAD (the table covers the rest)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from harness import run_reference


def f32(x):
    return float(np.float32(x))


def _apply(optimizer, w0, grads, learning_rates=None):
    variable = keras.Variable(np.asarray(w0, np.float64), dtype="float64")
    for t, g in enumerate(grads):
        if learning_rates is not None:
            optimizer.learning_rate = learning_rates[t]
        optimizer.apply_gradients([(tf.constant(np.asarray(g, np.float64)), variable)])
    return variable.numpy()


# --------------------------------------------------------------------------- AdaBound
def test_adabound_first_step_by_hand_adam_inside_the_bounds_clipped_outside():
    """t = 1: Adam's step size lr * sqrt(1 - b2) / (1 - b1) / (sqrt(v) + eps) unless it leaves
    [0.1 (1 - 1/1.001), 0.1 (1 + 1000)]: a huge gradient is held at the lower bound, a tiny one
    at the upper bound."""
    lr, b1, b2, eps = f32(1e-3), 0.9, 0.999, 1e-8
    g = np.array([1.0, -3.0, 1000.0, 1e-12])
    got = _apply(koz.ZooAdaBound(learning_rate=1e-3), np.zeros(4), [g])
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
    got = _apply(optimizer, w0, grads, rates)
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
    got = _apply(optimizer, w0, grads)
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


# --------------------------------------------------------------------------- MADGRAD
def test_madgrad_first_step_by_hand():
    lr, eps, momentum = f32(0.01), 1e-6, 0.9
    w0, g = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, -8.0])
    got = _apply(koz.ZooMADGRAD(learning_rate=0.01), w0, [g])
    lam = (lr + eps) * 1.0  # sqrt(k + 1), k = 0
    z = w0 - lam * g / (np.cbrt(lam * g * g) + eps)
    np.testing.assert_allclose(got, momentum * w0 + (1 - momentum) * z, rtol=1e-14)


def test_madgrad_x0_is_the_first_weights_and_momentum_zero_is_dual_averaging():
    rng = np.random.default_rng(3)
    w0, grads = rng.normal(size=(2, 3)), [rng.normal(size=(2, 3)) for _ in range(7)]
    optimizer = koz.ZooMADGRAD(learning_rate=0.05)
    variable = keras.Variable(w0, dtype="float64")
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    np.testing.assert_array_equal(optimizer.get_slot(variable, "x0").numpy(), w0)
    # momentum = 0: no x0 slot; the weights ARE the dual-averaging iterate x0 - s / (nu^(1/3) + eps).
    optimizer = koz.ZooMADGRAD(learning_rate=0.05, momentum=0.0)
    variable = keras.Variable(w0, dtype="float64")
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    assert "x0" not in optimizer._slot_names
    s = optimizer.get_slot(variable, "s").numpy()
    nu = optimizer.get_slot(variable, "sum_of_squares").numpy()
    np.testing.assert_allclose(variable.numpy(), w0 - s / (np.cbrt(nu) + 1e-6), rtol=1e-13)
    lams = (f32(0.05) + 1e-6) * np.sqrt(np.arange(1, 8))
    np.testing.assert_allclose(s, sum(l * g for l, g in zip(lams, grads)), rtol=1e-13)


def test_madgrad_learning_rate_zero_still_moves_as_the_official_code():
    """The official code adds eps to the learning rate: lambda = (0 + eps) * sqrt(k + 1)."""
    w0, g = np.array([1.0, 1.0]), np.array([1.0, -1.0])
    got = _apply(koz.ZooMADGRAD(learning_rate=0.0), w0, [g])
    eps = 1e-6
    z = w0 - eps * g / (np.cbrt(eps) + eps)
    np.testing.assert_allclose(got, 0.9 * w0 + 0.1 * z, rtol=1e-15)
    assert np.all(got != w0)


def test_madgrad_epsilon_zero_leaves_zero_gradient_coordinates_in_place():
    for momentum in (0.9, 0.0):
        got = _apply(koz.ZooMADGRAD(learning_rate=0.1, epsilon=0.0, momentum=momentum), [1.0, 1.0],
                     [np.array([2.0, 0.0])] * 3)
        assert np.all(np.isfinite(got)) and got[1] == 1.0 and got[0] < 1.0


@pytest.mark.parametrize("decouple_decay", [False, True])
def test_madgrad_weight_decay_forms_and_exclusions(decouple_decay):
    rng = np.random.default_rng(4)
    w0, grads = rng.normal(size=4), [rng.normal(size=4) for _ in range(5)]
    kwargs = {"learning_rate": 0.05, "weight_decay": 0.5, "decouple_decay": decouple_decay}
    # Two variables, one excluded from the decay: it follows the wd = 0 run exactly.
    optimizer = koz.ZooMADGRAD(**kwargs)
    decayed, excluded = (keras.Variable(w0, dtype="float64", name=n) for n in ("kernel", "bias"))
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), decayed), (tf.constant(g), excluded)])
    plain = _apply(koz.ZooMADGRAD(learning_rate=0.05), w0, grads)
    np.testing.assert_array_equal(excluded.numpy(), plain)
    variant = {k: v for k, v in kwargs.items() if k != "learning_rate"}
    (want,) = run_reference(reference.madgrad, variant, [w0], [[(g, g)] for g in grads], [f32(0.05)] * 5)
    np.testing.assert_allclose(decayed.numpy(), want, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(want - plain)) > 1e-3
    other, = run_reference(reference.madgrad, dict(variant, decouple_decay=not decouple_decay), [w0],
                           [[(g, g)] for g in grads], [f32(0.05)] * 5)
    assert np.max(np.abs(other - want)) > 1e-3  # the two forms really differ


def test_madgrad_rejects_cautious_and_unscaled_decay_with_reasons():
    with pytest.raises(ValueError, match="cautious.*ZooMADGRAD"):
        koz.ZooMADGRAD(cautious=True)
    with pytest.raises(ValueError, match="weight_decay_scaling='none'.*ZooMADGRAD"):
        koz.ZooMADGRAD(weight_decay=0.1, weight_decay_scaling="none")
    assert "cautious" not in koz.ZooMADGRAD().get_config()
