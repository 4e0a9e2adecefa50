"""Algorithm-specific tests of the steps with a closed form: ProximalAdagrad (FOBOS proximal step,
equal to TensorFlow's kernels) and ConditionalGradient (Frank-Wolfe in a norm ball)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import apply_steps


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
    got = apply_steps(optimizer, variable, grads)
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


# --------------------------------------------------------------------------- ConditionalGradient
def test_conditional_gradient_one_step_by_hand_and_tfa_form():
    # Frobenius: s = -lambda * g / ||g|| = -[0, 1]; w <- (1 - 0.25) w + 0.25 s.
    variable = keras.Variable(np.array([3.0, 4.0]), dtype="float64")
    optimizer = koz.ZooConditionalGradient(learning_rate=0.25, lambda_=1.0, epsilon=0.0)
    apply_steps(optimizer, variable, [np.array([0.0, 2.0])])
    np.testing.assert_allclose(variable.numpy(), [2.25, 2.75], rtol=1e-15)
    # TFA computed w <- lr * w - (1 - lr) * lambda_ * g / (||g|| + eps): its lr is 1 - ours.
    rng = np.random.default_rng(4)
    w, tfa_lr = rng.normal(size=(3, 4)), 0.875
    grads = [rng.normal(size=(3, 4)) for _ in range(10)]
    zoo = apply_steps(
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
    apply_steps(koz.ZooConditionalGradient(learning_rate=0.5, lambda_=4.0, ord="nuclear"), variable, [g])
    np.testing.assert_allclose(variable.numpy(), [[-2.0, 0.0], [0.0, 0.0], [0.0, 0.0]], atol=1e-15)
    # A zero gradient gives s = 0 (the SVD's arbitrary unit vectors are not used): w <- (1 - lr) w.
    apply_steps(koz.ZooConditionalGradient(learning_rate=0.5, ord="nuclear"), variable, [np.zeros((3, 2))])
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
