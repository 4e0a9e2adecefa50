"""Table-driven checks every registered optimizer must pass (rows in ``optimizer_table.py``)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import (
    descend,
    SHAPES,
    embedding_model,
    fresh_process_command,
    gradient_stream,
    least_squares,
    run_reference,
    run_zoo,
)
from optimizer_table import (
    COMMON_INVALID,
    GROUPS,
    OLDEST_SUBSET,
    ROWS,
    ROWS_BY_NAME,
    oldest_subset_only,
    rows_under_test,
    variant_cases,
)

ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS]


def f32(x):
    """What a learning rate becomes once Keras stores it (a float32 variable)."""
    return float(np.float32(x))


# --------------------------------------------------------------------------- the table itself
def test_every_registered_optimizer_is_in_the_table():
    registered = set(koz.list_optimizers())
    assert registered == set(ROWS_BY_NAME), (
        f"missing rows: {sorted(registered - set(ROWS_BY_NAME))}; "
        f"rows for unregistered names: {sorted(set(ROWS_BY_NAME) - registered)}"
    )
    for row in ROWS:
        assert koz.optimizer_class(row.name) is row.cls


def test_oldest_keras_subset_has_every_classic_row_and_each_group():
    """CI's oldest-Keras step runs ``OLDEST_SUBSET``: real rows, every classic one, each group."""
    assert set(OLDEST_SUBSET) <= set(ROWS_BY_NAME) and len(set(OLDEST_SUBSET)) == len(OLDEST_SUBSET)
    assert sum(len(group) for group in GROUPS) == len(ROWS)
    assert {row.name for row in GROUPS[0]} <= set(OLDEST_SUBSET)
    for group in GROUPS:
        assert {row.name for row in group} & set(OLDEST_SUBSET), [row.name for row in group]


# --------------------------------------------------------------------------- lookup and config
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_string_lookup(row):
    assert type(keras.optimizers.get(row.name)) is row.cls
    assert type(koz.get(row.name)) is row.cls
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=row.name, loss="mse")
    assert type(model.optimizer) is row.cls
    summary = koz.list_optimizers()[row.name]
    assert summary and summary == row.cls.__doc__.strip().splitlines()[0]


@pytest.mark.parametrize("row, variant", variant_cases())
def test_config_round_trip(row, variant):
    optimizer = row.cls(learning_rate=0.05, clipnorm=1.0, **variant)
    config = optimizer.get_config()
    for key, value in variant.items():
        assert config[key] == value
    rebuilt = row.cls.from_config(config)
    assert rebuilt.get_config() == config
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is row.cls and again.get_config() == config


# --------------------------------------------------------------------------- NumPy parity, float64
def _parity_cases():
    """``(row, variant, sparse)``: every variant with dense and with sparse gradients. CI's
    oldest-Keras step (``ZOO_OLDEST_SUBSET=1``) takes sparse gradients for each row's defaults only,
    to stay small: a row's other variants share its sparse handling, and the sparse step of its
    last variant is compared with the dense one by ``test_sparse_with_repeated_indices_equals_dense``."""
    cases = []
    for case in variant_cases():
        row, variant = case.values
        for sparse in (False, True):
            if sparse and oldest_subset_only() and variant is not row.variants[0]:
                continue
            cases.append(pytest.param(row, variant, sparse, id=f"{case.id}-{'sparse' if sparse else 'dense'}"))
    return cases


@pytest.mark.parametrize("row, variant, sparse", _parity_cases())
def test_reference_parity_float64(row, variant, sparse):
    """40 steps, three shapes in one optimizer; sparse gradients always repeat an index."""
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=shape) for shape in SHAPES]
    stream = gradient_stream(rng, SHAPES, 40, sparse)
    optimizer = row.cls(learning_rate=row.learning_rate, **variant)
    got = run_zoo(optimizer, initial, stream)
    want = run_reference(
        row.reference, variant, initial, stream, [f32(row.learning_rate)] * 40, lazy=row.sparse == "lazy"
    )
    for g, w, w0 in zip(got, want, initial):
        assert np.max(np.abs(w - w0)) > 1e-3, "the weights must move for the check to mean anything"
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_learning_rate_schedule_matches_reference(row):
    schedule = keras.optimizers.schedules.ExponentialDecay(row.learning_rate, 5, 0.7)
    rng = np.random.default_rng(3)
    initial = [rng.normal(size=shape) for shape in SHAPES]
    stream = gradient_stream(rng, SHAPES, 20, sparse=False)
    got = run_zoo(row.cls(learning_rate=schedule), initial, stream)
    rates = [float(schedule(step)) for step in range(20)]  # the float32 values Keras computes
    assert rates[-1] < 0.3 * rates[0]
    want = run_reference(row.reference, {}, initial, stream, rates)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- built-in equality
