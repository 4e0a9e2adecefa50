"""Helpers the table-driven tests share: gradient streams, a reference runner, small models."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import keras
import tensorflow as tf

SHAPES = ((3,), (4, 5), (2, 3, 4))


def f32(x):
    """What a Python float becomes once Keras stores it (a float32 variable), as a float."""
    return float(np.float32(x))


def apply_steps(optimizer, variable, grads, dtype="float64"):
    """``apply_gradients`` of each gradient in ``grads`` to ``variable``; its value after them."""
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g, dtype), variable)])
    return variable.numpy()


def run_steps(optimizer, w0, grads, learning_rates=None):
    """A float64 variable from ``w0`` stepped by ``grads`` (``learning_rates``: assigned before each
    step); its value after them."""
    variable = keras.Variable(np.asarray(w0, np.float64), dtype="float64")
    for t, g in enumerate(grads):
        if learning_rates is not None:
            optimizer.learning_rate = learning_rates[t]
        optimizer.apply_gradients([(tf.constant(np.asarray(g, np.float64)), variable)])
    return variable.numpy()


def descend(optimizer, a, b, steps, dtype="float32"):
    """``steps + 1`` steps of ``optimizer`` on ``0.5 * mean((a x - b)^2)`` from ``x = 0`` (in a
    ``tf.function``); the loss at the first step and at the last."""
    x = keras.Variable(np.zeros((a.shape[1], 1), dtype))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_mean(tf.square(tf.matmul(a, x.value) - b))
        optimizer.apply_gradients([(tape.gradient(loss, x.value), x)])
        return loss

    first = last = float(step())
    for _ in range(steps):
        last = float(step())
    return first, last


def stepping(optimizer):
    """The optimizer whose step updates the variables: the inner one of a composite such as
    ``ZooRanger`` (RAdam inside Lookahead), else ``optimizer`` itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)

#: The ``fuse_min_size`` the fused-path tests give their optimizers: small test shapes (e.g.
#: (48, 32)) take the fused path, so they check the mechanism whatever the production threshold
#: (``keras_optim_zoo.engine.policy.DEFAULT_FUSE_MIN_SIZE``).
TEST_FUSE_MIN_SIZE = 1024


def gradient_stream(rng, shapes, steps, sparse):
    """``steps`` lists of per-variable gradients as ``(dense ndarray, tf gradient)`` pairs.

    Sparse gradients are ``tf.IndexedSlices`` over the first axis whose indices always repeat
    (``n + 1`` draws from ``n`` rows); the dense array is their sum per row, i.e. what the gradient
    means, and what the reference sees.
    """
    stream = []
    for _ in range(steps):
        step = []
        for shape in shapes:
            if not sparse:
                g = rng.normal(size=shape)
                step.append((g, g))
                continue
            indices = rng.integers(0, shape[0], size=shape[0] + 1)
            values = rng.normal(size=(len(indices),) + tuple(shape[1:]))
            dense = np.zeros(shape)
            np.add.at(dense, indices, values)
            step.append((dense, (values, indices)))
        stream.append(step)
    return stream


def to_tf_gradient(raw, shape, dtype):
    if isinstance(raw, tuple):
        values, indices = raw
        return tf.IndexedSlices(
            tf.constant(values, dtype), tf.constant(indices, tf.int64), tf.constant(shape, tf.int64)
        )
    return tf.constant(raw, dtype)


def run_zoo(optimizer, initial, stream, dtype="float64"):
    """Apply ``stream`` eagerly to fresh variables holding ``initial``; return their final values."""
    variables = [keras.Variable(w, dtype=dtype, name=f"w{i}") for i, w in enumerate(initial)]
    for step in stream:
        grads = [to_tf_gradient(raw, w.shape, dtype) for (_, raw), w in zip(step, initial)]
        optimizer.apply_gradients(zip(grads, variables))
    return [v.numpy() for v in variables]


def run_reference(factory, variant, initial, stream, learning_rates, lazy=False):
    """The NumPy reference on the dense gradients; ``learning_rates[t-1]`` is step t's rate.

    ``lazy=True`` (optimizers whose sparse semantics are lazy, e.g. LazyAdam): for a sparse
    gradient the reference is applied to the touched rows only (the rows of the variable and of
    every state array shaped like it); untouched rows keep their weights and state.
    """
    if getattr(factory, "joint", False):
        # One step size estimated from all variables together (Prodigy, D-Adaptation): the
        # reference takes every variable at once. (Lazy sparse semantics do not apply to these.)
        init, update = factory(**variant)
        weights = [np.array(w, dtype=np.float64) for w in initial]
        state = init(weights)
        for t, step in enumerate(stream, start=1):
            weights, state = update([dense for dense, _ in step], state, weights, t, learning_rates[t - 1])
        return weights
    init, update = factory(**variant)
    results = []
    for i, w in enumerate(initial):
        w = np.array(w, dtype=np.float64)
        state = init(w.copy())
        for t, step in enumerate(stream, start=1):
            dense, raw = step[i]
            if lazy and isinstance(raw, tuple):
                rows = np.unique(raw[1])
                row_state = {k: (v[rows] if np.shape(v) == w.shape else v) for k, v in state.items()}
                new_rows, new_state = update(dense[rows], row_state, w[rows], t, learning_rates[t - 1])
                w = w.copy()
                w[rows] = new_rows
                for k, v in new_state.items():
                    if np.shape(state[k]) == w.shape:
                        full = np.array(state[k], copy=True)
                        full[rows] = v
                        state[k] = full
                    else:
                        state[k] = v
            else:
                w, state = update(dense, state, w, t, learning_rates[t - 1])
        results.append(w)
    return results


def embedding_model(seed, vocabulary=12, width=4):
    """Embedding -> mean over tokens -> Dense(1): sparse gradients for the table, dense for the rest."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(vocabulary, width),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    return model


def least_squares(seed=0, n=32, d=5):
    """A small well-conditioned least-squares problem and its optimal loss."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)).astype("float32")
    x_true = rng.normal(size=(d, 1)).astype("float32")
    b = (a @ x_true + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    x_opt, *_ = np.linalg.lstsq(a.astype(np.float64), b.astype(np.float64), rcond=None)
    best = 0.5 * np.mean((a @ x_opt - b) ** 2)
    return a, b, float(best)


# --------------------------------------------------------------------------- fresh-process reloads
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def fresh_process_command(script, *args):
    """``(argv, env)`` running ``script`` in a fresh Python process that can ``import harness``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (TESTS_DIR, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-c", script, *map(str, args)], env


def resume_keras_files(folder, stop, start=3):
    """In the fresh process: reload ``{name}.keras`` for every entry of ``folder/plan.json``, check
    the optimizer's class, config and iteration count (``start``), and train on the saved batches
    ``start .. stop - 1``. Returns ``(plan, data, {name: model})``."""
    with open(f"{folder}/plan.json") as f:
        plan = json.load(f)
    data = np.load(f"{folder}/data.npz")
    models = {}
    for name in plan:
        model = keras.models.load_model(f"{folder}/{name}.keras")
        assert type(model.optimizer).__name__ == plan[name]["class"], type(model.optimizer)
        assert model.optimizer.get_config() == plan[name]["config"], model.optimizer.get_config()
        assert int(model.optimizer.iterations) == start
        for i in range(start, stop):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        models[name] = model
    return plan, data, models
