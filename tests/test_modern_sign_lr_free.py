"""Algorithm-specific tests of Lion, signSGD/Signum, Tiger, LARS, Prodigy and D-Adapt Adam.

Prodigy and D-Adapt Adam estimate ONE step size ``d`` from all the optimizer's variables, so their
NumPy references take every variable at once (``reference.dadapt_adam.run_jointly``); the
multi-variable float64 parity lives here.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
import reference
from harness import TEST_FUSE_MIN_SIZE, SHAPES, gradient_stream, least_squares, run_zoo
from optimizer_table import ROWS_BY_NAME
from reference.dadapt_adam import run_jointly

# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.

LR_FREE = ["zoo_prodigy", "zoo_dadapt_adam"]


def f32(x):
    return float(np.float32(x))


# --------------------------------------------------------------------------- sign methods
def test_lion_equals_keras_lion_with_weight_decay_bit_for_bit():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 4)).astype("float32")
    grads = [rng.normal(size=(6, 4)).astype("float32") for _ in range(30)]
    results = []
    for cls in (koz.ZooLion, keras.optimizers.Lion):
        variable = keras.Variable(start)
        optimizer = cls(learning_rate=3e-3, beta_1=0.8, beta_2=0.95, weight_decay=0.1)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), variable)])
        results.append(variable.numpy())
    assert np.max(np.abs(results[1] - start)) > 1e-2
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("name, kwargs", [("zoo_signsgd", {}), ("zoo_signsgd", {"momentum": 0.9}),
                                          ("zoo_tiger", {}), ("zoo_lion", {})])
def test_sign_methods_move_every_coordinate_by_lr_and_zero_stays(name, kwargs):
    variable = keras.Variable(np.array([1.0, 1.0, 1.0]), dtype="float64")
    optimizer = koz.get(name, learning_rate=0.25, **kwargs)
    optimizer.apply_gradients([(tf.constant([3.0, -1e-3, 0.0], tf.float64), variable)])
    np.testing.assert_array_equal(variable.numpy(), [0.75, 1.25, 1.0])  # sign(0) = 0


def test_tiger_is_signum_with_tiger_default():
    rng = np.random.default_rng(1)
    start = rng.normal(size=(5, 3))
    stream = gradient_stream(rng, [(5, 3)], 20, sparse=False)
    tiger = run_zoo(koz.ZooTiger(0.01, fuse_min_size=TEST_FUSE_MIN_SIZE), [start], stream)
    signum = run_zoo(koz.ZooSignSGD(0.01, momentum=0.965, fuse_min_size=TEST_FUSE_MIN_SIZE), [start], stream)
    np.testing.assert_array_equal(tiger[0], signum[0])


# --------------------------------------------------------------------------- LARS exclusions
def _dense_model():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones")])
    return model


def _lars_run(optimizer, steps=6):
    model = _dense_model()
    rng = np.random.default_rng(2)
    start = [np.asarray(w, np.float64) for w in model.get_weights()]
    grads = [[rng.normal(size=w.shape) for w in start] for _ in range(steps)]
    optimizer.build(model.trainable_variables)
    for step in grads:
        optimizer.apply_gradients(zip([tf.constant(g, tf.float32) for g in step], model.trainable_variables))
    return start, grads, [w.astype(np.float64) for w in model.get_weights()]


def _lars_reference(start, grads, lr, per_variable_kwargs):
    out = []
    for i, w in enumerate(start):
        init, update = reference.lars(**per_variable_kwargs[i])
        state = init(w)
        for t, step in enumerate(grads, start=1):
            w, state = update(np.asarray(step[i], np.float32).astype(np.float64), state, w, t, f32(lr))
        out.append(w)
    return out


def test_lars_excludes_bias_from_decay_and_adaptation():
    optimizer = koz.ZooLARS(learning_rate=0.5, weight_decay=0.01, eta=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    start, grads, got = _lars_run(optimizer)
    kernel = {"weight_decay": 0.01, "eta": 0.01}
    bias = {"weight_decay": 0.0, "eta": 0.01, "exclude": True}
    want = _lars_reference(start, grads, 0.5, [kernel, {k: v for k, v in bias.items() if k != "exclude"}])
    np.testing.assert_allclose(got[0], want[0], rtol=2e-6)
    # The bias takes ratio 1 (not adapted) and no decay: plain momentum SGD.
    sgd = _lars_reference(start, grads, 0.5, [kernel, {"eta": 0.01, "weight_decay": 0.0}])
    assert not np.allclose(got[1], sgd[1], rtol=1e-3)  # the adapted rule would differ ...
    init, update = reference.sgd(momentum=0.9)  # ... the bias follows Keras-form momentum SGD
    w, state = start[1], init(start[1])
    for t, step in enumerate(grads, start=1):
        w, state = update(np.asarray(step[1], np.float32).astype(np.float64), state, w, t, 0.5)
    np.testing.assert_allclose(got[1], w, rtol=2e-6)


def test_lars_exclude_from_layer_adaptation_keeps_decay():
    optimizer = koz.ZooLARS(learning_rate=0.5, weight_decay=0.01, exclude_from_layer_adaptation=["bias"], fuse_min_size=TEST_FUSE_MIN_SIZE)
    start, grads, got = _lars_run(optimizer)
    want = _lars_reference(start, grads, 0.5, [{"weight_decay": 0.01}, {"weight_decay": 0.01}])
    np.testing.assert_allclose(got[0], want[0], rtol=2e-6)
    # Bias: not adapted (ratio 1) but decayed inside the step: v = m v + lr (g + wd w).
    w, v = start[1], np.zeros_like(start[1])
    for step in grads:
        v = 0.9 * v + 0.5 * (np.asarray(step[1], np.float32).astype(np.float64) + 0.01 * w)
        w = w - v
    np.testing.assert_allclose(got[1], w, rtol=2e-6)


def test_lars_fuses_only_when_every_variable_takes_the_same_choices():
    optimizer = koz.ZooLARS(weight_decay=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    big = keras.Variable(np.ones((64, 32), "float32"), name="kernel")
    small_bias = keras.Variable(np.ones((32,), "float32"), name="bias")
    optimizer.build([big, small_bias])
    assert not optimizer._fuses(big)
    uniform = koz.ZooLARS(weight_decay=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    uniform.build([keras.Variable(np.ones((64, 32), "float32"), name="kernel")])
    assert uniform._fuses(uniform._trainable_variables[0])


# --------------------------------------------------------------------------- Prodigy / D-Adapt Adam
def _quadratic(rng):
    """Per-variable least-squares terms: the gradient of 0.5 ||A_i w_i - b_i||^2 for each variable."""
    problems = []
    for shape in SHAPES:
        n = int(np.prod(shape))
        problems.append((rng.normal(size=(n + 2, n)) / np.sqrt(n), rng.normal(size=n + 2), shape))
    return lambda ws: [(a.T @ (a @ w.ravel() - b)).reshape(shape) for w, (a, b, shape) in zip(ws, problems)]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("name", LR_FREE)
def test_multi_variable_parity_float64(name, sparse):
    """Every variant, three shapes in ONE optimizer against the joint reference, 40 steps of a real
    problem at the default learning rate (1.0): the gradients are computed from the reference's
    weights and given to both (as ``tf.IndexedSlices`` repeating an index when ``sparse``)."""
    row = ROWS_BY_NAME[name]
    for variant in row.variants:
        rng = np.random.default_rng(7)
        initial = [rng.normal(size=shape) for shape in SHAPES]
        gradient_of = _quadratic(rng)
        variables = [keras.Variable(w, dtype="float64") for w in initial]
        optimizer = row.cls(**variant, fuse_min_size=TEST_FUSE_MIN_SIZE)
        init, update = row.reference(**variant)
        weights = [w.copy() for w in initial]
        state = init(weights)
        for t in range(1, 41):
            grads = gradient_of(weights)
            tensors = [tf.constant(g) for g in grads]
            if sparse:  # rows 0, 0, 1, ... : row 0 split in two halves, summed back by the zoo
                g = grads[1]
                values = np.concatenate([g[:1] / 2, g[:1] / 2, g[1:]])
                indices = np.concatenate([[0, 0], np.arange(1, g.shape[0])])
                tensors[1] = tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant(g.shape, tf.int64))
            optimizer.apply_gradients(zip(tensors, variables))
            weights, state = update(grads, state, weights, t, 1.0)
        assert state["d"] > 2 * variant.get("d0", 1e-6), (variant, state["d"])
        np.testing.assert_allclose(float(optimizer.d_estimate), state["d"], rtol=1e-12)
        for v, w, w0 in zip(variables, weights, initial):
            assert np.max(np.abs(w - w0)) > 1e-3, variant
            np.testing.assert_allclose(v.numpy(), w, rtol=1e-12, atol=1e-15, err_msg=str(variant))


@pytest.mark.parametrize("name", LR_FREE)
def test_joint_estimate_differs_from_per_variable_runs(name):
    """Why the table's per-variable reference runs cannot check these optimizers with >1 variable."""
    row = ROWS_BY_NAME[name]
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=shape) for shape in SHAPES]
    dense = [[g for g, _ in step] for step in gradient_stream(rng, SHAPES, 20, False)]
    lrs = [f32(row.learning_rate)] * 20
    joint, _ = run_jointly(row.reference, {}, initial, dense, lrs)
    alone, _ = run_jointly(row.reference, {}, initial[:1], [step[:1] for step in dense], lrs)
    assert not np.allclose(joint[0], alone[0], rtol=1e-6)