def _train(model, optimizer, batches, mode, densify=False):
    def step(tokens, target):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(tokens) - target))
        grads = tape.gradient(loss, model.trainable_variables)
        applied = [tf.convert_to_tensor(g) for g in grads] if densify else grads
        optimizer.apply_gradients(zip(applied, model.trainable_variables))
        return grads

    if mode != "eager":
        step = tf.function(step, jit_compile=(mode == "jit"))
    optimizer.build(model.trainable_variables)
    for tokens, target in batches:
        grads = step(tokens, target)
    return grads


def _builtin_batches():
    rng = np.random.default_rng(11)
    return [
        (rng.permutation(12)[:6].reshape(2, 3).astype("int32"), rng.normal(size=(2, 1)).astype("float32"))
        for _ in range(100)
    ]


_BUILTIN_RESULTS = {}


def _builtin_result(row):
    """The Keras built-in's weights after 100 eager steps (computed once per row).

    The built-in runs eagerly for all three zoo modes: eager Keras is the semantics the zoo must
    reproduce, and Keras 3.15's Adadelta recompiles its XLA cluster at every step when given
    ``IndexedSlices`` under ``jit_compile=True`` (~1 s per step here), which would cost minutes.
    """
    if row.name not in _BUILTIN_RESULTS:
        model = embedding_model(5)
        _train(model, row.builtin(), _builtin_batches(), "eager")
        _BUILTIN_RESULTS[row.name] = model.get_weights()
    return _BUILTIN_RESULTS[row.name]


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
@pytest.mark.parametrize("row", [p for p in ROW_PARAMS if p.values[0].builtin is not None])
def test_matches_keras_builtin_float32(row, mode):
    """Default arguments, 100 steps, Embedding (sparse, unique indices) + Dense (dense) gradients.

    Keras's built-ins are not lazy: a lazy optimizer is compared on the densified gradients."""
    zoo_model = embedding_model(5)
    grads = _train(zoo_model, row.cls(), _builtin_batches(), mode, densify=row.sparse == "lazy")
    assert isinstance(grads[0], tf.IndexedSlices) and not isinstance(grads[1], tf.IndexedSlices)
    initial = embedding_model(5).get_weights()
    for z, k, w0 in zip(zoo_model.get_weights(), _builtin_result(row), initial):
        assert np.max(np.abs(k - w0)) > 1e-5  # Adadelta at its default 0.001 moves least
        if mode == "eager":
            np.testing.assert_array_equal(z, k)  # same operations in the same order
        else:
            # Grappler / XLA may fuse and reorder float32 arithmetic.
            np.testing.assert_allclose(z, k, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("row", [p for p in ROW_PARAMS if p.values[0].sparse == "dense"])
def test_sparse_with_repeated_indices_equals_dense(row):
    """An Embedding batch repeating a token: the sparse step equals the densified step."""
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 4, size=(2, 3)).astype("int32") for _ in range(8)]
    results = []
    for densify in (False, True):
        keras.utils.set_random_seed(0)
        table = keras.Variable(rng.normal(size=(5, 3)) if not results else start, dtype="float64")
        start = table.numpy()
        optimizer = row.cls(learning_rate=row.learning_rate, **row.variants[-1])
        for tokens in batches:
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(tf.gather(table.value, tokens)))
            (grad,) = tape.gradient(loss, [table.value])
            assert isinstance(grad, tf.IndexedSlices)
            optimizer.apply_gradients([(tf.convert_to_tensor(grad) if densify else grad, table)])
        results.append(table.numpy())
    assert np.max(np.abs(results[1] - start)) > 1e-3
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- training APIs
def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.5).astype("float32")
    return x, y


@pytest.mark.parametrize("jit_compile", [False, True], ids=["no_jit", "jit"])
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_fit(row, jit_compile):
    x, y = _regression_data()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=koz.get(row.name, **row.converge), loss="mse", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.8 * history[0], history


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_gradient_tape_loop(row):
    x, y = _regression_data()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    optimizer = koz.get(row.name, **row.converge)
    losses = []
    for epoch in range(3):
        for start in range(0, 64, 16):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x[start : start + 16]) - y[start : start + 16]))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
    assert int(optimizer.iterations) == 12
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])


# Largest error of the first 5 steps against the float64 reference, in units of the dtype's
# machine epsilon times the weights' magnitude. A wrong update (wrong dtype of a constant, a slot in
# the wrong precision, a missing bias correction) is off by far more than a few dozen rounding steps.
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


