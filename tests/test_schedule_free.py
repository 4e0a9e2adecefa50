"""Schedule-free SGD / AdamW: the train/eval switch (x and y), the fit callback, sparse gradients,
and a `.keras` file saved in eval mode. (Reference parity of y: the table, test_conformance.py.)"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from reference.schedule_free_sgd import x_from_y, y_from_x

CASES = [
    pytest.param(koz.ZooScheduleFreeSGD, reference.schedule_free_sgd, {"learning_rate": 0.1}, "momentum", id="sgd"),
    pytest.param(
        koz.ZooScheduleFreeAdamW, reference.schedule_free_adamw, {"learning_rate": 0.01, "weight_decay": 0.05},
        "beta_1", id="adamw",
    ),
]


def _data(seed=0, n=32):
    """float64 arrays holding float32 values (fit's data adapter casts float arrays to float32)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32") + np.float32(0.3)
    return x.astype("float64"), y.astype("float64")


def _linear_model(dtype="float64"):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((3,), dtype=dtype), keras.layers.Dense(1, dtype=dtype)])
    return model


def _reference_fit(factory, kwargs, model0_weights, x, y, batch_size, epochs):
    """y and z of a Dense(1) trained by the NumPy reference on fit's batches (no shuffling)."""
    kwargs = dict(kwargs)
    lr = float(np.float32(kwargs.pop("learning_rate")))
    init, update = factory(**kwargs)
    kernel, bias = (np.array(w, np.float64) for w in model0_weights)
    states = [init(kernel), init(bias)]
    t = 0
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            t += 1
            residual = xb @ kernel + bias - yb  # loss = mean(residual^2)
            g_kernel = 2.0 * xb.T @ residual / len(xb)
            g_bias = 2.0 * residual.sum(axis=0) / len(xb)
            kernel, states[0] = update(g_kernel, states[0], kernel, t, lr)
            bias, states[1] = update(g_bias, states[1], bias, t, lr)
    return [kernel, bias], [states[0]["z"], states[1]["z"]]


@pytest.mark.parametrize("cls, factory, kwargs, beta_key", CASES)
def test_fit_with_callback_evaluates_x_and_trains_y(cls, factory, kwargs, beta_key):
    """The callback puts x in the model for validation and after fit; training batches see y.
    Every number is checked against the reference: the weights (x) after fit, the validation loss
    of every epoch (x), and the resumed training (from y)."""
    x, y = _data()
    model = _linear_model()
    optimizer = cls(**kwargs)
    model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError(dtype="float64"))
    start = [w.copy() for w in model.get_weights()]
    callback = koz.ScheduleFreeEvalCallback()
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_data=(x, y),
                        callbacks=[callback])
    beta = getattr(optimizer, beta_key)
    assert optimizer.in_eval_mode
    for epochs, val_loss in zip((1, 2), history.history["val_loss"]):
        ys, zs = _reference_fit(factory, kwargs, start, x, y, 8, epochs)
        xs = [x_from_y(a, b, beta) for a, b in zip(ys, zs)]
        # Keras's loss metric (a Mean) accumulates in float32: the loss matches to float32 rounding.
        np.testing.assert_allclose(val_loss, np.mean((x @ xs[0] + xs[1] - y) ** 2), rtol=1e-6)
    for got, want in zip(model.get_weights(), xs):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(xs[0] - ys[0])) > 1e-3  # x and y differ visibly
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((x @ xs[0] + xs[1] - y) ** 2), rtol=1e-6)
    np.testing.assert_allclose(  # the model's own output, in float64: x exactly
        model.predict(x, verbose=0), x @ xs[0] + xs[1], rtol=1e-12, atol=1e-14)
    # Training again (callback: back to y first) continues the reference run.
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    ys, zs = _reference_fit(factory, kwargs, start, x, y, 8, 3)
    for got, a, b in zip(model.get_weights(), ys, zs):
        np.testing.assert_allclose(got, x_from_y(a, b, beta), rtol=1e-12, atol=1e-15)
    # ... bit for bit as if never switched: the same 3 epochs without callback or validation.
    plain = _linear_model()
    plain.compile(optimizer=cls(**kwargs), loss=keras.losses.MeanSquaredError(dtype="float64"))
    plain.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    plain.optimizer.eval_mode(plain)
    for got, want in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cls, factory, kwargs, beta_key", CASES)
