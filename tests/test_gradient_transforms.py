"""Gradient centralization and adaptive gradient clipping: the pure transforms against NumPy and by
hand, the wrappers around a Keras built-in (SGD) and a zoo optimizer (ZooAdam) against NumPy in
float64, exclusion patterns, sparse gradients, loss scaling, fit with and without XLA, a compiled
GradientTape loop, config round trips, and a fresh process that reloads ``.keras`` files and
continues bit-for-bit and trains under ``MirroredStrategy`` (the transform sees the summed gradient).
"""

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
from keras_optim_zoo import AdaptiveGradientClipping, GradientCentralization, centralize_gradient, unitwise_clip
from keras_optim_zoo.wrappers import unitwise_norm

SHAPES = ((3,), (4, 5), (2, 3, 4), (3, 3, 2, 4))
LR = 2.0**-5  # exactly representable in float32


# --------------------------------------------------------------------------- NumPy references
def np_centralize(g, conv_only=False):
    if g.ndim < (3 if conv_only else 2):
        return g
    return g - g.mean(axis=tuple(range(g.ndim - 1)), keepdims=True)


def np_unitwise_norm(x):
    if x.ndim <= 1:
        return np.sqrt(np.sum(x**2))
    return np.sqrt(np.sum(x**2, axis=tuple(range(x.ndim - 1)), keepdims=True))


def np_unitwise_clip(g, w, clipping=0.01, eps=1e-3):
    max_norm = np.maximum(np_unitwise_norm(w), eps) * clipping
    g_norm = np_unitwise_norm(g)
    return np.where(g_norm > max_norm, g * (max_norm / np.maximum(g_norm, 1e-6)), g)


# --------------------------------------------------------------------------- pure transforms
@pytest.mark.parametrize("conv_only", [False, True])
def test_centralize_gradient_equals_numpy(conv_only):
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        g = rng.normal(size=shape)
        got = centralize_gradient(tf.constant(g), conv_only=conv_only).numpy()
        want = np_centralize(g, conv_only)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        if len(shape) >= (3 if conv_only else 2):
            # every output unit's gradient has zero mean; the result is not the input
            np.testing.assert_allclose(got.mean(axis=tuple(range(len(shape) - 1))), 0.0, atol=1e-15)
            assert np.max(np.abs(got - g)) > 1e-3
        else:
            np.testing.assert_array_equal(got, g)


def test_centralize_by_hand():
    # Dense kernel (inputs=2, units=2): column means [2, 5] are subtracted.
    got = centralize_gradient(tf.constant([[1.0, 4.0], [3.0, 6.0]])).numpy()
    np.testing.assert_array_equal(got, [[-1.0, -1.0], [1.0, 1.0]])


def test_unitwise_clip_by_hand():
    # Dense kernel (inputs=2, units=2): ||w_0|| = 5, ||w_1|| = 1 -> max norms 0.5, 0.1 (clipping 0.1)
    w = tf.constant([[3.0, 0.0], [4.0, 1.0]], "float64")
    g = tf.constant([[0.6, 0.0], [0.8, 0.05]], "float64")  # ||g_0|| = 1 > 0.5: halved; ||g_1|| = 0.05 kept
    np.testing.assert_allclose(unitwise_clip(g, w, clipping=0.1).numpy(), [[0.3, 0.0], [0.4, 0.05]], rtol=1e-15)
    np.testing.assert_allclose(unitwise_norm(w).numpy(), [[5.0, 1.0]], rtol=1e-15)
    # Rank 1: one unit, the whole vector; zero weights: the floor eps * clipping = 1e-3 * 0.1.
    b = unitwise_clip(tf.constant([3.0, 4.0], "float64"), tf.zeros(2, "float64"), clipping=0.1)
    np.testing.assert_allclose(b.numpy(), [6e-5, 8e-5], rtol=1e-12)


def test_unitwise_clip_equals_numpy():
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        w, g = rng.normal(size=shape), rng.normal(size=shape)
        for clipping in (0.01, 0.3, 10.0):
            got = unitwise_clip(tf.constant(g), tf.constant(w), clipping=clipping).numpy()
            np.testing.assert_allclose(got, np_unitwise_clip(g, w, clipping), rtol=1e-13, atol=1e-16)
        ratio = np_unitwise_norm(unitwise_clip(tf.constant(g), tf.constant(w), 0.3).numpy()) / np_unitwise_norm(w)
        assert np.all(ratio <= 0.3 * (1 + 1e-12))
    half = unitwise_clip(tf.constant(g, "float16"), tf.constant(w, "float16"), clipping=0.3)
    assert half.dtype == tf.float16


