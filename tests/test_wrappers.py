"""Lookahead, MovingAverage and SWA around Keras built-ins and zoo optimizers: NumPy parity in
float64, fit (with and without XLA), GradientTape loops, exact weight swaps, the end-of-training
callback, config round trips, and a fresh process that reloads ``.keras`` files and continues
bit-for-bit (with a MirroredStrategy check in the same process)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from harness import fresh_process_command
from keras_optim_zoo.wrappers import (
    AverageWeightsCallback,
    Lookahead,
    MovingAverage,
    SWA,
    find_averaged_optimizer,
)
from reference.lookahead import lookahead

SHAPES = ((3,), (4, 2))
LR = 2.0**-5  # exactly representable in float32 (Keras keeps the learning rate as float32)


def f32(x):
    return float(np.float32(x))


# --------------------------------------------------------------------------- helpers
def _problem(seed, steps=20):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
    return initial, grads


def _run_keras(optimizer, initial, grads, track=None):
    """Eager float64 steps; returns final weights and, per step, ``track(optimizer, variables)``."""
    variables = [keras.Variable(w, dtype="float64", name=f"w{i}") for i, w in enumerate(initial)]
    tracked = []
    for step in grads:
        optimizer.apply_gradients(zip([tf.constant(g) for g in step], variables))
        if track:
            tracked.append(track(optimizer, variables))
    return [v.numpy() for v in variables], tracked, variables


def _reference_trajectory(factory, initial, grads, lr):
    """The weights after every step, per variable: ``out[i][t-1]``."""
    init, update = factory
    out = []
    for i, w in enumerate(initial):
        w, state, path = np.array(w), init(np.array(w)), []
        for t, step in enumerate(grads, start=1):
            w, state = update(step[i], state, w, t, lr)
            path.append(w)
        out.append(path)
    return out


INNERS = {
    # Keras's SGD casts `momentum` through float32: 0.5 is exact, so float64 parity is exact too.
    "keras_sgd": (lambda: keras.optimizers.SGD(LR, momentum=0.5), lambda: reference.sgd(momentum=0.5), LR),
    "zoo_adam": (lambda: koz.ZooAdam(0.01), lambda: reference.adam(), f32(0.01)),
}


# --------------------------------------------------------------------------- Lookahead: numbers
@pytest.mark.parametrize("inner", list(INNERS))
@pytest.mark.parametrize("sync_period, slow_step_size", [(6, 0.5), (5, 0.3), (1, 0.8)])
def test_lookahead_equals_numpy_reference(inner, sync_period, slow_step_size):
    make, ref, lr = INNERS[inner]
    initial, grads = _problem(0)
    optimizer = Lookahead(make(), sync_period=sync_period, slow_step_size=slow_step_size)
    slow = lambda opt, vs: [opt.slow_weight(v).numpy() for v in vs]  # noqa: E731
    got, slows, _ = _run_keras(optimizer, initial, grads, track=slow)
    want = _reference_trajectory(lookahead(ref(), sync_period, slow_step_size), initial, grads, lr)
    plain = _reference_trajectory(ref(), initial, grads, lr)
    for i in range(len(SHAPES)):
        np.testing.assert_allclose(got[i], want[i][-1], rtol=1e-12, atol=1e-15)
        assert np.max(np.abs(want[i][-1] - plain[i][-1])) > 1e-3  # Lookahead changed the trajectory
        # The slow weights: w_0 until the first sync, then equal to the weights at every sync.
        np.testing.assert_array_equal(slows[0][i], initial[i] if sync_period > 1 else want[i][0])
        for t in range(sync_period, len(grads) + 1, sync_period):
            np.testing.assert_allclose(slows[t - 1][i], want[i][t - 1], rtol=1e-12, atol=1e-15)
    assert int(optimizer.iterations) == len(grads)


def test_lookahead_by_hand_two_steps():
    """SGD(lr=0.5), k=2, alpha=0.5, w0=1, g=1: 0.5; 0.0 -> phi = 1 + 0.5 (0 - 1) = 0.5; 0.0;
    -0.5 -> phi = 0.5 + 0.5 (-0.5 - 0.5) = 0.0."""
    w = keras.Variable(np.array([1.0]), dtype="float64")
    optimizer = Lookahead(keras.optimizers.SGD(0.5), sync_period=2, slow_step_size=0.5)
    seen = []
    for _ in range(4):
        optimizer.apply_gradients([(tf.constant([1.0], tf.float64), w)])
        seen.append(float(w.numpy()[0]))
    assert seen == [0.5, 0.5, 0.0, 0.0]


def test_lookahead_string_inner_and_state_names():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")], name="net")
    assert type(Lookahead("zoo_adam").inner_optimizer) is koz.ZooAdam
    optimizer = Lookahead(koz.ZooAdam(name="adam"), name="la")
    optimizer.build(model.trainable_variables)
    assert [v.path for v in optimizer.variables] == [
        "adam/iteration",
        "adam/learning_rate",
        "adam/net_dense_kernel_momentum",
        "adam/net_dense_kernel_velocity",
        "adam/net_dense_bias_momentum",
        "adam/net_dense_bias_velocity",
        "la/net_dense_kernel_slow",
        "la/net_dense_bias_slow",
    ]
    np.testing.assert_array_equal(optimizer.slow_weight(model.layers[0].kernel).numpy(), model.layers[0].kernel.numpy())
    assert type(Lookahead("sgd").inner_optimizer) is keras.optimizers.SGD


# --------------------------------------------------------------------------- training APIs
def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.5).astype("float32")
    return x, y


def _mlp(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])


WRAPPED = {
    "lookahead_keras_sgd": lambda: Lookahead(keras.optimizers.SGD(0.05, momentum=0.5), sync_period=3),
    "lookahead_zoo_adam": lambda: Lookahead(koz.ZooAdam(0.05), sync_period=3, slow_step_size=0.6),
    "moving_average_zoo_adam": lambda: MovingAverage(koz.ZooAdam(0.05), average_decay=0.9),
    "swa_keras_sgd": lambda: SWA(keras.optimizers.SGD(0.05), start_averaging=2, average_period=3),
}


# (Lookahead around a zoo optimizer under fit with and without XLA: the zoo_ranger table row.)
@pytest.mark.parametrize("name", ["lookahead_keras_sgd", "moving_average_zoo_adam", "swa_keras_sgd"])
def test_fit_with_and_without_xla_agree(name):
    x, y = _data()
    results = {}
    for jit in (False, True):
        model = _mlp()
        model.compile(optimizer=WRAPPED[name](), loss="mse", jit_compile=jit)
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
        assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0], history
        assert int(model.optimizer.iterations) == 12
        results[jit] = model.get_weights() + [v.numpy() for v in model.optimizer.variables[2:]]
    for a, b in zip(results[False], results[True]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name, mode",
    [("lookahead_keras_sgd", "function"), ("lookahead_keras_sgd", "jit"), ("lookahead_zoo_adam", "jit"),
     ("moving_average_zoo_adam", "jit")],
)
def test_gradient_tape_loop_builds_inside_tf_function(name, mode):
    """The first apply_gradients (which builds the slow weights / averages from the variables' values)
    runs inside tf.function, also with jit_compile=True; the result equals the eager loop. The
    first layer has more than 1024 weights (TensorFlow inlines small captured values as constants,
    but not large ones)."""
    x, y = _data()
    results = []
    for run in ("eager", mode):
        keras.utils.set_random_seed(2)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(300, activation="tanh"), keras.layers.Dense(1)])
        optimizer = WRAPPED[name]()

        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xb) - yb))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        if run != "eager":
            step = tf.function(step, jit_compile=(run == "jit"))
        for epoch in range(2):
            for start in range(0, 64, 16):
                step(x[start : start + 16], y[start : start + 16])
        assert int(optimizer.iterations) == 8
        results.append(model.get_weights() + [v.numpy() for v in optimizer.variables[2:]])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_learning_rate_delegates_and_is_assignable():
    optimizer = Lookahead(keras.optimizers.Adam(0.01))
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.01, rtol=1e-7)
    optimizer.learning_rate = 0.002
    np.testing.assert_allclose(float(optimizer.inner_optimizer.learning_rate), 0.002, rtol=1e-7)
    # ReduceLROnPlateau reads and assigns optimizer.learning_rate: it must reach the inner optimizer.
    x, y = _data()
    model = _mlp()
    model.compile(optimizer=MovingAverage(Lookahead(koz.ZooAdam(0.04))), loss="mse")
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[plateau])
    inner = model.optimizer.inner_optimizer.inner_optimizer
    np.testing.assert_allclose(float(inner.learning_rate), 0.01, rtol=1e-6)  # halved twice
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01, rtol=1e-6)


def test_inner_optimizer_skipping_a_step_is_not_counted():
    """A NaN gradient skipped by the inner zoo optimizer leaves the wrapper's state untouched too,
    and the run continues exactly as if the step had never happened."""
    initial, grads = _problem(3, steps=8)
    poisoned = [np.full_like(g, np.nan) for g in grads[0]]
    for make in (
        lambda: Lookahead(koz.ZooAdam(0.01, skip_nonfinite=True), sync_period=2),
        lambda: MovingAverage(koz.ZooAdam(0.01, skip_nonfinite=True), average_decay=0.5),
        lambda: SWA(koz.ZooAdam(0.01, skip_nonfinite=True), average_period=2),
    ):
        def state(opt, variables):
            skipped = opt.inner_optimizer.skipped_steps  # the one thing that differs: checked below
            return [v.numpy().copy() for v in variables] + [v.numpy().copy() for v in opt.variables if v is not skipped]

        clean, clean_states, _ = _run_keras(make(), initial, grads, track=state)
        optimizer = make()
        dirty, dirty_states, _ = _run_keras(optimizer, initial, grads[:2] + [poisoned] + grads[2:], track=state)
        assert int(optimizer.inner_optimizer.skipped_steps) == 1 and int(optimizer.iterations) == len(grads)
        for a, b in zip(dirty_states[1], dirty_states[2]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(clean_states[-1], dirty_states[-1]):
            np.testing.assert_array_equal(a, b)
        assert len(dirty_states[-1]) == len(clean_states[-1]) > 2 * len(SHAPES) + 2


# --------------------------------------------------------------------------- MovingAverage, SWA: numbers
def _numpy_ema(path, w0, decay, start_step=0, dynamic=False, num_updates=None):
    if num_updates is not None:
        decay = min(decay, (1.0 + num_updates) / (10.0 + num_updates))
    average = np.array(w0)
    for s, w in enumerate(path):  # s: 0-based index of the step that produced w
        d = decay
        if s < start_step:
            d = 0.0
        elif dynamic:
            d = min(decay, (1.0 + s - start_step) / (10.0 + s - start_step))
        average = average - (1.0 - d) * (average - w)
    return average


@pytest.mark.parametrize("inner", list(INNERS))
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"average_decay": 0.7, "start_step": 3, "dynamic_decay": True}, {"average_decay": 0.95, "num_updates": 20}],
    ids=["defaults", "start_dynamic", "num_updates"],
)
def test_moving_average_equals_numpy(inner, kwargs):
    make, ref, lr = INNERS[inner]
    initial, grads = _problem(1)
    optimizer = MovingAverage(make(), **kwargs)
    got, _, variables = _run_keras(optimizer, initial, grads)
    paths = _reference_trajectory(ref(), initial, grads, lr)
    for i, variable in enumerate(variables):
        np.testing.assert_allclose(got[i], paths[i][-1], rtol=1e-12, atol=1e-15)  # weights untouched
        want = _numpy_ema(
            paths[i],
            initial[i],
            kwargs.get("average_decay", 0.99),
            kwargs.get("start_step", 0),
            kwargs.get("dynamic_decay", False),
            kwargs.get("num_updates"),
        )
        average = optimizer.average_of(variable).numpy()
        np.testing.assert_allclose(average, want, rtol=1e-12, atol=1e-15)
        assert np.max(np.abs(average - got[i])) > 1e-3


def test_moving_average_by_hand():
    """SGD(lr=1) on w0=0 with g=-1 (w_t = t), decay 0.5: average 0.5, 1.25, 2.125."""
    w = keras.Variable(np.array([0.0]), dtype="float64")
    optimizer = MovingAverage(keras.optimizers.SGD(1.0), average_decay=0.5)
    seen = []
    for _ in range(3):
        optimizer.apply_gradients([(tf.constant([-1.0], tf.float64), w)])
        seen.append(float(optimizer.average_of(w).numpy()[0]))
    assert seen == [0.5, 1.25, 2.125]


@pytest.mark.parametrize("inner", list(INNERS))
@pytest.mark.parametrize("start_averaging, average_period", [(0, 10), (3, 4), (0, 1)])
def test_swa_equals_mean_of_snapshots(inner, start_averaging, average_period):
    make, ref, lr = INNERS[inner]
    initial, grads = _problem(2)
    optimizer = SWA(make(), start_averaging=start_averaging, average_period=average_period)
    assert optimizer.num_averaged == 0
    got, _, variables = _run_keras(optimizer, initial, grads)
    paths = _reference_trajectory(ref(), initial, grads, lr)
    snapshots = [s for s in range(len(grads)) if s >= start_averaging and (s - start_averaging) % average_period == 0]
    assert optimizer.num_averaged == len(snapshots)
    for i, variable in enumerate(variables):
        np.testing.assert_allclose(got[i], paths[i][-1], rtol=1e-12, atol=1e-15)
        want = np.mean([paths[i][s] for s in snapshots], axis=0)
        np.testing.assert_allclose(optimizer.average_of(variable).numpy(), want, rtol=1e-12, atol=1e-15)


def test_swa_by_hand():
    """SGD(lr=1), g=-1 so w_t = t; snapshots at indices 1, 3, 5 (weights 2, 4, 6): average 4."""
    w = keras.Variable(np.array([0.0]), dtype="float64")
    optimizer = SWA(keras.optimizers.SGD(1.0), start_averaging=1, average_period=2)
    for _ in range(6):
        optimizer.apply_gradients([(tf.constant([-1.0], tf.float64), w)])
    assert float(optimizer.average_of(w).numpy()[0]) == 4.0 and optimizer.num_averaged == 3
    assert float(w.numpy()[0]) == 6.0


# --------------------------------------------------------------------------- swapping and the callback
def _trained(make_optimizer, epochs=3):
    x, y = _data()
    model = _mlp(3)
    model.compile(optimizer=make_optimizer(), loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model, x, y


@pytest.mark.parametrize(
    "make",
    [lambda: MovingAverage(keras.optimizers.Adam(0.05), average_decay=0.8), lambda: SWA("zoo_adam", average_period=2)],
    ids=["moving_average_keras_adam", "swa_zoo_adam"],
)
def test_swap_is_exact_and_reversible(make):
    model, x, y = _trained(make)
    optimizer = model.optimizer
    weights = [w.copy() for w in model.get_weights()]
    averages = [optimizer.average_of(v).numpy().copy() for v in model.trainable_variables]
    assert any(np.max(np.abs(w - a)) > 1e-4 for w, a in zip(weights, averages))
    with optimizer.average_weights(model):
        assert optimizer.averages_swapped_in
        for w, a in zip(model.get_weights(), averages):
            np.testing.assert_array_equal(w, a)
        averaged_loss = model.evaluate(x, y, verbose=0)[0]
    assert not optimizer.averages_swapped_in
    for w, w0 in zip(model.get_weights(), weights):
        assert w.tobytes() == w0.tobytes()  # bit-identical, sign of zero included
    for v, a in zip(model.trainable_variables, averages):
        assert optimizer.average_of(v).numpy().tobytes() == a.tobytes()
    # The block raising still swaps back; swap twice is the identity.
    with pytest.raises(RuntimeError):
        with optimizer.average_weights(model.trainable_variables):
            raise RuntimeError("boom")
    optimizer.swap_average_weights()
    optimizer.swap_average_weights()
    for w, w0 in zip(model.get_weights(), weights):
        assert w.tobytes() == w0.tobytes()
    assert np.isfinite(averaged_loss)


@pytest.mark.parametrize(
    "make",
    [lambda: SWA(keras.optimizers.SGD(0.05), start_averaging=4, average_period=2),
     lambda: MovingAverage(koz.ZooAdam(0.05), average_decay=0.9, dynamic_decay=True)],
    ids=["swa_keras_sgd", "moving_average_zoo_adam"],
)
def test_callback_evaluates_and_saves_with_averages_then_restores(make, tmp_path):
    x, y = _data()
    model = _mlp(4)
    model.compile(optimizer=make(), loss="mse", metrics=["mae"])
    path = str(tmp_path / "averaged.keras")
    callback = AverageWeightsCallback(validation_data=(x, y), filepath=path)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callback])
    optimizer = model.optimizer
    averages = [optimizer.average_of(v).numpy() for v in model.trainable_variables]
    trained = model.get_weights()
    assert any(np.max(np.abs(w - a)) > 1e-4 for w, a in zip(trained, averages))
    # The callback's numbers are the averaged model's ...
    with optimizer.average_weights(model):
        expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert callback.results == expected
    trained_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert callback.results["loss"] != trained_loss
    # ... the saved file holds the averaged weights, and the model the training weights again.
    saved = keras.models.load_model(path)
    for w, a in zip(saved.get_weights(), averages):
        np.testing.assert_array_equal(w, a)
    for w, w0 in zip(model.get_weights(), trained):
        np.testing.assert_array_equal(w, w0)


def test_callback_keep_average_and_errors():
    x, y = _data()
    model = _mlp(5)
    model.compile(optimizer=SWA(keras.optimizers.SGD(0.05), average_period=3), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[AverageWeightsCallback(keep_average=True)])
    for v in model.trainable_variables:
        np.testing.assert_array_equal(v.numpy(), model.optimizer.average_of(v).numpy())
    plain = _mlp(5)
    plain.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="MovingAverage or SWA"):
        plain.fit(x, y, epochs=1, verbose=0, callbacks=[AverageWeightsCallback()])
    wrapped = keras.optimizers.LossScaleOptimizer(Lookahead(MovingAverage("sgd")))
    assert isinstance(find_averaged_optimizer(wrapped), MovingAverage)
    with pytest.raises(ValueError, match="built"):
        MovingAverage("sgd").swap_average_weights()
    optimizer = MovingAverage("sgd")
    optimizer.build(plain.trainable_variables)
    with pytest.raises(ValueError, match="keeps no average"):
        optimizer.average_of(keras.Variable(np.zeros(2)))


# --------------------------------------------------------------------------- config and arguments
CONFIG_CASES = {
    "lookahead": lambda: Lookahead(keras.optimizers.SGD(0.1, momentum=0.9), sync_period=4, slow_step_size=0.25),
    "moving_average": lambda: MovingAverage("zoo_adam", average_decay=0.9, num_updates=7, start_step=2, dynamic_decay=True),
    "swa": lambda: SWA(koz.ZooAdam(0.003, clipnorm=1.0), start_averaging=5, average_period=3),
    "nested": lambda: MovingAverage(Lookahead(koz.ZooSGD(0.1, momentum=0.5), sync_period=2), average_decay=0.5),
    "schedule": lambda: Lookahead(
        keras.optimizers.Adam(koz_schedules().TriangularCyclicalLearningRate(1e-3, 1e-2, step_size=10))
    ),
}


def koz_schedules():
    from keras_optim_zoo import schedules

    return schedules


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_config_round_trip(name):
    optimizer = CONFIG_CASES[name]()
    config = optimizer.get_config()
    json.dumps(config)  # plain JSON: it goes into .keras files
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == config
    again = keras.optimizers.deserialize(json.loads(json.dumps(keras.optimizers.serialize(optimizer))))
    assert type(again) is type(optimizer) and again.get_config() == config
    assert type(again.inner_optimizer) is type(optimizer.inner_optimizer)


def test_invalid_arguments_are_rejected():
    with pytest.raises(TypeError, match="keras.optimizers.Optimizer"):
        Lookahead(42)
    with pytest.raises(ValueError, match="Unknown optimizer|Could not interpret"):
        Lookahead("no_such_optimizer")
    with pytest.raises(ValueError, match=r"sync_period.*integer >= 1"):
        Lookahead("sgd", sync_period=0)
    with pytest.raises(TypeError, match="sync_period"):
        Lookahead("sgd", sync_period=2.0)
    with pytest.raises(ValueError, match=r"slow_step_size.*\[0, 1\]"):
        Lookahead("sgd", slow_step_size=1.5)
    with pytest.raises(ValueError, match="clipnorm.*inner optimizer"):
        Lookahead("sgd", clipnorm=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sync'"):
        Lookahead("sgd", sync=3)
    with pytest.raises(ValueError, match=r"average_decay.*\[0, 1\]"):
        MovingAverage("sgd", average_decay=1.5)
    with pytest.raises(ValueError, match="start_step"):
        MovingAverage("sgd", start_step=-1)
    with pytest.raises(TypeError, match="dynamic_decay"):
        MovingAverage("sgd", dynamic_decay="yes")
    with pytest.raises(ValueError, match="average_period"):
        SWA("sgd", average_period=0)
    with pytest.raises(ValueError, match="start_averaging"):
        SWA("sgd", start_averaging=-2)


# --------------------------------------------------------------------------- fresh process
FRESH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np, keras
    import keras_optim_zoo  # registers the zoo optimizers, the wrappers and the schedules
    from keras_optim_zoo.wrappers import Lookahead, MovingAverage
    from harness import resume_keras_files
    folder = sys.argv[1]
    plan, data, models = resume_keras_files(folder, stop=7)
    out = {}
    for name, model in models.items():
        for j, w in enumerate(model.get_weights()):
            out[f"{name}/w{j}"] = w
        for j, v in enumerate(model.optimizer.variables):
            out[f"{name}/s{j}"] = v.numpy()

    # MirroredStrategy on two logical CPUs: the wrappers give the one-device result.
    x, y = data["x0"], data["y0"]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    def train(distributed, make):
        with (strategy.scope() if distributed else tf.distribute.get_strategy().scope()):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])
            model.compile(optimizer=make(), loss="mse")
        model.fit(np.tile(x, (4, 1)), np.tile(y, (4, 1)), batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights() + [v.numpy() for v in model.optimizer.variables[2:]]
    mirrored = {}
    for name, make in {
        "lookahead": lambda: Lookahead(keras.optimizers.SGD(0.1, momentum=0.5), sync_period=3),
        "moving_average": lambda: MovingAverage(keras_optim_zoo.ZooAdam(0.05), average_decay=0.7),
    }.items():
        one, two = train(False, make), train(True, make)
        mirrored[name] = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
    np.savez(folder + "/resumed.npz", **out)
    print("MIRRORED" + json.dumps(mirrored))
    """
)


