"""Keras 2 style arguments (``lr=``, ``decay=``, ``epsilon=None``) behave exactly as Keras 2 did.

The reference is the real Keras 2 code: ``tf_keras.optimizers.legacy`` (package ``tf-keras``).
Keras 2 keeps hyper-parameters in float32 variables and uses TensorFlow's fused kernels (Adagrad's
puts epsilon outside the square root), so the comparison is at float32 precision: rtol 1e-5.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from optimizer_table import ROWS

tf_keras = pytest.importorskip("tf_keras")

LEGACY_ROWS = [pytest.param(row, id=row.name) for row in ROWS if row.legacy]


def _run(optimizer, initial, grads, make_variable):
    variable = make_variable(initial)
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    return np.asarray(variable.numpy())


def _stream(seed, steps=30, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype("float32"), [rng.normal(size=shape).astype("float32") for _ in range(steps)]


@pytest.mark.parametrize("row", LEGACY_ROWS)
def test_lr_decay_and_epsilon_none_match_keras2(row):
    legacy_name, kwargs = row.legacy
    initial, grads = _stream(0)
    lr = 20.0 if row.name == "zoo_adadelta" else 0.05
    # tf.keras 2's Nadam takes no `decay` (its `decay` slot holds the momentum schedule).
    decay = {} if row.name == "zoo_nadam" else {"decay": 0.2}
    eps = {} if row.name == "zoo_sgd" else {"epsilon": None}
    legacy = getattr(tf_keras.optimizers.legacy, legacy_name)(lr=lr, **decay, **eps, **kwargs)
    with pytest.warns(DeprecationWarning) as record:
        zoo = row.cls(lr=lr, **decay, **eps, **kwargs)
    messages = " ".join(str(w.message) for w in record)
    assert "`lr` is deprecated" in messages
    if decay:
        assert "`decay` is deprecated" in messages and zoo.decay == 0.2
    if eps:
        assert "epsilon=None" in messages and zoo.epsilon == 1e-7
    want = _run(legacy, initial, grads, tf.Variable)
    got = _run(zoo, initial, grads, keras.Variable)
    assert np.max(np.abs(want - initial)) > 1e-2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if decay:
        # Without the decay the result is far away: the check above really checks the decay.
        plain = _run(row.cls(learning_rate=lr, **kwargs), initial, grads, keras.Variable)
        assert np.max(np.abs(plain - want)) > 1e-3


def test_decay_composes_with_a_schedule_as_in_keras2():
    initial, grads = _stream(1)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 4, 0.5)
    legacy_schedule = tf_keras.optimizers.schedules.ExponentialDecay(0.05, 4, 0.5)
    legacy = tf_keras.optimizers.legacy.Adam(learning_rate=legacy_schedule, decay=0.3)
    with pytest.warns(DeprecationWarning):
        zoo = koz.ZooAdam(learning_rate=schedule, decay=0.3)
    np.testing.assert_allclose(
        _run(zoo, initial, grads, keras.Variable), _run(legacy, initial, grads, tf.Variable), rtol=1e-5, atol=1e-6
    )


def test_decay_composes_with_keras3_base_options():
    """``decay`` + ``clipnorm`` + ``weight_decay`` equals Keras 3 with the same decay as a schedule."""
    initial, grads = _stream(2)
    with pytest.warns(DeprecationWarning):
        zoo = koz.ZooAdam(lr=0.1, decay=0.5, clipnorm=0.5, weight_decay=0.01)
    keras3 = keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.1, 1, 0.5), clipnorm=0.5, weight_decay=0.01
    )
    np.testing.assert_allclose(
        _run(zoo, initial, grads, keras.Variable), _run(keras3, initial, grads, keras.Variable), rtol=1e-6, atol=1e-7
    )


def test_learning_rate_reports_the_base_value_and_stays_assignable():
    with pytest.warns(DeprecationWarning):
        optimizer = koz.ZooSGD(lr=0.1, decay=1.0)
    variable = keras.Variable(np.ones(2, "float32"))
    for _ in range(3):
        optimizer.apply_gradients([(tf.ones(2), variable)])
    # Keras 2: optimizer.lr was the base value; the decayed one applied to each step.
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert float(optimizer.current_learning_rate) == pytest.approx(0.1 / (1 + 3))
    np.testing.assert_allclose(variable.numpy(), 1 - 0.1 * (1 + 1 / 2 + 1 / 3), rtol=1e-6)
    optimizer.learning_rate = 0.5  # what ReduceLROnPlateau does
    assert float(optimizer.learning_rate) == pytest.approx(0.5)


def test_no_warning_without_keras2_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        koz.ZooAdam(learning_rate=0.01, epsilon=1e-8)


def test_lr_and_learning_rate_together_is_an_error():
    with pytest.raises(TypeError, match="both `lr` and `learning_rate`"):
        koz.ZooAdam(learning_rate=0.1, lr=0.2)


def test_unknown_argument_names_it_and_lists_the_valid_ones():
    with pytest.raises(TypeError) as info:
        koz.ZooRMSprop(learning_rate=0.1, momentun=0.9)
    message = str(info.value)
    assert "'momentun'" in message and "momentum" in message and "clipnorm" in message


def test_decay_round_trips_through_config():
    with pytest.warns(DeprecationWarning):
        optimizer = koz.ZooAdagrad(lr=0.1, decay=0.01)
    config = optimizer.get_config()
    assert config["decay"] == 0.01 and config["learning_rate"] == pytest.approx(0.1)
    with pytest.warns(DeprecationWarning):
        assert koz.ZooAdagrad.from_config(config).get_config() == config
    assert "decay" not in koz.ZooAdagrad().get_config()


def test_keras2_reference_is_really_keras2():
    """Guard: the tf_keras legacy optimizer really applies `decay` (else the checks above are empty)."""
    variable = tf.Variable([1.0])
    optimizer = tf_keras.optimizers.legacy.SGD(lr=1.0, decay=1.0)
    for _ in range(2):
        optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    np.testing.assert_allclose(variable.numpy(), [1.0 - 1.0 - 0.5])