# --------------------------------------------------------------------------- wrappers vs NumPy
def _problem(seed, steps=12):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
    return initial, grads


CASES = {
    # name: (wrapper factory given the inner optimizer, NumPy transform of (g, w, variable index),
    #        indices of the variables whose trajectory the transform changes)
    "gc": (lambda inner: GradientCentralization(inner), lambda g, w, i: np_centralize(g), {1, 2, 3}),
    "gc_conv_only": (lambda inner: GradientCentralization(inner, conv_only=True),
                     lambda g, w, i: np_centralize(g, True), {2, 3}),
    "agc_exclude_w3": (lambda inner: AdaptiveGradientClipping(inner, clipping=0.3, exclude=["w3"]),
                       lambda g, w, i: g if i == 3 else np_unitwise_clip(g, w, 0.3), {0, 1, 2}),
    "agc_then_gc": (lambda inner: AdaptiveGradientClipping(GradientCentralization(inner), clipping=0.5, eps=0.1),
                    lambda g, w, i: np_centralize(np_unitwise_clip(g, w, 0.5, 0.1)), {0, 1, 2, 3}),
}
INNERS = {
    # Keras's SGD casts `momentum` through float32: 0.5 is exact, so float64 parity is exact too.
    "keras_sgd": (lambda: keras.optimizers.SGD(LR, momentum=0.5), lambda: reference.sgd(momentum=0.5)),
    "zoo_adam": (lambda: koz.ZooAdam(LR), lambda: reference.adam()),
}


@pytest.mark.parametrize("inner", list(INNERS))
@pytest.mark.parametrize("case", list(CASES))
def test_wrapper_equals_numpy(case, inner):
    make_wrapper, transform, affected = CASES[case]
    make_inner, make_reference = INNERS[inner]
    initial, grads = _problem(2)
    variables = [keras.Variable(w, dtype="float64", name=f"w{i}") for i, w in enumerate(initial)]
    optimizer = make_wrapper(make_inner())
    for step in grads:
        optimizer.apply_gradients(zip([tf.constant(g) for g in step], variables))
    init, update = make_reference()
    for i, (variable, w) in enumerate(zip(variables, initial)):
        w_plain, state_plain = w.copy(), init(w)
        state = init(w)
        for t, step in enumerate(grads, start=1):
            w, state = update(transform(step[i], w, i), state, w, t, LR)
            w_plain, state_plain = update(step[i], state_plain, w_plain, t, LR)
        np.testing.assert_allclose(variable.numpy(), w, rtol=1e-12, atol=1e-15)
        assert (np.max(np.abs(w - w_plain)) > 1e-4) == (i in affected), i
    assert int(optimizer.iterations) == len(grads)


def test_sparse_gradients_are_made_dense():
    table = keras.Variable(np.arange(12.0).reshape(4, 3) / 10, dtype="float64", name="embedding")
    rows = tf.IndexedSlices(tf.constant([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], "float64"), tf.constant([1, 1]),
                            tf.constant([4, 3]))
    dense = np.zeros((4, 3))
    dense[1] = [2.0, 3.0, 4.0]
    for make, transform in [(lambda o: GradientCentralization(o), np_centralize),
                            (lambda o: AdaptiveGradientClipping(o, clipping=0.2),
                             lambda g: np_unitwise_clip(g, table.numpy(), 0.2))]:
        want = table.numpy() - 0.5 * transform(dense)
        make(keras.optimizers.SGD(0.5)).apply_gradients([(rows, table)])
        np.testing.assert_allclose(table.numpy(), want, rtol=1e-14)


def test_inner_loss_scale_factor_does_not_change_the_clipping():
    """AGC's norms are those of the unscaled gradient: a loss scaled by 1024 gives the same step."""
    results = []
    for scale in (None, 1024.0):
        w = keras.Variable([[3.0, 0.0], [4.0, 1.0]], dtype="float64")
        optimizer = AdaptiveGradientClipping(keras.optimizers.SGD(1.0, loss_scale_factor=scale), clipping=0.1)
        with tf.GradientTape() as tape:
            loss = optimizer.scale_loss(tf.reduce_sum(tf.constant([[0.6, 0.0], [0.8, 0.05]], "float64") * w.value))
        optimizer.apply_gradients([(tape.gradient(loss, w.value), w)])
        results.append(w.numpy())
    np.testing.assert_allclose(results[0], [[2.7, 0.0], [3.6, 0.95]], rtol=1e-15)
    np.testing.assert_array_equal(results[0], results[1])


