"""Algorithm-specific tests of SGDW (SGD with decoupled weight decay, TFA's default scaling)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import apply_steps


# --------------------------------------------------------------------------- SGDW
def test_sgdw_default_decay_is_the_raw_coefficient_as_in_tfa_and_the_paper():
    """weight_decay_scaling="none" (default): with zero gradients w_t = (1 - wd)^t w_0 whatever
    the learning rate; "learning_rate": (1 - lr * wd)^t w_0."""
    w0 = np.array([1.0, -2.0, 4.0])
    zeros = [np.zeros(3)] * 10
    for lr in (0.5, 0.001):
        got = apply_steps(koz.ZooSGDW(learning_rate=lr, weight_decay=0.125, momentum=0.9),
                     keras.Variable(w0, dtype="float64"), zeros)
        np.testing.assert_allclose(got, 0.875**10 * w0, rtol=1e-14)
    got = apply_steps(
        koz.ZooSGDW(learning_rate=0.5, weight_decay=0.125, momentum=0.9, weight_decay_scaling="learning_rate"),
        keras.Variable(w0, dtype="float64"), zeros,
    )
    np.testing.assert_allclose(got, (1 - 0.0625) ** 10 * w0, rtol=1e-14)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgdw_with_learning_rate_scaling_equals_keras_sgd_with_weight_decay(momentum, nesterov):
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    grads = [[rng.normal(size=w.shape).astype("float32") for w in initial] for _ in range(20)]
    kwargs = dict(learning_rate=0.05, weight_decay=0.01, momentum=momentum, nesterov=nesterov)
    results = []
    for optimizer in (koz.ZooSGDW(weight_decay_scaling="learning_rate", **kwargs), keras.optimizers.SGD(**kwargs)):
        variables = [keras.Variable(w) for w in initial]
        for g in grads:
            optimizer.apply_gradients(zip([tf.constant(x) for x in g], variables))
        results.append([v.numpy() for v in variables])
    for zoo, builtin in zip(*results):
        np.testing.assert_array_equal(zoo, builtin)


def test_sgdw_decoupled_decay_differs_from_l2_only_through_the_momentum():
    """Without momentum, lr-scaled decoupled decay is L2 regularization (w - lr (g + wd w)); with
    momentum, L2's wd * w accumulates in the velocity and decays much more."""
    rng = np.random.default_rng(8)
    w0 = rng.normal(size=(5,))
    grads = [rng.normal(size=(5,)) for _ in range(30)]
    wd, lr = 0.5, 0.125

    def l2(momentum):
        w, m = w0.copy(), np.zeros(5)
        for g in grads:
            m = momentum * m - lr * (g + wd * w)
            w = w + m
        return w

    def sgdw(momentum):
        optimizer = koz.ZooSGDW(learning_rate=lr, weight_decay=wd, momentum=momentum,
                                weight_decay_scaling="learning_rate")
        return apply_steps(optimizer, keras.Variable(w0, dtype="float64"), grads)

    np.testing.assert_allclose(sgdw(0.0), l2(0.0), rtol=1e-12)
    decoupled, coupled = sgdw(0.9), l2(0.9)
    assert np.max(np.abs(decoupled - coupled)) > 0.1
    # Zero gradients isolate the decay: decoupled shrinks by (1 - lr wd) per step, L2 with momentum
    # by up to ~(1 - lr wd / (1 - momentum)) per step once the velocity has built up.
    grads, wd = [np.zeros(5)] * 30, 0.0625  # exact in float32, as Keras's decay step needs
    np.testing.assert_allclose(sgdw(0.9), (1 - 0.125 * 0.0625) ** 30 * w0, rtol=1e-13)  # 0.79 w0
    assert np.max(np.abs(l2(0.9) / w0)) < 0.15


def test_sgdw_requires_a_weight_decay():
    with pytest.raises(TypeError, match="ZooSGD"):
        koz.ZooSGDW(weight_decay=None)
    config = koz.ZooSGDW().get_config()
    assert config["weight_decay"] == 1e-4 and config["weight_decay_scaling"] == "none"
