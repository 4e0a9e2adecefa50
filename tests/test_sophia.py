"""ZooSophia's Hessian hook and estimators (the gradient path is in the conformance table).

* ``update_hessian`` between gradient steps equals the NumPy reference (float64, rtol 1e-12),
  eagerly, in ``tf.function`` and with XLA; a by-hand example; argument errors;
* without any Hessian update every step is exactly ``lr * sign(m)`` (plain ``fit`` works);
* ``sophia_gnb_estimate`` equals its closed form on a softmax-regression model (same sampled
  labels) and its average over many draws is the Gauss-Newton diagonal;
* ``hutchinson_estimate`` equals ``u * (H u)`` with the exact Hessian (same probes);
* ``SophiaHessianCallback`` refreshes ``h`` after steps k, 2k, ... of ``fit``;
* under ``MirroredStrategy`` (a subprocess with two logical CPUs) replicas' estimates are averaged.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from keras_optim_zoo import SophiaHessianCallback, ZooSophia, hutchinson_estimate, sophia_gnb_estimate

SHAPES = ((3,), (4, 5), (2, 3, 4))


class _Background:
    """A subprocess started when the module's first test starts and read by the last one, so that
    its TensorFlow start-up overlaps the in-process tests."""

    def __init__(self, script):
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        )

    def result(self):
        stdout, stderr = self.process.communicate(timeout=300)
        return stdout, stderr, self.process.returncode

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture(scope="module", autouse=True)
def mirrored_run():
    run = _Background(MIRRORED_SCRIPT)
    yield run
    run.close()
LR = 2.0**-6  # exactly representable in float32 (Keras keeps the learning rate as float32)


def _stream(seed, steps, k):
    """Gradients for every step and, every k steps, Hessian estimates spread over orders of
    magnitude (so that some coordinates are clipped and others not), some negative, as single
    Hutchinson estimates can be."""
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
    estimates = {
        t: [np.exp(rng.normal(3.0, 3.0, size=s)) * np.where(rng.uniform(size=s) < 0.1, -1.0, 1.0) for s in SHAPES]
        for t in range(k, steps + 1, k)
    }
    return initial, grads, estimates


def _reference(variant, initial, grads, estimates):
    init, update = reference.sophia(**variant)
    out = []
    for i, w in enumerate(initial):
        w, state = np.array(w), init(np.array(w))
        for t, step in enumerate(grads, start=1):
            w, state = update(step[i], state, w, t, LR)
            if t in estimates:
                state = update.fold_hessian(state, estimates[t][i])
        out.append((w, state))
    return out


VARIANTS = [
    {},
    {"rho": 0.5, "beta_1": 0.9, "beta_2": 0.8, "weight_decay": 0.0},
    {"rho": 2.0, "epsilon": 0.05, "initial_hessian": 0.5},
]


@pytest.mark.parametrize(
    "variant, mode",
    [(v, "eager") for v in VARIANTS] + [(VARIANTS[1], "function"), (VARIANTS[2], "jit")],
    ids=["defaults-eager", "rho-eager", "epsilon+initial-eager", "rho-function", "epsilon+initial-jit"],
)
def test_update_hessian_between_steps_equals_numpy(variant, mode):
    initial, grads, estimates = _stream(0, 24, 5)
    variables = [keras.Variable(w, dtype="float64", name=f"w{i}") for i, w in enumerate(initial)]
    optimizer = ZooSophia(learning_rate=LR, **variant)

    def step(g):
        optimizer.apply_gradients(zip(g, variables))

    def refresh(h):
        optimizer.update_hessian(h, variables)

    if mode != "eager":
        step = tf.function(step, jit_compile=mode == "jit")
        refresh = tf.function(refresh, jit_compile=mode == "jit")
    for t, g in enumerate(grads, start=1):
        step([tf.constant(x) for x in g])
        if t in estimates:
            refresh([tf.constant(x) for x in estimates[t]])
    want = _reference(variant, initial, grads, estimates)
    unclipped, total = 0, 0
    for variable, (w, state), w0 in zip(variables, want, initial):
        assert np.max(np.abs(w - w0)) > 1e-2
        np.testing.assert_allclose(variable.numpy(), w, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(optimizer.get_slot(variable, "hessian").numpy(), state["hessian"], rtol=1e-12)
        np.testing.assert_allclose(optimizer.get_slot(variable, "momentum").numpy(), state["momentum"], rtol=1e-12)
        unclipped += np.sum(np.abs(state["momentum"]) < optimizer.rho * state["hessian"])
        total += w.size
    assert int(optimizer.iterations) == 24
    assert 0 < unclipped < total  # the test sees clipped and unclipped coordinates
    assert float(optimizer.unclipped_fraction()) == pytest.approx(unclipped / total, abs=1e-7)


def test_by_hand():
    w = keras.Variable([1.0, -2.0], dtype="float64")
    optimizer = ZooSophia(learning_rate=0.5, beta_1=0.5, beta_2=0.5, rho=1.0, weight_decay=0.0)
    optimizer.update_hessian([tf.constant([4.0, 0.25], "float64")], [w])  # builds; h = [2, 0.125]
    np.testing.assert_array_equal(optimizer.get_slot(w, "hessian").numpy(), [2.0, 0.125])
    optimizer.apply_gradients([(tf.constant([2.0, 2.0], "float64"), w)])
    # m = [1, 1]; m / (rho h) = [0.5, 8] -> clipped to [0.5, 1]; w - 0.5 * [0.5, 1]
    np.testing.assert_array_equal(w.numpy(), [0.75, -2.5])
    assert int(optimizer.iterations) == 1
    assert float(optimizer.unclipped_fraction()) == 0.5
    # update_hessian does not step: weights, momentum and the step count stay.
    optimizer.update_hessian([tf.constant([0.0, 1.0], "float64")])  # variables default to the built ones
    np.testing.assert_array_equal(optimizer.get_slot(w, "hessian").numpy(), [1.0, 0.5625])
    np.testing.assert_array_equal(w.numpy(), [0.75, -2.5])
    assert int(optimizer.iterations) == 1


def test_without_hessian_updates_every_step_is_lr_times_sign_of_momentum():
    """Plain compile("zoo_sophia").fit: h stays 0 and each coordinate moves by lr exactly."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.5).astype("float32")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="zoo_sophia", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # one step
    optimizer = model.optimizer
    assert isinstance(optimizer, ZooSophia) and optimizer.learning_rate.numpy() == np.float32(1e-4)
    for variable, w0 in zip(model.trainable_variables, before):
        assert np.all(optimizer.get_slot(variable, "hessian").numpy() == 0.0)
        m = optimizer.get_slot(variable, "momentum").numpy()
        lr, wd = np.float32(1e-4), np.float32(0.1)
        want = (w0 - w0 * wd * lr) - lr * np.sign(m)
        np.testing.assert_allclose(variable.numpy(), want, rtol=0, atol=2e-7)
        assert np.all(np.abs(variable.numpy() - w0 * (1 - 1e-5)) > 0.9e-4)
    assert float(optimizer.unclipped_fraction()) == 0.0
    # ... and it trains (sign momentum at a suitable learning rate).
    model.compile(optimizer=ZooSophia(learning_rate=0.1, weight_decay=0.0), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0).history["loss"]
    assert history[-1] < 0.2 * history[0], history