def _fresh_cases():
    from keras_optim_zoo import schedules

    return {
        "lookahead_keras_sgd": lambda: Lookahead(
            keras.optimizers.SGD(schedules.Triangular2CyclicalLearningRate(0.01, 0.1, step_size=2), momentum=0.5),
            sync_period=2,
        ),
        "lookahead_zoo_adam": lambda: Lookahead("zoo_adam", sync_period=4, slow_step_size=0.3),
        "moving_average_keras_adam": lambda: MovingAverage(keras.optimizers.Adam(0.05), average_decay=0.8,
                                                           dynamic_decay=True),
        "swa_zoo_sgd": lambda: SWA(koz.ZooSGD(0.05, momentum=0.9), start_averaging=1, average_period=2),
        "nested": lambda: SWA(Lookahead(koz.ZooAdam(0.05), sync_period=2), average_period=3),
    }


def test_keras_file_reloads_in_a_fresh_process_and_continues_bit_for_bit(tmp_path):
    """Train 3 steps, save; a fresh process loads each file and trains 4 more steps: weights and
    every optimizer variable (slow weights, averages, inner slots) equal 7 uninterrupted steps."""
    rng = np.random.default_rng(0)
    data = {f"x{i}": rng.normal(size=(8, 4)).astype("float32") for i in range(7)}
    data.update({f"y{i}": rng.normal(size=(8, 1)).astype("float32") for i in range(7)})
    np.savez(tmp_path / "data.npz", **data)
    plan, expected = {}, {}
    for name, make in _fresh_cases().items():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=make(), loss="mse")
        for i in range(3):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        model.save(tmp_path / f"{name}.keras")
        plan[name] = {"class": type(model.optimizer).__name__, "config": model.optimizer.get_config()}
        for i in range(3, 7):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        expected[name] = (model.get_weights(), [v.numpy() for v in model.optimizer.variables])
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    command, env = fresh_process_command(FRESH_SCRIPT, tmp_path)
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    resumed = np.load(tmp_path / "resumed.npz")
    for name, (weights, state) in expected.items():
        for j, w in enumerate(weights):
            np.testing.assert_array_equal(resumed[f"{name}/w{j}"], w, err_msg=name)
        assert len(state) == len([k for k in resumed.files if k.startswith(f"{name}/s")]), name
        for j, s in enumerate(state):
            np.testing.assert_array_equal(resumed[f"{name}/s{j}"], s, err_msg=f"{name} state {j}")
    mirrored = json.loads(run.stdout.split("MIRRORED", 1)[1])
    for name, gap in mirrored.items():
        assert gap < 2e-6, (name, gap)  # float32 reassociation of the two half-batch gradients only


