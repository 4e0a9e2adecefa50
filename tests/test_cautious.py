"""``cautious=True`` (Liang, Chen, Liu & Liu 2024, arXiv:2411.16085): the mask on hand-made numbers,
where it is offered, its config, the lazy sparse mean, and the fused path.

Every table row of a cautious-capable optimizer has a ``{"cautious": True, ...}`` variant checked
against its NumPy reference (``tests/reference/_cautious.py``) by ``test_conformance.py``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import TEST_FUSE_MIN_SIZE
from keras_optim_zoo.moments import cautious
from reference._cautious import caution

# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.

CAPABLE = [koz.ZooAdam, koz.ZooAdamW, koz.ZooAdamax, koz.ZooNadam, koz.ZooRAdam, koz.ZooAdaBelief, koz.ZooYogi,
           koz.ZooLamb, koz.ZooLazyAdam, koz.ZooLion, koz.ZooAdaBound]


def _f64(x):
    return tf.constant(np.asarray(x, np.float64))


# --------------------------------------------------------------------------- the mask itself
def test_mask_keeps_agreeing_components_and_rescales_by_the_kept_fraction():
    u = [0.3, -0.2, 0.1, 0.4, -0.5, 0.0]
    g = [1.0, 2.0, 3.0, 0.0, -1.0, 1.0]  # agree, disagree, agree, g = 0, agree, u = 0
    # kept: 0, 2, 4 -> mean 1/2 -> scale 2
    want = [0.6, 0.0, 0.2, 0.0, -1.0, 0.0]
    np.testing.assert_array_equal(cautious(_f64(u), _f64(g)).numpy(), want)
    np.testing.assert_array_equal(caution(np.array(u), np.array(g)), want)


def test_mask_scale_is_floored_and_an_all_disagreeing_step_is_zero():
    u = np.zeros(2000)
    u[0] = 0.5
    g = np.ones(2000)
    # 1 of 2000 kept: mean 5e-4 < 1e-3, so the scale is 1000, not 2000.
    np.testing.assert_array_equal(cautious(_f64(u), _f64(g)).numpy()[:2], [500.0, 0.0])
    out = cautious(_f64([1.0, -1.0]), _f64([-1.0, 1.0])).numpy()
    np.testing.assert_array_equal(out, [0.0, 0.0])  # no NaN


def test_mask_mean_over_a_whole_variable_given_its_size():
    """Lazy sparse updates pass the touched rows and the variable's size."""
    u, g = _f64([[0.1, -0.1]]), _f64([[1.0, 1.0]])
    # one kept out of 8 elements (4 rows x 2), not out of the 2 given
    np.testing.assert_allclose(cautious(u, g, size=8).numpy(), [[0.8, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(caution(np.array([[0.1, -0.1]]), np.ones((1, 2)), size=8), [[0.8, 0.0]], rtol=1e-15)


def test_lion_second_step_by_hand():
    """Step 1 agrees everywhere (m = 0, c = 0.1 g); step 2 with beta_1 = 0.9, beta_2 = 0.99:
    m = 0.01 g1, c = 0.9 m + 0.1 g2 = [0.008, -0.041, 0.209, 0.009]; u = 0.25 sign(c);
    u * g2 > 0 only for components 1 and 2 -> mean 1/2 -> those move by 0.5."""
    variable = keras.Variable(np.ones(4), dtype="float64")
    optimizer = koz.ZooLion(learning_rate=0.25, cautious=True, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.apply_gradients([(_f64([1.0, 1.0, 1.0, 1.0]), variable)])
    np.testing.assert_array_equal(variable.numpy(), [0.75] * 4)
    optimizer.apply_gradients([(_f64([-0.01, -0.5, 2.0, 0.0]), variable)])
    np.testing.assert_array_equal(variable.numpy(), [0.75, 1.25, 0.25, 0.75])


def test_lazy_adam_mask_mean_counts_untouched_rows():
    """First LazyAdam step on row 1 of a (4, 2) table: both touched elements agree with g; the
    mean is 2/8 (not 2/2), so the step is 4 times Adam's."""
    lr, b1, b2, eps = float(np.float32(0.01)), 0.9, 0.999, 1e-7
    g_row = np.array([0.5, -2.0])
    table = keras.Variable(np.zeros((4, 2)), dtype="float64")
    optimizer = koz.ZooLazyAdam(learning_rate=0.01, cautious=True, fuse_min_size=TEST_FUSE_MIN_SIZE)
    grad = tf.IndexedSlices(_f64([g_row]), tf.constant([1], tf.int64), tf.constant([4, 2], tf.int64))
    optimizer.apply_gradients([(grad, table)])
    alpha = lr * np.sqrt(1 - b2) / (1 - b1)
    step = alpha * (1 - b1) * g_row / (np.sqrt((1 - b2) * g_row**2) + eps)
    want = np.zeros((4, 2))
    want[1] = -4.0 * step
    np.testing.assert_allclose(table.numpy(), want, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- where it is offered
@pytest.mark.parametrize("cls", CAPABLE + [koz.ZooRanger])
def test_cautious_config_round_trip(cls):
    optimizer = cls(cautious=True, fuse_min_size=TEST_FUSE_MIN_SIZE)
    config = optimizer.get_config()
    assert config["cautious"] is True
    rebuilt = cls.from_config(config)
    assert rebuilt.cautious is True and rebuilt.get_config() == config
    assert cls(fuse_min_size=TEST_FUSE_MIN_SIZE).get_config()["cautious"] is False


@pytest.mark.parametrize("name", ["zoo_sgd", "zoo_rmsprop", "zoo_adagrad", "zoo_novograd", "zoo_madgrad"])
def test_cautious_is_rejected_where_the_step_is_not_a_momentum_step(name):
    cls = koz.optimizer_class(name)
    with pytest.raises(ValueError, match=rf"`cautious=True` is not available for {cls.__name__}"):
        cls(cautious=True, fuse_min_size=TEST_FUSE_MIN_SIZE)
    assert "cautious" not in cls(fuse_min_size=TEST_FUSE_MIN_SIZE).get_config()
    cls(cautious=False, fuse_min_size=TEST_FUSE_MIN_SIZE)  # accepted: the default


def test_cautious_must_be_a_bool():
    with pytest.raises(TypeError, match="cautious"):
        koz.ZooAdam(cautious="yes", fuse_min_size=TEST_FUSE_MIN_SIZE)


# --------------------------------------------------------------------------- the fused path
BIG = (48, 32)  # 1536 elements >= TEST_FUSE_MIN_SIZE


@pytest.mark.parametrize(
    "cls, kwargs",
    [(koz.ZooAdamW, {"weight_decay": 0.0625}), (koz.ZooLion, {}), (koz.ZooAdaBound, {"gamma": 0.1, "final_lr": 0.02})],
    ids=["adamw", "lion", "adabound"],
)
def test_fused_equals_readable_float64(cls, kwargs):
    assert int(np.prod(BIG)) >= TEST_FUSE_MIN_SIZE
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=BIG), [rng.normal(size=BIG) for _ in range(4)]

    def run(fused, cautious, compiled=False):
        variable = keras.Variable(w0, dtype="float64")
        optimizer = cls(learning_rate=0.01, fused=fused, cautious=cautious, **kwargs, fuse_min_size=TEST_FUSE_MIN_SIZE)
        optimizer.build([variable])

        def apply(g):
            optimizer.apply_gradients([(g, variable)])

        step = tf.function(apply) if compiled else apply
        for g in grads:
            step(tf.constant(g))
        return variable.numpy(), optimizer

    fused, optimizer = run(True, True)
    assert optimizer._group_step is not None  # the fused kernel ran
    readable, _ = run(False, True)
    np.testing.assert_allclose(fused, readable, rtol=1e-13, atol=1e-15)
    grouped, _ = run(True, True, compiled=True)  # one XLA launch per step inside tf.function
    np.testing.assert_allclose(grouped, readable, rtol=1e-13, atol=1e-15)
    plain, _ = run(False, False)
    assert np.max(np.abs(plain - readable)) > 1e-3  # the mask really changed the steps