def test_update_hessian_errors_and_sparse_estimates():
    w = keras.Variable(np.ones((3, 2)), dtype="float32", name="table")
    optimizer = ZooSophia()
    with pytest.raises(ValueError, match="before the optimizer was built"):
        optimizer.update_hessian([np.ones((3, 2), "float32")])
    with pytest.raises(ValueError, match="1 estimates for 2 variables"):
        optimizer.update_hessian([np.ones((3, 2), "float32")], [w, keras.Variable(np.ones(2))])
    optimizer.build([w])
    with pytest.raises(ValueError, match="does not match the variable's shape"):
        optimizer.update_hessian([tf.ones((2, 3))], [w])
    with pytest.raises(ValueError, match="not one of the variables"):
        optimizer.update_hessian([tf.ones(2)], [keras.Variable(np.ones(2), name="other")])
    optimizer.update_hessian([None])  # nothing to do
    rows = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([2, 2]), tf.constant([3, 2]))
    optimizer.update_hessian([rows], [w])
    np.testing.assert_allclose(
        optimizer.get_slot(w, "hessian").numpy(), 0.01 * np.array([[0, 0], [0, 0], [4.0, 6.0]]), rtol=1e-6
    )


def test_float16_variables_take_the_hook():
    w = keras.Variable(np.full((2, 2), 0.75), dtype="float16")
    optimizer = ZooSophia(learning_rate=0.01, rho=1.0, beta_2=0.5, weight_decay=0.0)
    optimizer.update_hessian([tf.fill((2, 2), 100.0)], [w])
    optimizer.apply_gradients([(tf.fill((2, 2), tf.constant(1.0, "float16")), w)])
    # h = 50, m = 0.035, step = 0.01 * 0.035 / 50
    np.testing.assert_allclose(w.numpy().astype(np.float64), 0.75 - 0.01 * 0.035 / 50, atol=1e-3)
    assert np.all(np.isfinite(optimizer.get_slot(w, "hessian").numpy()))