def test_a_step_in_eval_mode_converts_back_to_y_first(cls, factory, kwargs, beta_key):
    """A step taken while the variables hold x (no train_mode(), no callback) first converts them
    back to y, as train_mode() does (official: an error). Only the gradient is then taken at x:
    here the gradients are given, so both runs must agree exactly."""
    rng = np.random.default_rng(2)
    start = rng.normal(size=(4, 3))
    grads = [tf.constant(rng.normal(size=(4, 3))) for _ in range(6)]
    runs = []
    for switch_back in (True, False):
        variable = keras.Variable(start)
        optimizer = cls(**kwargs)
        for g in grads[:3]:
            optimizer.apply_gradients([(g, variable)])
        optimizer.eval_mode()
        if switch_back:
            optimizer.train_mode()
        for g in grads[3:]:
            optimizer.apply_gradients([(g, variable)])
        assert not optimizer.in_eval_mode
        runs.append(variable.numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("cls, factory, kwargs, beta_key", CASES)
def test_train_eval_round_trip_exact_and_idempotent(cls, factory, kwargs, beta_key, dtype):
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.normal(size=s), dtype=dtype) for s in ((4, 3), (3,))]
    optimizer = cls(**kwargs)
    for _ in range(10):
        optimizer.apply_gradients([(tf.constant(rng.normal(size=v.shape), dtype), v) for v in variables])
    beta = getattr(optimizer, beta_key)
    ys = [v.numpy().copy() for v in variables]
    zs = [optimizer.get_slot(v, "z").numpy().astype(np.float64) for v in variables]
    optimizer.eval_mode()
    xs = [v.numpy().copy() for v in variables]
    optimizer.eval_mode()  # idempotent
    assert optimizer.in_eval_mode
    eps = np.finfo(dtype).eps
    for v, x, y, z in zip(variables, xs, ys, zs):
        np.testing.assert_array_equal(v.numpy(), x)
        y64 = y.astype(np.float64)
        # x is computed in float32 for float16 variables, then rounded once to float16.
        np.testing.assert_allclose(x, x_from_y(y64, z, beta), rtol=0,
                                   atol=4 * eps * np.max(np.abs(y64) + np.abs(z - y64)))
        assert np.max(np.abs(x - y)) > 1e-3
    optimizer.train_mode()
    optimizer.train_mode()  # idempotent
    assert not optimizer.in_eval_mode
    for v, y in zip(variables, ys):
        np.testing.assert_array_equal(v.numpy(), y)  # exact: eval_mode kept y
    # Many round trips change nothing either.
    for _ in range(3):
        optimizer.eval_mode()
        optimizer.train_mode()
    for v, y in zip(variables, ys):
        np.testing.assert_array_equal(v.numpy(), y)
    # One variable only: the others keep their mode.
    before = [v.numpy().copy() for v in variables]
    optimizer.eval_mode([variables[0]])
    assert not optimizer.in_eval_mode
    assert np.max(np.abs(variables[0].numpy() - before[0])) > 1e-3
    np.testing.assert_array_equal(variables[1].numpy(), before[1])
    with pytest.raises(ValueError, match="keeps no state"):
        optimizer.eval_mode([keras.Variable(np.zeros(2), name="stranger")])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls, factory, kwargs, beta_key", CASES)
def test_train_mode_after_new_weights_in_eval_mode_uses_the_formula(cls, factory, kwargs, beta_key, dtype):
    """Weights assigned while in eval mode are an x: train_mode maps them with the official
    y = lerp(x, z, 1 - beta), within a few roundings (the path a reload in eval mode takes)."""
    rng = np.random.default_rng(3)
    variable = keras.Variable(rng.normal(size=(4, 3)), dtype=dtype)
    optimizer = cls(**kwargs)
    for _ in range(5):
        optimizer.apply_gradients([(tf.constant(rng.normal(size=(4, 3)), dtype), variable)])
    beta = getattr(optimizer, beta_key)
    y = variable.numpy().astype(np.float64)
    z = optimizer.get_slot(variable, "z").numpy().astype(np.float64)
    optimizer.eval_mode()
    x = variable.numpy().astype(np.float64)
    new_x = (x + 0.25).astype(dtype)
    variable.assign(new_x)
    optimizer.train_mode()
    eps = np.finfo(dtype).eps
    want = y_from_x(new_x.astype(np.float64), z, beta)
    np.testing.assert_allclose(variable.numpy(), want, rtol=0, atol=4 * eps * np.max(np.abs(new_x) + np.abs(z - new_x)))
    # The formula itself, from the x eval_mode wrote: within a few roundings of the exact y.
    bound = 4 * eps * (np.abs(y) + np.abs(z - y))
    assert np.all(np.abs(y_from_x(x, z, beta) - y) <= bound)
    assert np.max(np.abs(variable.numpy() - y)) > 0.1  # the new weights were not discarded


