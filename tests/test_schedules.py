"""Cyclical learning rates: values against hand-computed formula values and TensorFlow Addons'
documented examples, serialization, and use as a zoo optimizer's learning rate in fit."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import keras_optim_zoo as koz
from keras_optim_zoo.schedules import (
    CyclicalLearningRate,
    ExponentialCyclicalLearningRate,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
)


def _values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def _formula(initial, maximal, step_size, scale_fn, scale_mode, steps):
    """The published formula (Smith 2017, section 3.1; TFA), in float64 NumPy."""
    s = np.asarray(steps, dtype=np.float64)
    cycle = np.floor(1 + s / (2 * step_size))
    x = np.abs(s / step_size - 2 * cycle + 1)
    return initial + (maximal - initial) * np.maximum(0, 1 - x) * scale_fn(cycle if scale_mode == "cycle" else s)


@keras.saving.register_keras_serializable(package="test_schedules")
def decay_per_cycle(x):
    return 1.0 / (5.0 ** (x * 0.0001))


# --------------------------------------------------------------------------- hand-computed values
def test_triangular_by_hand():
    """(0.1, 1.0, step_size=40): 0.1 at the start of each cycle, 1.0 mid-cycle, linear between."""
    schedule = TriangularCyclicalLearningRate(0.1, 1.0, step_size=40)
    by_hand = {0: 0.1, 10: 0.325, 20: 0.55, 40: 1.0, 60: 0.55, 79: 0.1225, 80: 0.1, 100: 0.55, 120: 1.0}
    np.testing.assert_allclose(_values(schedule, by_hand), list(by_hand.values()), rtol=1e-6)


def test_triangular2_by_hand():
    """(0.1, 1.0, step_size=30): the amplitude halves every cycle (peaks 1.0, 0.55, 0.325)."""
    schedule = Triangular2CyclicalLearningRate(0.1, 1.0, step_size=30)
    by_hand = {0: 0.1, 15: 0.55, 30: 1.0, 60: 0.1, 90: 0.55, 105: 0.325, 150: 0.325, 180: 0.1}
    np.testing.assert_allclose(_values(schedule, by_hand), list(by_hand.values()), rtol=1e-6)


def test_exponential_by_hand():
    """TFA's default scale_mode="iterations": the amplitude at step s is scaled by gamma**s."""
    schedule = ExponentialCyclicalLearningRate(0.1, 1.0, step_size=2000, gamma=0.996)
    by_hand = {
        0: 0.1,
        1000: 0.1 + 0.9 * 0.5 * 0.996**1000,
        2000: 0.1 + 0.9 * 0.996**2000,
        3000: 0.1 + 0.9 * 0.5 * 0.996**3000,
        4000: 0.1,
    }
    np.testing.assert_allclose(_values(schedule, by_hand), list(by_hand.values()), rtol=2e-6)
    per_cycle = ExponentialCyclicalLearningRate(0.1, 1.0, step_size=2000, scale_mode="cycle", gamma=0.5)
    by_hand = {2000: 0.1 + 0.9 * 0.5, 3000: 0.1 + 0.9 * 0.5 * 0.5, 6000: 0.1 + 0.9 * 0.25}
    np.testing.assert_allclose(_values(per_cycle, by_hand), list(by_hand.values()), rtol=1e-6)


def test_custom_scale_fn_by_hand():
    """scale_fn(x) = 1 / (1 + x) per cycle: peaks 0.5 (cycle 1), 1/3 (cycle 2) of the amplitude."""

    def shrink(x):
        return 1.0 / (1.0 + x)

    schedule = CyclicalLearningRate(0.0, 3.0, step_size=10, scale_fn=shrink)
    np.testing.assert_allclose(_values(schedule, [10, 30, 25]), [1.5, 1.0, 0.5], rtol=1e-6)
    per_step = CyclicalLearningRate(0.0, 3.0, step_size=10, scale_fn=shrink, scale_mode="iterations")
    np.testing.assert_allclose(_values(per_step, [10, 30]), [3.0 / 11.0, 3.0 / 31.0], rtol=1e-6)


# --------------------------------------------------------------------------- TFA's documented examples
def test_tfa_examples_triangular_and_triangular2():
    """TFA's tests: linear ramps between the bounds, the second triangle2 cycle peaking midway."""
    tri = TriangularCyclicalLearningRate(0.1, 1.0, step_size=40)
    expected = np.concatenate([np.linspace(0.1, 1.0, 41), np.linspace(1.0, 0.1, 41)[1:]])
    np.testing.assert_allclose(_values(tri, range(81)), expected, rtol=1e-6)
    tri2 = Triangular2CyclicalLearningRate(0.1, 1.0, step_size=30)
    middle = (1.0 + 0.1) / 2
    expected = np.concatenate(
        [
            np.linspace(0.1, 1.0, 31),
            np.linspace(1.0, 0.1, 31)[1:],
            np.linspace(0.1, middle, 31)[1:],
            np.linspace(middle, 0.1, 31)[1:],
        ]
    )
    np.testing.assert_allclose(_values(tri2, range(121)), expected, rtol=1e-6)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_every_mode_matches_the_formula_on_many_steps(scale_mode):
    """All classes, vectorised over 0..8000 (TFA's custom-scale example among them)."""
    steps = np.arange(0, 8001)
    cases = [
        (TriangularCyclicalLearningRate(0.1, 1.0, 400, scale_mode=scale_mode), lambda x: np.ones_like(x)),
        (Triangular2CyclicalLearningRate(0.1, 1.0, 400, scale_mode=scale_mode), lambda x: 1 / 2.0 ** (x - 1)),
        # float32 like TFA: gamma is rounded to float32 (a 4e-8 error, times s up to 8000 in gamma**s).
        (ExponentialCyclicalLearningRate(0.1, 1.0, 2000, scale_mode=scale_mode, gamma=0.9996),
         lambda x: float(np.float32(0.9996)) ** x),
        (CyclicalLearningRate(0.1, 1.0, 4000, decay_per_cycle, scale_mode=scale_mode), decay_per_cycle),
    ]
    for schedule, numpy_scale in cases:
        got = np.asarray(schedule(steps))
        with np.errstate(over="ignore"):  # 2.0 ** (s - 1) in iterations mode: the scale is 0
            want = _formula(0.1, 1.0, schedule.step_size, numpy_scale, scale_mode, steps)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=type(schedule).__name__)