# --------------------------------------------------------------------------- training APIs
def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.5).astype("float32")
    return x, y


WRAPPED = {
    "agc_zoo_adam": lambda: AdaptiveGradientClipping(koz.ZooAdam(0.05), clipping=0.05, exclude=["dense_out"]),
    "agc_gc_keras_sgd": lambda: AdaptiveGradientClipping(
        GradientCentralization(keras.optimizers.SGD(0.05, momentum=0.9)), clipping=0.3),
}


def _mlp(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(1, name="dense_out")])


@pytest.mark.parametrize(
    "name, modes",
    [("agc_zoo_adam", ("fit", "fit_jit")), ("agc_gc_keras_sgd", ("fit", "tape_jit"))],
)
def test_fit_xla_and_compiled_tape_loops_agree(name, modes):
    x, y = _data()
    results = []
    for mode in modes:
        model = _mlp()
        if mode.startswith("fit"):
            model.compile(optimizer=WRAPPED[name](), loss="mse", jit_compile=mode == "fit_jit")
            history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
            assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0], history
        else:
            optimizer = WRAPPED[name]()

            @tf.function(jit_compile=mode == "tape_jit")
            def step(xb, yb):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(xb) - yb))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))

            for _ in range(3):
                for start in range(0, 64, 16):
                    step(x[start : start + 16], y[start : start + 16])
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_transforms_what_the_inner_optimizer_gets():
    """One fit step with the wrapper == one step of the bare optimizer on the transformed gradient."""
    x, y = _data()
    model = _mlp()
    model.compile(optimizer=AdaptiveGradientClipping(keras.optimizers.SGD(0.1), clipping=0.01,
                                                     exclude=["dense_out"]), loss="mse")
    manual = _mlp()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(manual(x) - y))
    grads = tape.gradient(loss, manual.trainable_variables)
    want = []
    for g, v in zip(grads, manual.trainable_variables):
        g = g.numpy()
        if "dense_out" not in v.path:
            clipped = np_unitwise_clip(g, v.numpy(), 0.01)
            assert np.max(np.abs(clipped - g)) > 1e-3  # the clipping is active
            g = clipped
        want.append(v.numpy() - np.float32(0.1) * g)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_invalid_arguments():
    optimizer = AdaptiveGradientClipping(GradientCentralization("zoo_lion", conv_only=True, exclude="bias"),
                                         clipping=0.02, eps=1e-4, exclude=["predictions", "embedding"])
    config = optimizer.get_config()
    assert config["clipping"] == 0.02 and config["eps"] == 1e-4 and config["exclude"] == ["predictions", "embedding"]
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is AdaptiveGradientClipping and again.get_config() == config
    inner = again.inner_optimizer
    assert type(inner) is GradientCentralization and inner.conv_only and inner.exclude == ["bias"]
    assert type(inner.inner_optimizer) is koz.ZooLion
    for kwargs, error, words in [
        ({"clipping": 0.0}, ValueError, ["clipping", "(0, inf]"]),
        ({"clipping": "0.1"}, TypeError, ["clipping", "real number"]),
        ({"eps": -1e-3}, ValueError, ["eps", "[0, inf]"]),
        ({"exclude": 3}, TypeError, ["exclude", "regular expressions"]),
        ({"exclude": ["("]}, ValueError, ["exclude", "invalid regular expression"]),
        ({"learning_rate": 0.1}, ValueError, ["learning_rate", "inner optimizer"]),
        ({"clip": 0.1}, TypeError, ["clip"]),
    ]:
        with pytest.raises(error) as info:
            AdaptiveGradientClipping("sgd", **kwargs)
        assert all(word in str(info.value) for word in words), (kwargs, str(info.value))
    with pytest.raises(TypeError, match="conv_only"):
        GradientCentralization("sgd", conv_only="yes")
    with pytest.raises(TypeError, match="keras.optimizers.Optimizer"):
        GradientCentralization(None)


