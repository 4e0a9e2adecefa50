"""Algorithm-specific tests of the learning-rate-free methods: Prodigy and D-Adapt Adam (one step
size ``d`` estimated from all the optimizer's variables, so their NumPy references take every
variable at once: ``reference.dadapt_adam.run_jointly``; the multi-variable float64 parity lives
here) and COCOB (coin betting)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import apply_steps, descend, f32, gradient_stream, least_squares, SHAPES, TEST_FUSE_MIN_SIZE
from optimizer_table import ROWS_BY_NAME
from reference.dadapt_adam import run_jointly


# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.

LR_FREE = ["zoo_prodigy", "zoo_dadapt_adam"]


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


# --------------------------------------------------------------------------- COCOB
def test_cocob_first_step_moves_each_weight_by_one_over_alpha():
    """Step 1: L = G = |g|, theta = g, reward = 0, so tilde_w = -sign(g) / alpha (paper, Alg. 2)."""
    w0 = np.array([0.5, -1.0, 2.0, 0.0])
    g = np.array([3.0, -1e-3, 0.0, 250.0])
    variable = keras.Variable(w0, dtype="float64")
    apply_steps(koz.ZooCOCOB(alpha=100.0), variable, [g])
    np.testing.assert_allclose(variable.numpy(), w0 - np.sign(g) / 100.0, rtol=1e-15)
    assert variable.numpy()[2] == 2.0  # a zero gradient (L = epsilon, no 0/0) leaves the weight alone


def test_cocob_is_learning_rate_free():
    """The learning rate does not enter the step (it is accepted for API compatibility)."""
    rng = np.random.default_rng(2)
    w0, grads = rng.normal(size=(3, 2)), [rng.normal(size=(3, 2)) for _ in range(20)]
    results = []
    for lr in (1.0, 1e-4, 10.0):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            optimizer = koz.ZooCOCOB(learning_rate=lr)
        assert any("learning-rate free" in str(w.message) for w in caught) == (lr != 1.0)
        results.append(apply_steps(optimizer, keras.Variable(w0, dtype="float64"), grads))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    assert np.max(np.abs(results[0] - w0)) > 0.02


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_cocob_solves_least_squares_at_any_scale_with_default_arguments(scale):
    """No tuning: the same COCOB() solves the problem whether the data are tiny or huge; a fixed
    SGD learning rate that suits scale 1 diverges at scale 100 and crawls at scale 0.01."""
    a, b, _ = least_squares(seed=3)
    a, b = a.astype("float64") * scale, b.astype("float64") * scale
    x_opt, *_ = np.linalg.lstsq(a, b, rcond=None)
    best = 0.5 * np.mean((a @ x_opt - b) ** 2)

    def run(optimizer, steps=600):
        first, last = descend(optimizer, a, b, steps, "float64")
        return (last - best) / (first - best)

    assert run(koz.ZooCOCOB()) < 1e-3
    sgd = run(koz.ZooSGD(learning_rate=0.1))
    if scale == 1.0:
        assert sgd < 1e-3
    else:
        assert not sgd < 1e-3  # diverges (NaN / huge) or has not got there
