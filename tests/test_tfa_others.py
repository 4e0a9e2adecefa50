"""Algorithm-specific checks, with real numbers, for the TFA successors SGDW, NovoGrad,
ProximalAdagrad, ConditionalGradient and COCOB (the table-driven checks are in test_conformance)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import least_squares


def f32(x):
    return float(np.float32(x))


def _apply(optimizer, variable, grads, dtype="float64"):
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g, dtype), variable)])
    return variable.numpy()


# --------------------------------------------------------------------------- ProximalAdagrad
@pytest.mark.parametrize(
    "l1, l2, initial",
    [(0.0, 0.0, 0.1), (0.5, 0.0, 0.1), (0.0, 0.5, 0.1), (0.02, 0.3, 0.5)],
    ids=["plain", "l1", "l2", "l1_l2"],
)
def test_proximal_adagrad_equals_the_tensorflow_kernel(l1, l2, initial):
    """200 float64 steps against tf.raw_ops.ResourceApplyProximalAdagrad (TF's own kernel)."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 4))
    grads = [rng.normal(size=(5, 4)) for _ in range(200)]
    lr = 0.125  # exactly representable in float32: Keras stores the learning rate as float32
    var = tf.Variable(w0)
    accum = tf.Variable(np.full_like(w0, initial))
    for g in grads:
        tf.raw_ops.ResourceApplyProximalAdagrad(
            var=var.handle, accum=accum.handle, lr=tf.constant(lr, tf.float64), l1=tf.constant(l1, tf.float64),
            l2=tf.constant(l2, tf.float64), grad=tf.constant(g),
        )
    optimizer = koz.ZooProximalAdagrad(
        learning_rate=lr, initial_accumulator_value=initial, l1_regularization_strength=l1,
        l2_regularization_strength=l2,
    )
    variable = keras.Variable(w0, dtype="float64")
    got = _apply(optimizer, variable, grads)
    assert np.max(np.abs(got - w0)) > 0.1
    np.testing.assert_allclose(optimizer.get_slot(variable, "accumulator").numpy(), accum.numpy(), rtol=1e-14)
    np.testing.assert_allclose(got, var.numpy(), rtol=1e-12, atol=1e-14)
    # Soft thresholding produces exact zeros, the same in both.
    np.testing.assert_array_equal(got == 0, var.numpy() == 0)
    assert np.any(got == 0) == (l1 == 0.5)


def test_proximal_adagrad_sparse_is_the_tensorflow_sparse_kernel():
    """Sparse gradients (unique indices) take the proximal step on the touched rows only, exactly as
    tf.raw_ops.ResourceSparseApplyProximalAdagrad; a dense zero gradient would shrink the others."""
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(6, 3))
    l1, l2, lr = 0.05, 0.2, 0.25
    var = tf.Variable(w0)
    accum = tf.Variable(np.full_like(w0, 0.1))
    variable = keras.Variable(w0, dtype="float64")
    optimizer = koz.ZooProximalAdagrad(
        learning_rate=lr, l1_regularization_strength=l1, l2_regularization_strength=l2
    )
    touched = set()
    for _ in range(50):
        indices = np.sort(rng.choice(5, size=2, replace=False))  # row 5 is never touched
        touched.update(indices.tolist())
        values = rng.normal(size=(2, 3))
        tf.raw_ops.ResourceSparseApplyProximalAdagrad(
            var=var.handle, accum=accum.handle, lr=tf.constant(lr, tf.float64), l1=tf.constant(l1, tf.float64),
            l2=tf.constant(l2, tf.float64), grad=tf.constant(values), indices=tf.constant(indices),
        )
        grad = tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant([6, 3]))
        optimizer.apply_gradients([(grad, variable)])
    np.testing.assert_allclose(variable.numpy(), var.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(variable.numpy()[5], w0[5])
    # The same step with a dense gradient that is zero on row 5 shrinks row 5.
    dense = keras.Variable(w0, dtype="float64")
    koz.ZooProximalAdagrad(learning_rate=lr, l1_regularization_strength=l1).apply_gradients(
        [(tf.zeros((6, 3), tf.float64), dense)]
    )
    eta = lr / np.sqrt(0.1)
    np.testing.assert_allclose(dense.numpy(), np.sign(w0) * np.maximum(np.abs(w0) - eta * l1, 0), rtol=1e-15)


def test_proximal_adagrad_one_step_by_hand():
    # acc = 0.1 + 0.9^2 = 0.91; eta = 0.5 / sqrt(0.91); p = w - eta * g; then shrink.
    w0, g = np.array([1.0, -0.02, 0.3]), np.array([0.9, 0.0, -0.9])
    variable = keras.Variable(w0, dtype="float64")
    koz.ZooProximalAdagrad(learning_rate=0.5, l1_regularization_strength=0.1, l2_regularization_strength=1.0).apply_gradients(
        [(tf.constant(g), variable)]
    )
    eta = 0.5 / np.sqrt(np.array([0.91, 0.1, 0.91]))
    p = w0 - eta * g
    want = np.sign(p) * np.maximum(np.abs(p) - 0.1 * eta, 0) / (1 + eta)
    assert want[1] == 0.0  # |-0.02| < eta * l1: thresholded to exactly zero
    np.testing.assert_allclose(variable.numpy(), want, rtol=1e-15)


# --------------------------------------------------------------------------- COCOB
def test_cocob_first_step_moves_each_weight_by_one_over_alpha():
    """Step 1: L = G = |g|, theta = g, reward = 0, so tilde_w = -sign(g) / alpha (paper, Alg. 2)."""
    w0 = np.array([0.5, -1.0, 2.0, 0.0])
    g = np.array([3.0, -1e-3, 0.0, 250.0])
    variable = keras.Variable(w0, dtype="float64")
    _apply(koz.ZooCOCOB(alpha=100.0), variable, [g])
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
        results.append(_apply(optimizer, keras.Variable(w0, dtype="float64"), grads))
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
        x = keras.Variable(np.zeros((a.shape[1], 1)), dtype="float64")

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = 0.5 * tf.reduce_mean(tf.square(tf.matmul(a, x.value) - b))
            optimizer.apply_gradients([(tape.gradient(loss, x.value), x)])
            return loss

        first = float(step())
        for _ in range(steps):
            last = float(step())
        return (last - best) / (first - best)

    assert run(koz.ZooCOCOB()) < 1e-3
    sgd = run(koz.ZooSGD(learning_rate=0.1))
    if scale == 1.0:
        assert sgd < 1e-3
    else:
        assert not sgd < 1e-3  # diverges (NaN / huge) or has not got there


# --------------------------------------------------------------------------- ConditionalGradient
def test_conditional_gradient_one_step_by_hand_and_tfa_form():
    # Frobenius: s = -lambda * g / ||g|| = -[0, 1]; w <- (1 - 0.25) w + 0.25 s.
    variable = keras.Variable(np.array([3.0, 4.0]), dtype="float64")
    optimizer = koz.ZooConditionalGradient(learning_rate=0.25, lambda_=1.0, epsilon=0.0)
    _apply(optimizer, variable, [np.array([0.0, 2.0])])
    np.testing.assert_allclose(variable.numpy(), [2.25, 2.75], rtol=1e-15)
    # TFA computed w <- lr * w - (1 - lr) * lambda_ * g / (||g|| + eps): its lr is 1 - ours.
    rng = np.random.default_rng(4)
    w, tfa_lr = rng.normal(size=(3, 4)), 0.875
    grads = [rng.normal(size=(3, 4)) for _ in range(10)]
    zoo = _apply(
        koz.ZooConditionalGradient(learning_rate=1 - tfa_lr, lambda_=0.5), keras.Variable(w, dtype="float64"), grads
    )
    for g in grads:
        w = tfa_lr * w - (1 - tfa_lr) * 0.5 * g / (np.sqrt(np.sum(g**2)) + 1e-7)
    np.testing.assert_allclose(zoo, w, rtol=1e-13)


@pytest.mark.parametrize("ord", ["fro", "nuclear"])
def test_conditional_gradient_iterates_stay_in_the_ball(ord):
    """Each step is a convex combination of w and a point of the ball: started inside the ball
    (radius lambda_), the iterates never leave it, for any step size in [0, 1] and any gradients."""
    lam = 2.0
    norm = (lambda w: np.linalg.norm(w)) if ord == "fro" else (lambda w: np.linalg.norm(w, "nuc"))
    rng = np.random.default_rng(5)
    w0 = rng.normal(size=(4, 3))
    w0 *= 0.9 * lam / norm(w0)
    variable = keras.Variable(w0, dtype="float64")
    schedule = keras.optimizers.schedules.InverseTimeDecay(1.0, 2, 1.0)  # 2 / (t + 2), starts at 1
    optimizer = koz.ZooConditionalGradient(learning_rate=schedule, lambda_=lam, ord=ord)
    norms = []
    for _ in range(60):
        g = rng.normal(size=(4, 3)) * 10.0 ** rng.uniform(-3, 3)
        optimizer.apply_gradients([(tf.constant(g), variable)])
        norms.append(norm(variable.numpy()))
    assert max(norms) <= lam * (1 + 1e-12)
    assert norms[0] == pytest.approx(lam, rel=1e-6)  # step 1 has lr = 1: w jumps to the vertex s
    # Started outside, the iterates are pulled in: ||w_t|| <= (1 - lr)^t ||w_0|| + lambda.
    variable.assign(w0 * 50)
    optimizer = koz.ZooConditionalGradient(learning_rate=0.1, lambda_=lam, ord=ord)
    for t in range(1, 41):
        optimizer.apply_gradients([(tf.constant(rng.normal(size=(4, 3))), variable)])
        assert norm(variable.numpy()) <= 0.9**t * norm(w0 * 50) + lam * (1 + 1e-12)


def test_conditional_gradient_nuclear_direction_is_the_top_singular_pair():
    g = np.diag([3.0, 1.0, 0.5])[:, :2]  # 3 x 2, top singular pair e_1, e_1
    variable = keras.Variable(np.zeros((3, 2)), dtype="float64")
    _apply(koz.ZooConditionalGradient(learning_rate=0.5, lambda_=4.0, ord="nuclear"), variable, [g])
    np.testing.assert_allclose(variable.numpy(), [[-2.0, 0.0], [0.0, 0.0], [0.0, 0.0]], atol=1e-15)
    # A zero gradient gives s = 0 (the SVD's arbitrary unit vectors are not used): w <- (1 - lr) w.
    _apply(koz.ZooConditionalGradient(learning_rate=0.5, ord="nuclear"), variable, [np.zeros((3, 2))])
    np.testing.assert_allclose(variable.numpy(), [[-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]], atol=1e-15)


def test_conditional_gradient_nuclear_never_takes_the_fused_xla_path():
    """XLA's SVD is another (iterative) algorithm: ~1e-9 in float64 and very slow on CPU."""
    big = keras.Variable(np.zeros((64, 64)))
    assert koz.ZooConditionalGradient(fuse_min_size=1024)._fuses(big)
    assert not koz.ZooConditionalGradient(ord="nuclear", fuse_min_size=1024)._fuses(big)


def test_conditional_gradient_nuclear_trains_under_xla():
    """Matrix regression under jit_compile=True: the loss falls and ||W||_* stays <= lambda_."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(32, 4)).astype("float32"))
    y = tf.matmul(x, tf.constant(rng.normal(size=(4, 3)).astype("float32")))
    w = keras.Variable(np.zeros((4, 3), "float32"))
    schedule = keras.optimizers.schedules.InverseTimeDecay(1.0, 2, 1.0)
    optimizer = koz.ZooConditionalGradient(learning_rate=schedule, lambda_=6.0, ord="nuclear")

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w.value) - y))
        optimizer.apply_gradients([(tape.gradient(loss, w.value), w)])
        return loss

    losses = [float(step()) for _ in range(30)]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.2 * losses[0], losses
    assert np.linalg.norm(w.numpy(), "nuc") <= 6.0 * (1 + 1e-5)


# --------------------------------------------------------------------------- NovoGrad
def test_novograd_keeps_one_scalar_second_moment_per_variable():
    kernel = keras.Variable(np.ones((3, 2)), dtype="float64", name="kernel")
    bias = keras.Variable(np.ones(2), dtype="float64", name="bias")
    optimizer = koz.ZooNovoGrad(learning_rate=0.125, beta_2=0.5, epsilon=0.0, amsgrad=True)
    g1 = [np.full((3, 2), 2.0), np.array([3.0, 4.0])]  # ||.||^2 = 24 and 25
    g2 = [np.full((3, 2), 1.0), np.array([0.0, 0.0])]  # ||.||^2 = 6 and 0
    optimizer.apply_gradients(zip([tf.constant(g) for g in g1], [kernel, bias]))
    velocity = optimizer.get_slot(kernel, "velocity")
    assert tuple(velocity.shape) == () and tuple(optimizer.get_slot(kernel, "momentum").shape) == (3, 2)
    assert float(velocity.numpy()) == 24.0  # first step: ||g_1||^2, not (1 - beta_2) ||g_1||^2
    assert float(optimizer.get_slot(bias, "velocity").numpy()) == 25.0
    # Step 1 moves each weight by lr * g / ||g||: the layer's gradient direction, unit length.
    np.testing.assert_allclose(bias.numpy(), 1 - 0.125 * np.array([3.0, 4.0]) / 5.0, rtol=1e-15)
    optimizer.apply_gradients(zip([tf.constant(g) for g in g2], [kernel, bias]))
    assert float(velocity.numpy()) == 0.5 * 24 + 0.5 * 6
    assert float(optimizer.get_slot(bias, "velocity").numpy()) == 12.5
    assert float(optimizer.get_slot(kernel, "velocity_hat").numpy()) == 24.0  # max(24, 15)
    # State: the momentum plus two scalars per variable (iterations and learning rate aside).
    assert sum(int(np.prod(v.shape)) for v in optimizer.variables[2:]) == 6 + 2 + 2 * 2


def test_novograd_is_invariant_to_the_gradient_scale():
    """With epsilon = 0 the layer-wise normalization cancels any per-layer rescaling of g."""
    rng = np.random.default_rng(6)
    w0, grads = rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(15)]
    runs = [
        _apply(koz.ZooNovoGrad(learning_rate=0.05, epsilon=0.0), keras.Variable(w0, dtype="float64"),
               [g * scale for g in grads])
        for scale in (1.0, 1e-6, 1e6)
    ]
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    np.testing.assert_allclose(runs[2], runs[0], rtol=1e-12)


def test_novograd_first_step_is_per_variable():
    """A variable whose first gradient is zero starts v at its first non-zero gradient."""
    variable = keras.Variable(np.zeros(2), dtype="float64")
    optimizer = koz.ZooNovoGrad(learning_rate=0.1, beta_2=0.9)
    _apply(optimizer, variable, [np.zeros(2), np.array([0.6, 0.8])])
    assert float(optimizer.get_slot(variable, "velocity").numpy()) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(variable.numpy(), [-0.06, -0.08], rtol=1e-6)  # a unit step, not 1/sqrt(0.1)


def test_novograd_weight_decay_is_its_own_not_the_base_decoupled_one():
    """wd * w goes through the momentum (once), the base's decoupled decay is off; exclusions hold."""
    model_kernel = keras.Variable(np.full((2, 2), 2.0), dtype="float64", name="kernel")
    model_bias = keras.Variable(np.full(2, 2.0), dtype="float64", name="bias")
    optimizer = koz.ZooNovoGrad(learning_rate=0.125, weight_decay=0.5, beta_1=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    zeros = [tf.zeros((2, 2), tf.float64), tf.zeros(2, tf.float64)]
    optimizer.apply_gradients(zip(zeros, [model_kernel, model_bias]))
    # d = 0 / (0 + eps) + 0.5 * 2 = 1; m = 1; w = 2 - 0.125 * 1 (decayed once, through m).
    np.testing.assert_allclose(model_kernel.numpy(), 1.875, rtol=1e-15)
    np.testing.assert_array_equal(model_bias.numpy(), 2.0)
    optimizer.apply_gradients(zip(zeros, [model_kernel, model_bias]))
    # d = 0.5 * 1.875 = 0.9375; m = 0.5 * 1 + 0.9375 = 1.4375; w = 1.875 - 0.125 * 1.4375.
    np.testing.assert_allclose(model_kernel.numpy(), 1.875 - 0.125 * 1.4375, rtol=1e-15)
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.5 and optimizer.weight_decay == 0.5
    assert koz.ZooNovoGrad.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="weight_decay_scaling"):
        koz.ZooNovoGrad(weight_decay=0.1, weight_decay_scaling="none")


def test_novograd_float16_variable_keeps_its_squared_norm_in_float32():
    """||g||^2 of a float16 layer easily exceeds float16's 65504: the scalar state is float32."""
    variable = keras.Variable(np.zeros(1000), dtype="float16")
    optimizer = koz.ZooNovoGrad(learning_rate=0.01)
    optimizer.apply_gradients([(tf.fill([1000], tf.constant(10.0, tf.float16)), variable)])
    velocity = optimizer.get_slot(variable, "velocity")
    assert keras.backend.standardize_dtype(velocity.dtype) == "float32"
    assert float(velocity.numpy()) == pytest.approx(1e5)
    np.testing.assert_allclose(variable.numpy().astype(np.float64), -0.01 / np.sqrt(1000), rtol=1e-3)


# --------------------------------------------------------------------------- SGDW
def test_sgdw_default_decay_is_the_raw_coefficient_as_in_tfa_and_the_paper():
    """weight_decay_scaling="none" (default): with zero gradients w_t = (1 - wd)^t w_0 whatever
    the learning rate; "learning_rate": (1 - lr * wd)^t w_0."""
    w0 = np.array([1.0, -2.0, 4.0])
    zeros = [np.zeros(3)] * 10
    for lr in (0.5, 0.001):
        got = _apply(koz.ZooSGDW(learning_rate=lr, weight_decay=0.125, momentum=0.9),
                     keras.Variable(w0, dtype="float64"), zeros)
        np.testing.assert_allclose(got, 0.875**10 * w0, rtol=1e-14)
    got = _apply(
        koz.ZooSGDW(learning_rate=0.5, weight_decay=0.125, momentum=0.9, weight_decay_scaling="learning_rate"),
        keras.Variable(w0, dtype="float64"), zeros,
    )
    np.testing.assert_allclose(got, (1 - 0.0625) ** 10 * w0, rtol=1e-14)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgdw_with_learning_rate_scaling_equals_keras_sgd_with_weight_decay(momentum, nesterov):
    rng = np.random.default_rng(7)
    initial = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    grads = [[rng.normal(size=w.shape).astype("float32") for w in initial] for _ in range(20)]
    kwargs = dict(learning_rate=0.05, weight_decay=0.01, momentum=momentum, nesterov=nesterov)
    results = []
    for optimizer in (koz.ZooSGDW(weight_decay_scaling="learning_rate", **kwargs), keras.optimizers.SGD(**kwargs)):
        variables = [keras.Variable(w) for w in initial]
        for g in grads:
            optimizer.apply_gradients(zip([tf.constant(x) for x in g], variables))
        results.append([v.numpy() for v in variables])
    for zoo, builtin in zip(*results):
        np.testing.assert_array_equal(zoo, builtin)


def test_sgdw_decoupled_decay_differs_from_l2_only_through_the_momentum():
    """Without momentum, lr-scaled decoupled decay is L2 regularization (w - lr (g + wd w)); with
    momentum, L2's wd * w accumulates in the velocity and decays much more."""
    rng = np.random.default_rng(8)
    w0 = rng.normal(size=(5,))
    grads = [rng.normal(size=(5,)) for _ in range(30)]
    wd, lr = 0.5, 0.125

    def l2(momentum):
        w, m = w0.copy(), np.zeros(5)
        for g in grads:
            m = momentum * m - lr * (g + wd * w)
            w = w + m
        return w

    def sgdw(momentum):
        optimizer = koz.ZooSGDW(learning_rate=lr, weight_decay=wd, momentum=momentum,
                                weight_decay_scaling="learning_rate")
        return _apply(optimizer, keras.Variable(w0, dtype="float64"), grads)

    np.testing.assert_allclose(sgdw(0.0), l2(0.0), rtol=1e-12)
    decoupled, coupled = sgdw(0.9), l2(0.9)
    assert np.max(np.abs(decoupled - coupled)) > 0.1
    # Zero gradients isolate the decay: decoupled shrinks by (1 - lr wd) per step, L2 with momentum
    # by up to ~(1 - lr wd / (1 - momentum)) per step once the velocity has built up.
    grads, wd = [np.zeros(5)] * 30, 0.0625  # exact in float32, as Keras's decay step needs
    np.testing.assert_allclose(sgdw(0.9), (1 - 0.125 * 0.0625) ** 30 * w0, rtol=1e-13)  # 0.79 w0
    assert np.max(np.abs(l2(0.9) / w0)) < 0.15


def test_sgdw_requires_a_weight_decay():
    with pytest.raises(TypeError, match="ZooSGD"):
        koz.ZooSGDW(weight_decay=None)
    config = koz.ZooSGDW().get_config()
    assert config["weight_decay"] == 1e-4 and config["weight_decay_scaling"] == "none"