# --------------------------------------------------------------------------- fresh process, MirroredStrategy
FRESH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np, tensorflow as tf
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import keras_optim_zoo  # registers the zoo optimizers and the wrappers; nothing else is needed
    from keras_optim_zoo import AdaptiveGradientClipping, GradientCentralization
    folder = sys.argv[1]

    # MirroredStrategy on two logical CPUs: the same weights as on one device, because the
    # clipping factors come from the gradient summed over the replicas; clipping each replica's
    # half on its own (what a transform applied before the all-reduce would do) ends elsewhere.
    class PerReplicaClipping(AdaptiveGradientClipping):
        _needs_total = False

    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 4)).astype("float32")
    x[8:] *= 3.0  # the two replicas see different halves
    y = rng.normal(size=(16, 1)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    def train(distributed, make):
        with (strategy.scope() if distributed else tf.distribute.get_strategy().scope()):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])
            model.compile(optimizer=make(), loss="mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return model.get_weights()
    sgd = lambda: GradientCentralization(keras.optimizers.SGD(0.1, momentum=0.5))  # AGC, then GC
    gap = lambda a, b: max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))
    one = train(False, lambda: AdaptiveGradientClipping(sgd(), clipping=0.01))
    gaps = {
        "agc_gc": gap(one, train(True, lambda: AdaptiveGradientClipping(sgd(), clipping=0.01))),
        "per_replica_agc_gc": gap(one, train(True, lambda: PerReplicaClipping(sgd(), clipping=0.01))),
    }
    print("MIRRORED" + json.dumps(gaps), flush=True)

    deadline = time.time() + 300  # the test writes the .keras files meanwhile
    while not os.path.exists(folder + "/ready") and time.time() < deadline:
        time.sleep(0.05)
    from harness import resume_keras_files
    plan, data, models = resume_keras_files(folder, stop=6)
    out = {}
    for name, model in models.items():
        for j, w in enumerate(model.get_weights()):
            out[f"{name}/w{j}"] = w
        for j, v in enumerate(model.optimizer.variables):
            out[f"{name}/s{j}"] = v.numpy()
    np.savez(folder + "/resumed.npz", **out)
    """
)


@pytest.fixture(scope="module", autouse=True)
def fresh_process(tmp_path_factory):
    """The fresh process, started with the module's first test so that its TensorFlow start-up and
    MirroredStrategy runs overlap the in-process tests; it waits for the files of the last test."""
    folder = tmp_path_factory.mktemp("fresh")
    command, env = fresh_process_command(FRESH_SCRIPT, folder)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    yield folder, process
    if process.poll() is None:
        process.kill()
        process.communicate()


def _fresh_cases():
    return {
        "gc_keras_sgd": lambda: GradientCentralization(keras.optimizers.SGD(0.05, momentum=0.9)),
        "agc_zoo_adam": lambda: AdaptiveGradientClipping(koz.ZooAdam(0.05), clipping=0.02, exclude=["dense_1"]),
        "agc_gc_lookahead": lambda: AdaptiveGradientClipping(
            GradientCentralization(koz.wrappers.Lookahead("zoo_adam", sync_period=2)), clipping=0.05),
    }


def test_keras_file_reloads_in_a_fresh_process_and_mirrored_strategy(fresh_process):
    """Train 3 steps, save; a fresh process reloads each file and trains 3 more steps: weights and
    optimizer state equal 6 uninterrupted steps. The same process trains under MirroredStrategy."""
    folder, process = fresh_process
    rng = np.random.default_rng(0)
    data = {f"x{i}": rng.normal(size=(8, 4)).astype("float32") for i in range(6)}
    data.update({f"y{i}": rng.normal(size=(8, 1)).astype("float32") for i in range(6)})
    np.savez(folder / "data.npz", **data)
    plan, expected = {}, {}
    for name, make in _fresh_cases().items():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                                  keras.layers.Dense(1, name="dense_1")])
        model.compile(optimizer=make(), loss="mse")
        for i in range(3):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        model.save(folder / f"{name}.keras")
        plan[name] = {"class": type(model.optimizer).__name__, "config": model.optimizer.get_config()}
        for i in range(3, 6):
            model.train_on_batch(data[f"x{i}"], data[f"y{i}"])
        expected[name] = (model.get_weights(), [v.numpy() for v in model.optimizer.variables])
    (folder / "plan.json").write_text(json.dumps(plan))
    (folder / "ready").write_text("")
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    resumed = np.load(folder / "resumed.npz")
    for name, (weights, state) in expected.items():
        for j, w in enumerate(weights):
            np.testing.assert_array_equal(resumed[f"{name}/w{j}"], w, err_msg=name)
        assert len(state) == len([k for k in resumed.files if k.startswith(f"{name}/s")]), name
        for j, s in enumerate(state):
            np.testing.assert_array_equal(resumed[f"{name}/s{j}"], s, err_msg=f"{name} state {j}")
    gaps = json.loads(stdout.split("MIRRORED", 1)[1])
    assert gaps["agc_gc"] < 2e-6, gaps  # float32 reassociation only
    assert gaps["per_replica_agc_gc"] > 1e-3, gaps  # clipping before the all-reduce is another algorithm