# --------------------------------------------------------------------------- GNB
def _softmax_regression(seed, inputs=4, classes=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((inputs,), dtype="float64"), keras.layers.Dense(classes, dtype="float64")])


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("from_logits", [True, False])
def test_gnb_equals_its_closed_form_on_softmax_regression(from_logits):
    model = _softmax_regression(0)
    if not from_logits:
        model = keras.Sequential([model, keras.layers.Softmax(dtype="float64")])
    # float32-representable inputs: the outer Sequential (float32 policy) rounds its inputs to float32
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32").astype("float64")
    estimates = sophia_gnb_estimate(model, x, from_logits=from_logits, seed=17)
    kernel, bias = (v.numpy() for v in model.trainable_variables)
    logits = x @ kernel + bias
    # The labels the helper drew: the same stateless draw (int seed) from the same logits.
    labels = keras.random.categorical(
        tf.constant(logits if from_logits else np.log(_softmax(logits))), 1, dtype="int32", seed=17
    ).numpy()[:, 0]
    assert len(set(labels)) > 1
    residual = _softmax(logits) - np.eye(3)[labels]  # d CE / d logits per example
    batch = len(x)
    g_kernel, g_bias = x.T @ residual / batch, residual.mean(axis=0)
    rtol = 1e-12 if from_logits else 1e-10  # through log(softmax) and back
    np.testing.assert_allclose(estimates[0].numpy(), batch * g_kernel**2, rtol=rtol)
    np.testing.assert_allclose(estimates[1].numpy(), batch * g_bias**2, rtol=rtol)
    # batch_size overrides B (the official code's bs, e.g. tokens per step).
    scaled = sophia_gnb_estimate(model, x, from_logits=from_logits, seed=17, batch_size=1000)
    np.testing.assert_allclose(scaled[1].numpy(), 1000 * g_bias**2, rtol=rtol)


def test_gnb_average_is_the_gauss_newton_diagonal():
    """E[B g_hat^2] = (1/B) sum_b x_b^2 p_b (1 - p_b) (kernel), (1/B) sum_b p_b (1 - p_b) (bias)."""
    model = _softmax_regression(2)
    x = np.random.default_rng(3).normal(size=(4, 4))
    generator = keras.random.SeedGenerator(5)
    draw = tf.function(lambda: sophia_gnb_estimate(model, x, seed=generator))
    samples = [[e.numpy() for e in draw()] for _ in range(1500)]
    kernel, bias = (v.numpy() for v in model.trainable_variables)
    p = _softmax(x @ kernel + bias)
    expected = [(x**2).T @ (p * (1 - p)) / len(x), (p * (1 - p)).mean(axis=0)]
    for i, want in enumerate(expected):
        values = np.stack([s[i] for s in samples])
        error = np.abs(values.mean(axis=0) - want)
        assert np.all(error < 5 * values.std(axis=0) / np.sqrt(len(samples))), (error, want)


