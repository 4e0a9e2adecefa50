"""Algorithm-specific tests of MADGRAD (momentumized dual averaging)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from harness import f32, run_reference, run_steps


# --------------------------------------------------------------------------- MADGRAD
def test_madgrad_first_step_by_hand():
    lr, eps, momentum = f32(0.01), 1e-6, 0.9
    w0, g = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, -8.0])
    got = run_steps(koz.ZooMADGRAD(learning_rate=0.01), w0, [g])
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
    got = run_steps(koz.ZooMADGRAD(learning_rate=0.0), w0, [g])
    eps = 1e-6
    z = w0 - eps * g / (np.cbrt(eps) + eps)
    np.testing.assert_allclose(got, 0.9 * w0 + 0.1 * z, rtol=1e-15)
    assert np.all(got != w0)


def test_madgrad_epsilon_zero_leaves_zero_gradient_coordinates_in_place():
    for momentum in (0.9, 0.0):
        got = run_steps(koz.ZooMADGRAD(learning_rate=0.1, epsilon=0.0, momentum=momentum), [1.0, 1.0],
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
    plain = run_steps(koz.ZooMADGRAD(learning_rate=0.05), w0, grads)
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