@pytest.mark.parametrize("jit_compile, n", [(False, 20_000), (True, 100_000)])
def test_compensated_weight_sum_stays_accurate_in_float32(jit_compile, n):
    """moments.compensated_add, as the optimizer's weight_sum uses it, in a graph and under XLA
    (neither may simplify the compensation away): many equal float32 terms."""
    from keras_optim_zoo.moments import compensated_add

    term = np.float32(0.0025) ** 2

    @tf.function(jit_compile=jit_compile)
    def sums():
        def body(i, plain, total, compensation):
            total, compensation = compensated_add(total, compensation, term)
            return i + 1, plain + term, total, compensation

        zero = tf.constant(0.0, tf.float32)
        _, plain, total, compensation = tf.while_loop(lambda i, *_: i < n, body, (0, zero, zero, zero))
        return plain, total - compensation

    plain, compensated = (float(v) for v in sums())
    exact = n * float(term)
    assert abs(compensated / exact - 1) < 1e-7
    assert abs(plain / exact - 1) > 1e-5  # what the compensation avoids


def test_before_the_first_step_the_switch_changes_nothing():
    variable = keras.Variable(np.arange(3.0))
    optimizer = koz.ZooScheduleFreeSGD()
    optimizer.eval_mode([variable])  # not built: nothing to do
    optimizer.build([variable])
    optimizer.eval_mode([variable])  # built, no step yet: z is not set, x = y
    np.testing.assert_array_equal(variable.numpy(), np.arange(3.0))
    assert optimizer.in_eval_mode
    optimizer.train_mode()
    np.testing.assert_array_equal(variable.numpy(), np.arange(3.0))


@pytest.mark.parametrize("cls, factory, kwargs, beta_key", CASES)
def test_sparse_gradients_equal_dense(cls, factory, kwargs, beta_key):
    """Embedding-style IndexedSlices with repeated rows give the dense result, y and x alike."""
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 4, size=(2, 3)).astype("int32") for _ in range(8)]
    start = rng.normal(size=(5, 3))
    results = []
    for densify in (False, True):
        table = keras.Variable(start, dtype="float64")
        optimizer = cls(**kwargs)
        for tokens in batches:
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(tf.gather(table.value, tokens)))
            (grad,) = tape.gradient(loss, [table.value])
            assert isinstance(grad, tf.IndexedSlices)
            optimizer.apply_gradients([(tf.convert_to_tensor(grad) if densify else grad, table)])
        y = table.numpy()
        optimizer.eval_mode()
        results.append((y, table.numpy()))
    assert np.max(np.abs(results[0][0] - start)) > 1e-3
    for sparse_value, dense_value in zip(*results):
        np.testing.assert_allclose(sparse_value, dense_value, rtol=1e-12, atol=1e-15)


def test_keras_file_saved_in_eval_mode_reloads_in_eval_mode(tmp_path):
    """A file saved in eval mode holds x and reloads in eval mode; train_mode then recomputes y
    from x (no copy of y is saved), within a few roundings of the exact y, and training resumes
    from there. (Reloading in a fresh process is checked for every optimizer, in one subprocess,
    by test_conformance.py.)"""
    x, y = _data(n=16)
    x, y = x.astype("float32"), y.astype("float32")
    callback = koz.ScheduleFreeEvalCallback()
    for case in CASES:
        cls, _, kwargs, _ = case.values
        model = _linear_model("float32")
        model.compile(optimizer=cls(**kwargs), loss="mse")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
        assert model.optimizer.in_eval_mode
        path = tmp_path / f"{case.id}.keras"
        model.save(path)  # holds x and the eval-mode flags
        x_saved = [w.copy() for w in model.get_weights()]
        z = [model.optimizer.get_slot(v, "z").numpy().astype(np.float64) for v in model.trainable_variables]
        eval_loss = model.evaluate(x, y, verbose=0)
        model.optimizer.train_mode(model)
        y_exact = [w.astype(np.float64) for w in model.get_weights()]  # put back bit for bit
        loaded = keras.models.load_model(path)
        assert type(loaded.optimizer) is cls and loaded.optimizer.in_eval_mode
        for got, want in zip(loaded.get_weights(), x_saved):
            np.testing.assert_array_equal(got, want)
        assert loaded.evaluate(x, y, verbose=0) == eval_loss
        loaded.optimizer.train_mode(loaded)
        assert not loaded.optimizer.in_eval_mode
        for got, want, zz in zip(loaded.get_weights(), y_exact, z):
            bound = 4 * np.finfo("float32").eps * (np.abs(want) + np.abs(zz - want))
            assert np.all(np.abs(got - want) <= bound)
        # Resuming from the reloaded optimizer follows the original run to float32 rounding.
        for m in (model, loaded):
            m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
        for got, want in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 6


def test_callback_needs_a_schedule_free_optimizer():
    x, y = _data(n=8)
    model = _linear_model()
    model.compile(optimizer="zoo_adam", loss="mse")
    with pytest.raises(ValueError, match="schedule-free"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[koz.ScheduleFreeEvalCallback()])