@pytest.mark.parametrize("likelihood", ["binary", "gaussian"])
def test_gnb_other_likelihoods_by_closed_form(likelihood):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((3,), dtype="float64"), keras.layers.Dense(2, dtype="float64")])
    x = np.random.default_rng(6).normal(size=(5, 3))
    generator_state = keras.random.SeedGenerator(9)
    seed_copy = keras.random.SeedGenerator(9)
    (e_kernel, e_bias) = sophia_gnb_estimate(model, x, likelihood=likelihood, seed=generator_state)
    kernel, bias = (v.numpy() for v in model.trainable_variables)
    f = x @ kernel + bias
    if likelihood == "binary":
        u = keras.random.uniform(f.shape, dtype="float64", seed=seed_copy).numpy()
        p = 1 / (1 + np.exp(-f))
        residual = p - (u < p)  # d/df [softplus(f) - y f]
    else:
        noise = keras.random.normal(f.shape, dtype="float64", seed=seed_copy).numpy()
        residual = -noise  # d/df 0.5 (f - y)^2 with y = f + noise
    count = f.size  # one label per output element
    g_kernel, g_bias = x.T @ residual / count, residual.sum(axis=0) / count
    np.testing.assert_allclose(e_kernel.numpy(), count * g_kernel**2, rtol=1e-12)
    np.testing.assert_allclose(e_bias.numpy(), count * g_bias**2, rtol=1e-12)


def test_estimator_arguments_are_checked():
    model = _softmax_regression(0)
    with pytest.raises(ValueError, match="likelihood"):
        sophia_gnb_estimate(model, np.ones((2, 4)), likelihood="poisson")
    with pytest.raises(ValueError, match="batch_size"):
        sophia_gnb_estimate(model, np.ones((2, 4)), batch_size=0)
    with pytest.raises(TypeError, match="seed"):
        sophia_gnb_estimate(model, np.ones((2, 4)), seed=1.5)
    with pytest.raises(ValueError, match="distribution"):
        hutchinson_estimate(lambda: 0.0, model.trainable_variables, distribution="uniform")


# --------------------------------------------------------------------------- Hutchinson
def _cubic_problem():
    """loss = sum(a * w^3) / 6 + 0.5 * (c . w)^2 + 0.5 * v^2 * sum(w): H_ww = diag(a w) + c c^T."""
    rng = np.random.default_rng(8)
    w0, a, c = rng.normal(size=5), rng.normal(size=5), rng.normal(size=5)
    w = keras.Variable(w0, dtype="float64", name="w")
    v = keras.Variable([1.5], dtype="float64", name="v")

    def loss_fn():
        wv, vv = w.value, v.value
        return (tf.reduce_sum(a * wv**3) / 6 + 0.5 * tf.reduce_sum(c * wv) ** 2
                + 0.5 * tf.reduce_sum(vv**2) * tf.reduce_sum(wv))

    hessian = np.zeros((6, 6))
    hessian[:5, :5] = np.diag(a * w0) + np.outer(c, c)
    hessian[:5, 5] = hessian[5, :5] = 1.5  # d2/dw dv = v
    hessian[5, 5] = w0.sum()
    return [w, v], loss_fn, hessian


