"""The JAX backend: every optimizer runs, matches its NumPy reference and trains with fit.

Run as CI's second step (README, "Tests"):
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 python -m pytest -q tests/test_jax_backend.py
Under the TensorFlow backend (the main test run) this module is skipped.
"""

import keras
import numpy as np
import pytest

if keras.backend.backend() != "jax":
    pytest.skip("JAX backend tests: run with KERAS_BACKEND=jax (CI step 2)", allow_module_level=True)

import sys  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import keras_optim_zoo as koz  # noqa: E402
from optimizer_table import ROWS, variant_cases  # noqa: E402

SHAPES = ((3,), (4, 5), (2, 3, 4))


def test_tensorflow_is_not_imported():
    assert "tensorflow" not in sys.modules


def test_every_registered_optimizer_has_a_row():
    assert set(koz.list_optimizers()) == {row.name for row in ROWS}


@pytest.mark.parametrize("row, variant", variant_cases())
def test_reference_parity_float64(row, variant):
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=shape) for shape in SHAPES]
    grads = [[rng.normal(size=shape) for shape in SHAPES] for _ in range(20)]
    variables = [keras.Variable(w, dtype="float64") for w in initial]
    optimizer = row.cls(learning_rate=row.learning_rate, **variant)
    for step in grads:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
    lr = float(np.float32(row.learning_rate))
    init, update = row.reference(**variant)
    if getattr(row.reference, "joint", False):  # one estimate from all variables (Prodigy, D-Adapt)
        weights, state = [np.array(w) for w in initial], init([np.array(w) for w in initial])
        for t, step in enumerate(grads, start=1):
            weights, state = update(step, state, weights, t, lr)
        for variable, w, w0 in zip(variables, weights, initial):
            assert np.max(np.abs(w - w0)) > 1e-3
            np.testing.assert_allclose(np.asarray(variable.numpy()), w, rtol=1e-11, atol=1e-14)
        return
    for i, variable in enumerate(variables):
        assert keras.backend.standardize_dtype(variable.dtype) == "float64"
        w, state = initial[i], init(initial[i])
        for t, step in enumerate(grads, start=1):
            w, state = update(step[i], state, w, t, lr)
        assert np.max(np.abs(w - initial[i])) > 1e-3
        # XLA may reassociate float64 arithmetic: a few ulps per step, never more.
        np.testing.assert_allclose(np.asarray(variable.numpy()), w, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in ROWS])
def test_fit(row):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=koz.get(row.name, **row.converge), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0], history


@pytest.mark.parametrize("name", ["zoo_sgd", "zoo_adam", "zoo_nadam", "zoo_adagrad"])
def test_data_parallel_matches_one_device(name):
    devices = jax.devices("cpu")
    if len(devices) < 2:
        pytest.fail("needs XLA_FLAGS=--xla_force_host_platform_device_count=2 (see the module docstring)")
    row = next(row for row in ROWS if row.name == name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")

    def train(distribution):
        keras.distribution.set_distribution(distribution)
        try:
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])
            model.compile(optimizer=row.cls(**row.converge), loss="mse")
            model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            return model.get_weights()
        finally:
            keras.distribution.set_distribution(None)

    one = train(None)
    parallel = train(keras.distribution.DataParallel(devices=devices[:2]))
    for a, b in zip(one, parallel):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


def test_bfloat16_state_with_stochastic_rounding_matches_the_tensorflow_bits():
    # The rounding bits come from a counter-based hash in keras.ops: the same on both backends.
    from keras_optim_zoo import precision

    x = np.linspace(-3.0, 3.0, 1001).astype("float32") + np.float32(1e-3)
    rounded = np.asarray(precision.stochastic_round_to_bfloat16(keras.ops.convert_to_tensor(x), 5, 2))
    assert np.all(np.abs(rounded - x) <= np.abs(x) * 2.0**-7)  # a bfloat16 neighbour
    assert np.array_equal(np.asarray(keras.ops.cast(keras.ops.cast(rounded, "bfloat16"), "float32")), rounded)
    # Recorded on the TensorFlow backend: python -c "import numpy as np; from keras_optim_zoo import
    # precision; x = np.linspace(-3, 3, 1001).astype('float32') + np.float32(1e-3);
    # print(precision.stochastic_round_to_bfloat16(x, 5, 2).numpy()[:6].tolist())"
    assert rounded[:6].tolist() == [-2.984375, -3.0, -3.0, -2.984375, -2.96875, -2.96875]

    variable = keras.Variable(np.ones((40, 30), "float32"))
    optimizer = koz.ZooAdam(0.01, state_dtype="bfloat16", state_rounding="stochastic")
    for _ in range(3):
        optimizer.apply_gradients([(keras.ops.ones((40, 30)), variable)])
    assert keras.backend.standardize_dtype(optimizer.get_slot(variable, "velocity").dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(variable), 1.0 - 0.03, rtol=1e-3)


def test_warmup_schedules_run_on_jax():
    one_cycle = koz.OneCycle(0.1, 100)
    assert float(one_cycle(0)) == pytest.approx(0.004) and float(one_cycle(29)) == pytest.approx(0.1)
    warm = koz.LinearWarmup(keras.optimizers.schedules.CosineDecay(1e-3, 90), warmup_steps=10)
    assert float(warm(5)) == pytest.approx(5e-4) and float(warm(100)) == pytest.approx(0.0, abs=1e-9)
    wsd = koz.WarmupStableDecay(1.0, 100, warmup_steps=10, decay_steps=20, decay_shape="1-sqrt")
    assert [float(wsd(s)) for s in (5, 50, 85, 100)] == pytest.approx([0.5, 1.0, 0.5, 0.0])
