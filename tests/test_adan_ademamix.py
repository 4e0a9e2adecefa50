"""Adan and AdEMAMix by hand: the first steps and the schedules, beyond the table's parity runs."""

import math

import keras
import numpy as np
import pytest

import keras_optim_zoo as koz


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