@pytest.mark.parametrize("distribution", ["normal", "rademacher"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf_function"])
def test_hutchinson_equals_u_times_hessian_times_u(distribution, compiled):
    variables, loss_fn, hessian = _cubic_problem()
    estimate = lambda: hutchinson_estimate(loss_fn, variables, seed=3, distribution=distribution)  # noqa: E731
    got = np.concatenate([e.numpy() for e in (tf.function(estimate)() if compiled else estimate())])
    # The probes the helper drew: one stateless draw per variable, seeds 3 and 4.
    if distribution == "normal":
        u = [keras.random.normal(v.shape, dtype="float64", seed=3 + i).numpy() for i, v in enumerate(variables)]
    else:
        u = [2.0 * keras.random.randint(v.shape, 0, 2, seed=3 + i).numpy() - 1.0 for i, v in enumerate(variables)]
        assert set(np.concatenate(u)) == {-1.0, 1.0}
    u = np.concatenate(u)
    np.testing.assert_allclose(got, u * (hessian @ u), rtol=1e-12, atol=1e-14)


def test_hutchinson_rademacher_is_exact_for_a_diagonal_hessian_and_feeds_the_optimizer():
    w = keras.Variable([0.5, -1.0, 2.0], dtype="float64")
    loss_fn = lambda: tf.reduce_sum(w.value**4) / 12  # noqa: E731  (H = diag(w^2))
    generator = keras.random.SeedGenerator(0)
    first = hutchinson_estimate(loss_fn, [w], seed=generator, distribution="rademacher")
    second = hutchinson_estimate(loss_fn, [w], seed=generator, distribution="rademacher")
    np.testing.assert_allclose(first[0].numpy(), [0.25, 1.0, 4.0], rtol=1e-15)
    np.testing.assert_allclose(second[0].numpy(), [0.25, 1.0, 4.0], rtol=1e-15)
    optimizer = ZooSophia(beta_2=0.5)
    optimizer.update_hessian(first, [w])
    np.testing.assert_allclose(optimizer.get_slot(w, "hessian").numpy(), [0.125, 0.5, 2.0], rtol=1e-15)


# --------------------------------------------------------------------------- fit callback
def test_callback_refreshes_after_every_kth_step():
    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, size=40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    optimizer = koz.wrappers.Lookahead(ZooSophia(learning_rate=0.01), sync_period=5)  # found through the wrapper
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sophia = optimizer.inner_optimizer
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(np.sum(sophia.get_slot(model.trainable_variables[1], "hessian").numpy())))

    refresh = SophiaHessianCallback(x, update_period=3, batch_size=8)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[refresh, Record()])  # 10 steps
    assert refresh.updates == 3
    changed = [t for t in range(1, 11) if seen[t - 1] != (seen[t - 2] if t > 1 else 0.0)]
    assert changed == [3, 6, 9]
    for variable in model.trainable_variables:  # GNB estimates are squares: h >= 0, not all 0
        h = sophia.get_slot(variable, "hessian").numpy()
        assert np.all(h >= 0) and np.any(h > 0)

    hutchinson = SophiaHessianCallback((x, y), update_period=2, estimator="hutchinson", distribution="rademacher")
    model.fit(x[:8], y[:8], batch_size=4, epochs=1, verbose=0, callbacks=[hutchinson])
    assert hutchinson.updates == 1  # after step 12 (steps 11 and 12 of the optimizer)


def test_callback_arguments_and_optimizer_are_checked():
    with pytest.raises(ValueError, match="update_period"):
        SophiaHessianCallback(np.ones((4, 2)), update_period=0)
    with pytest.raises(TypeError, match="distribution"):
        SophiaHessianCallback(np.ones((4, 2)), distribution="normal")  # a Hutchinson argument for GNB
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="ZooSophia"):
        model.fit(np.ones((4, 2)), np.ones((4, 2)), verbose=0, callbacks=[SophiaHessianCallback(np.ones((4, 2)), 1)])


# --------------------------------------------------------------------------- tf.distribute
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_optim_zoo import ZooSophia
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        w = keras.Variable(np.zeros(3), dtype="float64")
        optimizer = ZooSophia(beta_2=0.5)
        optimizer.build([w])

    @tf.function
    def refresh():
        def replica():
            index = tf.distribute.get_replica_context().replica_id_in_sync_group
            optimizer.update_hessian([tf.cast(index + 1, "float64") * tf.constant([2.0, 4.0, 8.0], "float64")], [w])
        strategy.run(replica)

    refresh()
    copies = [v.numpy() for v in optimizer.get_slot(w, "hessian").value.values]
    print("COPIES", [c.tolist() for c in copies])
    """
)


def test_update_hessian_under_mirrored_strategy_averages_the_replicas(mirrored_run):
    stdout, stderr, code = mirrored_run.result()
    assert code == 0, stderr[-3000:]
    copies = eval(stdout.split("COPIES", 1)[1])
    # the replicas' estimates [2, 4, 8] and [4, 8, 16] average to [3, 6, 12]; h = 0.5 * that
    assert copies == [[1.5, 3.0, 6.0], [1.5, 3.0, 6.0]]