@pytest.mark.parametrize("dtype", list(EPS))
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_variable_dtypes(row, dtype):
    rng = np.random.default_rng(9)
    initial = [rng.uniform(0.5, 1.0, size=(4, 3))]
    stream = gradient_stream(rng, [(4, 3)], 5, sparse=False)
    variable = keras.Variable(initial[0], dtype=dtype)
    optimizer = row.cls(learning_rate=row.learning_rate)
    for step in stream:
        optimizer.apply_gradients([(tf.constant(step[0][0], dtype), variable)])
    assert keras.backend.standardize_dtype(variable.dtype) == dtype
    for slot in optimizer.variables[2:]:
        assert keras.backend.standardize_dtype(slot.dtype) in (dtype, "float32", "float64")
    got = variable.numpy().astype(np.float64)
    start = np.asarray(keras.Variable(initial[0], dtype=dtype).numpy(), np.float64)
    (want,) = run_reference(row.reference, {}, [start], stream, [f32(row.learning_rate)] * 5)
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(want - start)) > 1e-3
    # Gradients and constants are rounded to the dtype too: allow 64 rounding errors of size 1.
    np.testing.assert_allclose(got, want, rtol=0, atol=64 * EPS[dtype])


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    "row, kwargs, error, words",
    [
        pytest.param(row, kwargs, error, words, id=f"{row.name}-{','.join(kwargs)}")
        for row in ROWS
        for kwargs, error, words in row.invalid + COMMON_INVALID
    ],
)
def test_invalid_arguments_are_rejected_at_construction(row, kwargs, error, words):
    with pytest.raises(error) as info:
        row.cls(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_integer_variables_are_rejected(row):
    optimizer = row.cls()
    with pytest.raises(TypeError, match="floating-point"):
        optimizer.build([keras.Variable(np.zeros(3, "int32"), trainable=False, name="counter")])


# --------------------------------------------------------------------------- convergence
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_converges_on_least_squares(row):
    a, b, best = least_squares()
    first, last = descend(row.cls(**row.converge), a, b, 400)
    assert last - best < 1e-2 * (first - best), (first, last, best)


# --------------------------------------------------------------------------- .keras reload and resume
RELOAD_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, keras
    import keras_optim_zoo  # registers the optimizers; nothing else is needed to reload
    from harness import resume_keras_files
    folder = sys.argv[1]
    plan, data, models = resume_keras_files(folder, stop=6)
    out = {}
    for name, model in models.items():
        for j, w in enumerate(model.get_weights()):
            out[f"{name}/{j}"] = w
        # tf.train.Checkpoint: a fresh model and optimizer (from the config), built, then restored.
        import tensorflow as tf
        keras.utils.set_random_seed(99)  # different initial weights: the restore must overwrite them
        model = keras.Sequential.from_config(plan[name]["model"])
        optimizer = keras.optimizers.deserialize(plan[name]["optimizer"])
        model.compile(optimizer=optimizer, loss="mse")
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).read(f"{folder}/{name}-ckpt").assert_consumed()
        assert int(optimizer.iterations) == 3
        for i in range(3, 6):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        for j, w in enumerate(model.get_weights()):
            out[f"{name}/ckpt/{j}"] = w
    np.savez(folder + "/resumed.npz", **out)
    """
)


def _small_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(1)])


def test_keras_file_reloads_in_a_fresh_process_and_resumes_bit_for_bit(tmp_path):
    """Train 3 steps, save a .keras file and a tf.train.Checkpoint; a fresh process restores each and
    trains 3 more steps; both results are bit-identical to 6 uninterrupted steps (optimizer state,
    iteration count and config restored). (``model.save_weights`` holds no optimizer state in Keras 3,
    so it cannot resume an optimizer; use one of these two.)"""
    rng = np.random.default_rng(0)
    data = {f"x{i}": rng.normal(size=(8, 4)).astype("float32") for i in range(6)}
    data.update({f"y{i}": rng.normal(size=(8, 1)).astype("float32") for i in range(6)})
    np.savez(tmp_path / "data.npz", **data)
    plan, expected = {}, {}
    rows = rows_under_test()  # ZOO_OLDEST_SUBSET=1: CI's oldest-Keras step
    for row in rows:
        model = _small_model()
        model.compile(optimizer=row.cls(learning_rate=0.05, **row.variants[-1]), loss="mse")
        for i in range(3):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        model.save(tmp_path / f"{row.name}.keras")
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / f"{row.name}-ckpt"))
        plan[row.name] = {
            "class": row.cls.__name__,
            "config": model.optimizer.get_config(),
            "optimizer": keras.optimizers.serialize(model.optimizer),
            "model": model.get_config(),
        }
        for i in range(3, 6):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        expected[row.name] = model.get_weights()
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    command, env = fresh_process_command(RELOAD_SCRIPT, tmp_path)
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    resumed = np.load(tmp_path / "resumed.npz")
    for row in rows:
        for j, w in enumerate(expected[row.name]):
            np.testing.assert_array_equal(resumed[f"{row.name}/{j}"], w, err_msg=row.name)
            np.testing.assert_array_equal(resumed[f"{row.name}/ckpt/{j}"], w, err_msg=row.name + " ckpt")
