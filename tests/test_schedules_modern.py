"""OneCycle, LinearWarmup and WarmupStableDecay: values, use in fit, .keras round trip, XLA."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz


def one_cycle_torch(step, max_lr=0.1, total=100, pct=0.3, div=25.0, final_div=1e4, three_phase=False, cos=True):
    """torch.optim.lr_scheduler.OneCycleLR's formula, written out."""
    initial = max_lr / div
    final = initial / final_div
    if three_phase:
        phases = [(pct * total - 1, initial, max_lr), (2 * pct * total - 2, max_lr, initial), (total - 1, initial, final)]
    else:
        phases = [(pct * total - 1, initial, max_lr), (total - 1, max_lr, final)]
    start = 0
    for i, (end, a, b) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            f = (step - start) / (end - start)
            return b + (a - b) / 2 * (math.cos(math.pi * f) + 1) if cos else a + (b - a) * f
        start = end


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_equals_torch_formula(three_phase, strategy):
    schedule = koz.OneCycle(0.1, 100, three_phase=three_phase, anneal_strategy=strategy)
    for step in (0, 1, 14, 29, 30, 45, 58, 59, 64, 98, 99):
        want = one_cycle_torch(step, three_phase=three_phase, cos=strategy == "cos")
        # float32 evaluation (as Keras's schedules): near the end, cos(.) + 1 is small and carries
        # float32's absolute error of ~1e-7, times (max - final) / 2 = 0.05.
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-8), step
    assert float(schedule(0)) == pytest.approx(0.004)
    assert float(schedule(29)) == pytest.approx(0.1)
    assert float(schedule(500)) == pytest.approx(0.1 / 25 / 1e4)  # held after the end


def test_linear_warmup_then_any_schedule():
    cosine = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=90)
    schedule = koz.LinearWarmup(cosine, warmup_steps=10, initial_learning_rate=1e-4)
    assert float(schedule(0)) == pytest.approx(1e-4)
    assert float(schedule(5)) == pytest.approx(1e-4 + (1e-3 - 1e-4) * 0.5)
    for step in (10, 40, 100, 130):  # the cosine starts at its own step 0 when the warmup ends
        assert float(schedule(step)) == pytest.approx(float(cosine(step - 10)), rel=1e-6)
    constant = koz.LinearWarmup(0.02, warmup_steps=4)
    assert [float(constant(s)) for s in range(6)] == pytest.approx([0.0, 0.005, 0.01, 0.015, 0.02, 0.02])


@pytest.mark.parametrize(
    "shape, fn",
    [("linear", lambda p: 1 - p), ("cosine", lambda p: (1 + math.cos(math.pi * p)) / 2), ("1-sqrt", lambda p: 1 - math.sqrt(p))],
)
def test_warmup_stable_decay(shape, fn):
    schedule = koz.WarmupStableDecay(2.0, total_steps=100, warmup_steps=10, decay_steps=20,
                                     final_learning_rate=0.5, decay_shape=shape)
    assert float(schedule(0)) == 0.0
    assert float(schedule(4)) == pytest.approx(0.8)
    for step in (10, 50, 80):
        assert float(schedule(step)) == pytest.approx(2.0)
    for step in (81, 85, 90, 99, 100):
        assert float(schedule(step)) == pytest.approx(0.5 + 1.5 * fn((step - 80) / 20), rel=1e-6), step
    assert float(schedule(1000)) == pytest.approx(0.5)
    assert koz.WarmupStableDecay(1.0, 50).decay_steps == 5  # default: the last 10%


SCHEDULES = {
    "one_cycle": lambda: koz.OneCycle(0.05, 40, three_phase=True),
    "warmup_cosine": lambda: koz.LinearWarmup(keras.optimizers.schedules.CosineDecay(0.05, 30), 10),
    "wsd": lambda: koz.WarmupStableDecay(0.05, 40, warmup_steps=5, decay_steps=10, decay_shape="1-sqrt"),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_values_under_xla_equal_eager(name):
    schedule = SCHEDULES[name]()
    compiled = tf.function(lambda s: schedule(s), jit_compile=True)
    for step in range(0, 45, 3):
        # XLA's float32 cos/sqrt are polynomial approximations: ~10 ulps from Eigen's, not more.
        assert float(compiled(tf.constant(step, tf.int64))) == pytest.approx(float(schedule(step)), rel=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "zoo_adam"])
@pytest.mark.parametrize("name", SCHEDULES)
def test_fit_and_keras_file_round_trip(name, optimizer, tmp_path):
    """In fit (XLA-compiled step: jit_compile=True) with a built-in and a zoo optimizer; the rate
    reported after 20 steps is the schedule's; the .keras file restores the same schedule."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    opt = keras.optimizers.SGD(SCHEDULES[name]()) if optimizer == "sgd" else koz.ZooAdam(SCHEDULES[name]())
    model.compile(optimizer=opt, loss="mse", jit_compile=True)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(model.optimizer.iterations) == 20
    assert float(model.optimizer.learning_rate) == float(SCHEDULES[name]()(20))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    original, restored = model.optimizer.learning_rate, loaded.optimizer.learning_rate
    assert type(loaded.optimizer._learning_rate) is type(model.optimizer._learning_rate)
    assert loaded.optimizer._learning_rate.get_config() == model.optimizer._learning_rate.get_config()
    np.testing.assert_allclose(float(restored), float(original), rtol=1e-6)  # same step, same value


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: koz.OneCycle(0.0, 100), ValueError, ["max_learning_rate"]),
        (lambda: koz.OneCycle(0.1, 1), ValueError, ["total_steps"]),
        (lambda: koz.OneCycle(0.1, 100, pct_start=1.0), ValueError, ["pct_start"]),
        (lambda: koz.OneCycle(0.1, 100, anneal_strategy="cosine"), ValueError, ["anneal_strategy", "'cos'"]),
        (lambda: koz.LinearWarmup(0.1, 0), ValueError, ["warmup_steps"]),
        (lambda: koz.LinearWarmup("fast", 10), TypeError, ["after"]),
        (lambda: koz.WarmupStableDecay(1.0, 100, warmup_steps=90, decay_steps=20), ValueError, ["warmup_steps", "decay_steps", "total_steps"]),
        (lambda: koz.WarmupStableDecay(1.0, 100, decay_shape="exp"), ValueError, ["decay_shape", "1-sqrt"]),
        (lambda: koz.WarmupStableDecay(1.0, 10.5), TypeError, ["total_steps"]),
    ],
)
def test_invalid_arguments(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)