@pytest.mark.parametrize("name", LR_FREE)
def test_d_estimate_grows_from_d0_on_least_squares_and_is_one_variable(name):
    a, b, best = least_squares()
    kernel = keras.Variable(np.zeros((a.shape[1], 1), "float32"), name="kernel")
    bias = keras.Variable(np.zeros((1,), "float32"), name="bias")
    optimizer = koz.get(name)
    assert optimizer.d_estimate == 1e-6  # readable before the first step

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_mean(tf.square(tf.matmul(a, kernel.value) + bias.value - b))
        optimizer.apply_gradients(zip(tape.gradient(loss, [kernel.value, bias.value]), [kernel, bias]))
        return loss

    first = float(step())
    history = [float(optimizer.d_estimate)]
    for _ in range(300):
        last = float(step())
        history.append(float(optimizer.d_estimate))
    assert history[0] == pytest.approx(1e-6) and history[-1] > 1e-2, history[::50]
    assert all(later >= earlier for earlier, later in zip(history, history[1:]))  # d never decreases
    assert last - best < 1e-2 * (first - best)
    # One optimizer-wide estimate, shared by every variable (not a slot per variable).
    estimates = [v for v in optimizer.variables if v.name == "d"]
    assert len(estimates) == 1 and estimates[0] is optimizer.d_estimate and estimates[0].shape == ()