# --------------------------------------------------------------------------- assign_if: cond and select
def _wrapped_run(make, threshold, mode, steps=14):
    """Weights and wrapper state after ``steps`` float64 steps with the wrapper's ``fuse_min_size``
    at ``threshold`` (0: every variable takes the tf.cond form; huge: every one the select form)."""
    rng = np.random.default_rng(7)
    variables = [keras.Variable(rng.normal(size=s), dtype="float64") for s in ((6, 5), (7,))]
    grads = [[tf.constant(rng.normal(size=v.shape)) for v in variables] for _ in range(steps)]
    optimizer = make(threshold)

    def step(gradients):
        optimizer.apply_gradients(zip(gradients, variables))

    if mode != "eager":
        step = tf.function(step, jit_compile=mode == "xla")
    for gradients in grads:
        step(gradients)
    graph_ops = set()
    if mode == "graph":
        graph = step.get_concrete_function(grads[0]).graph
        graph_ops = {op.type for op in graph.get_operations()}
    state = [keras.ops.convert_to_numpy(v) for v in variables + [v for v in optimizer.variables if len(v.shape)]]
    return state, graph_ops


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize(
    "make",
    [
        lambda t: Lookahead(keras.optimizers.SGD(0.1, momentum=0.9), sync_period=3, slow_step_size=0.3,
                            fuse_min_size=t),
        lambda t: Lookahead(koz.ZooRAdam(), sync_period=4, fuse_min_size=t),
        lambda t: SWA(keras.optimizers.SGD(0.1), start_averaging=2, average_period=3, fuse_min_size=t),
        lambda t: MovingAverage(keras.optimizers.Adam(0.01), average_decay=0.9, fuse_min_size=t),
    ],
    ids=["lookahead-sgd", "lookahead-radam", "swa", "moving_average"],
)
def test_assign_if_cond_equals_select_bit_for_bit(make, mode):
    """The wrappers' rare updates (Lookahead's synchronisation, SWA's snapshot) run in a tf.cond for
    large variables (nothing is read or written on the other steps) and as a select elsewhere:
    both forms leave every weight and state value identical, eagerly, in a graph and under XLA."""
    by_cond, cond_ops = _wrapped_run(make, 0, mode)
    by_select, select_ops = _wrapped_run(make, 1 << 60, mode)
    assert len(by_cond) == len(by_select)
    for a, b in zip(by_cond, by_select):
        np.testing.assert_array_equal(a, b)
    if mode == "graph":  # the forms really differ: a cond op in one graph only
        assert {"If", "StatelessIf"} & cond_ops
        assert not {"If", "StatelessIf"} & select_ops


def test_fuse_min_size_is_the_wrappers_own_or_its_inner_optimizers_through_nesting():
    """The threshold of a wrapper's cond-or-select choice (``assign_if``): its own argument, else
    the inner optimizer's, through nested wrappers; the default around a Keras built-in."""
    inner = koz.ZooAdam(fuse_min_size=123)
    assert Lookahead(SWA(inner)).fuse_min_size == 123
    assert Lookahead(SWA(inner), fuse_min_size=7).fuse_min_size == 7
    assert Lookahead(keras.optimizers.Adam()).fuse_min_size == 1 << 15
    assert koz.ZooRanger(fuse_min_size=5).fuse_min_size == 5