# --------------------------------------------------------------------------- serialization
SCHEDULES = {
    "triangular": lambda: TriangularCyclicalLearningRate(1e-3, 1e-2, step_size=7, name="tri"),
    "triangular2": lambda: Triangular2CyclicalLearningRate(1e-3, 1e-2, step_size=5, scale_mode="iterations"),
    "exponential": lambda: ExponentialCyclicalLearningRate(1e-3, 1e-2, step_size=3, gamma=0.97),
    "custom": lambda: CyclicalLearningRate(1e-3, 1e-2, step_size=4, scale_fn=decay_per_cycle, scale_mode="cycle"),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_config_round_trip(name):
    schedule = SCHEDULES[name]()
    config = schedule.get_config()
    json.dumps(config)
    rebuilt = type(schedule).from_config(config)
    assert rebuilt.get_config() == config
    again = keras.optimizers.schedules.deserialize(
        json.loads(json.dumps(keras.optimizers.schedules.serialize(schedule)))
    )
    assert type(again) is type(schedule) and again.get_config() == config
    steps = np.arange(30)
    np.testing.assert_array_equal(np.asarray(again(steps)), np.asarray(schedule(steps)))
    # Inside a zoo optimizer's config too.
    optimizer = koz.ZooAdam(learning_rate=schedule)
    restored = keras.optimizers.deserialize(json.loads(json.dumps(keras.optimizers.serialize(optimizer))))
    assert type(restored._learning_rate) is type(schedule)
    assert restored.get_config() == optimizer.get_config()


def test_unserializable_scale_fn_is_a_clear_error():
    schedule = CyclicalLearningRate(0.1, 1.0, step_size=10, scale_fn=lambda x: 1.0)
    assert float(schedule(5)) == pytest.approx(0.55)  # usable, only not serializable
    with pytest.raises(ValueError, match="register_keras_serializable"):
        schedule.get_config()

    def local(x):
        return x

    with pytest.raises(ValueError, match="cannot serialize scale_fn"):
        CyclicalLearningRate(0.1, 1.0, step_size=10, scale_fn=local).get_config()


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"step_size.*\(0, inf\]"):
        TriangularCyclicalLearningRate(0.1, 1.0, step_size=0)
    with pytest.raises(ValueError, match="scale_mode"):
        TriangularCyclicalLearningRate(0.1, 1.0, step_size=2, scale_mode="epoch")
    with pytest.raises(ValueError, match="initial_learning_rate"):
        TriangularCyclicalLearningRate(-0.1, 1.0, step_size=2)
    with pytest.raises(TypeError, match="maximal_learning_rate"):
        Triangular2CyclicalLearningRate(0.1, "1.0", step_size=2)
    with pytest.raises(ValueError, match="gamma"):
        ExponentialCyclicalLearningRate(0.1, 1.0, step_size=2, gamma=0.0)
    with pytest.raises(TypeError, match="scale_fn"):
        CyclicalLearningRate(0.1, 1.0, step_size=2, scale_fn=2.0)


# --------------------------------------------------------------------------- in training
def test_fit_steps_with_the_scheduled_rate_and_reloads(tmp_path):
    """A loss whose gradient is exactly 1: each ZooSGD step moves the weight by -lr(s), so after fit
    the weight is minus the sum of the schedule's values, hand-computed here; the model reloads
    from a .keras file with the schedule and continues with the right rates."""
    schedule = TriangularCyclicalLearningRate(0.01, 0.05, step_size=3)  # 0.01 .. 0.05 .. 0.01, period 6
    by_hand = [0.01, 0.01 + 0.04 / 3, 0.01 + 0.08 / 3, 0.05, 0.01 + 0.08 / 3, 0.01 + 0.04 / 3, 0.01, 0.01 + 0.04 / 3]

    def mean_output(y_true, y_pred):
        return keras.ops.mean(y_pred)

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=koz.ZooSGD(learning_rate=schedule), loss=mean_output)
    x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: rates.append(float(model.optimizer.learning_rate))
    )
    model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=[record])
    np.testing.assert_allclose(rates, by_hand[:6], rtol=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], [[-sum(by_hand[:6])]], rtol=1e-6)
    path = tmp_path / "cyclical.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, custom_objects={"mean_output": mean_output})
    assert type(reloaded.optimizer._learning_rate) is TriangularCyclicalLearningRate
    assert reloaded.optimizer.get_config() == model.optimizer.get_config()
    reloaded.fit(x, y, batch_size=4, epochs=2, verbose=0)
    np.testing.assert_allclose(reloaded.get_weights()[0], [[-sum(by_hand)]], rtol=1e-6)


def test_zoo_optimizer_trains_with_a_cyclical_rate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    schedule = ExponentialCyclicalLearningRate(0.005, 0.05, step_size=4, gamma=0.99)
    model.compile(optimizer=koz.ZooAdam(learning_rate=schedule), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.5 * history[0], history