@pytest.mark.parametrize("name", LR_FREE)
def test_every_variable_contributes_to_the_estimate(name):
    """A second variable changes the estimate, hence the first variable's trajectory."""
    rng = np.random.default_rng(3)
    gradient_of = _quadratic(rng)
    initial = [rng.normal(size=shape) for shape in SHAPES]
    runs = []
    for count in (1, 3):
        variables = [keras.Variable(w, dtype="float64") for w in initial[:count]]
        optimizer = koz.get(name)
        for _ in range(30):
            grads = gradient_of([v.numpy() for v in variables] + initial[count:])[:count]
            optimizer.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        runs.append((float(optimizer.d_estimate), variables[0].numpy()))
    (d_one, w_one), (d_all, w_all) = runs
    assert d_one > 1e-5 and d_all > 1e-5 and d_one != d_all
    assert not np.allclose(w_one, w_all, rtol=1e-6)


@pytest.mark.parametrize("name", LR_FREE + ["zoo_lars", "zoo_lion"])
def test_jit_compile_matches_eager(name):
    rng = np.random.default_rng(5)
    starts = [rng.normal(size=(48, 32)).astype("float32"), rng.normal(size=(7,)).astype("float32")]
    grads = [[tf.constant(rng.normal(size=s.shape).astype("float32")) for s in starts] for _ in range(8)]
    results = []
    for wrap in (lambda f: f, lambda f: tf.function(f, jit_compile=True)):
        variables = [keras.Variable(s) for s in starts]
        optimizer = koz.get(name, learning_rate=ROWS_BY_NAME[name].learning_rate)
        optimizer.build(variables)
        step = wrap(lambda g0, g1: optimizer.apply_gradients(zip([g0, g1], variables)))
        for g in grads:
            step(*g)
        results.append([v.numpy() for v in variables] + [float(getattr(optimizer, "d_estimate", 0.0))])
    for eager, jit in zip(results[0], results[1]):
        np.testing.assert_allclose(jit, eager, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", LR_FREE)
def test_growth_rate_inf_round_trips_through_a_keras_file(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=koz.get(name), loss="mse")
    model.train_on_batch(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.optimizer.growth_rate == float("inf")
    assert float(again.optimizer.d_estimate) == float(model.optimizer.d_estimate)


def test_zero_gradients_leave_prodigy_and_dadapt_unchanged_as_the_official_code():
    for name in LR_FREE:
        variable = keras.Variable(np.array([1.0, -2.0]), dtype="float64")
        optimizer = koz.get(name, weight_decay=0.1)
        for _ in range(3):
            optimizer.apply_gradients([(tf.zeros(2, tf.float64), variable)])
        np.testing.assert_array_equal(variable.numpy(), [1.0, -2.0])
        assert float(optimizer.d_estimate) == 1e-6
