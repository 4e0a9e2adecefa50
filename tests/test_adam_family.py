"""Algorithm-specific checks of the Adam-family TFA successors (AdamW, LazyAdam, RAdam, AdaBelief,
Yogi, LAMB) that the table does not express: lazy rows, the rectification switch, the warm-up ramp,
the weight-decay placements, LAMB's exclusions, and TFA's published formulas written out by hand.

Every number here is computed from the formulas in the test (float64), not read back from the code.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import TEST_FUSE_MIN_SIZE

# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.

B1, B2 = 0.9, 0.999


def f32(x):
    """A learning rate as Keras stores it (a float32 variable)."""
    return float(np.float32(x))


def _variable(values, dtype="float64", name="w"):
    return keras.Variable(np.asarray(values, dtype=dtype), dtype=dtype, name=name)


def _apply(optimizer, variable, grads):
    """Apply each gradient in turn; return the weights after every step."""
    history = []
    for g in grads:
        optimizer.apply_gradients([(tf.constant(np.asarray(g, dtype=variable.dtype)), variable)])
        history.append(variable.numpy().copy())
    return history


# --------------------------------------------------------------------------- LazyAdam
def _sparse(rows, values, shape):
    return tf.IndexedSlices(
        tf.constant(np.asarray(values, dtype="float64")), tf.constant(rows, tf.int64), tf.constant(shape, tf.int64)
    )


def test_lazy_adam_leaves_untouched_rows_and_their_moments_bit_identical():
    """A 1000-row embedding. Step 1 touches rows 3, 17 (twice: summed) and 999; steps 2-4 touch
    rows 3 and 500 only. Rows 17 and 999 then keep their step-1 weights and moments bit for bit,
    where Adam keeps moving them and decays their moments; rows never touched never change."""
    rng = np.random.default_rng(0)
    table0 = rng.normal(size=(1000, 4))
    batches = [[3, 17, 17, 999], [3, 500], [500], [3]]
    lazy_table, adam_table = _variable(table0), _variable(table0)
    lazy, adam = koz.ZooLazyAdam(learning_rate=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE), koz.ZooAdam(learning_rate=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)

    def state(optimizer, table, rows):
        return [table.numpy()[rows]] + [optimizer.get_slot(table, n).numpy()[rows] for n in ("momentum", "velocity")]

    for step, rows in enumerate(batches):
        values = rng.normal(size=(len(rows), 4))
        lazy.apply_gradients([(_sparse(rows, values, (1000, 4)), lazy_table)])
        adam.apply_gradients([(_sparse(rows, values, (1000, 4)), adam_table)])
        if step == 0:
            lazy_after_1, adam_after_1 = state(lazy, lazy_table, [17, 999]), state(adam, adam_table, [17, 999])
            np.testing.assert_array_equal(lazy_after_1[0], adam_after_1[0])  # same first step

    for got, saved in zip(state(lazy, lazy_table, [17, 999]), lazy_after_1):
        np.testing.assert_array_equal(got, saved)
    w, m, v = state(adam, adam_table, [17, 999])
    assert np.min(np.abs(w - adam_after_1[0])) > 1e-4  # Adam moved them by their old momentum
    np.testing.assert_allclose(m, adam_after_1[1] * B1**3, rtol=1e-14)  # ... and decayed it
    np.testing.assert_allclose(v, adam_after_1[2] * B2**3, rtol=1e-14)
    never = np.setdiff1d(np.arange(1000), [3, 17, 500, 999])
    np.testing.assert_array_equal(lazy_table.numpy()[never], table0[never])
    for name in ("momentum", "velocity"):
        np.testing.assert_array_equal(lazy.get_slot(lazy_table, name).numpy()[never], 0.0)


def test_lazy_adam_moments_of_absent_rows_do_not_decay_and_use_the_global_step():
    """Row 0 is touched at step 1 only, row 1 first at step 3 (TFA's LazyAdam semantics)."""
    lr, g = 0.01, 0.5
    table = _variable(np.zeros((2, 1)))
    lazy, adam = koz.ZooLazyAdam(learning_rate=lr, fuse_min_size=TEST_FUSE_MIN_SIZE), koz.ZooAdam(learning_rate=lr, fuse_min_size=TEST_FUSE_MIN_SIZE)
    adam_table = _variable(np.zeros((2, 1)))
    steps = [([0], [[g]]), ([1], [[0.0]]), ([1], [[g]])]
    lazy.apply_gradients([(_sparse(*steps[0], (2, 1)), table)])
    after_first = table.numpy().copy()
    lazy.apply_gradients([(_sparse(*steps[1], (2, 1)), table)])  # row 1 present with a zero gradient
    lazy.apply_gradients([(_sparse(*steps[2], (2, 1)), table)])
    # Row 0 was absent at steps 2 and 3: its weight and moments are those of step 1.
    np.testing.assert_array_equal(table.numpy()[0], after_first[0])
    np.testing.assert_array_equal(lazy.get_slot(table, "momentum").numpy()[0], [(1 - B1) * g])
    np.testing.assert_array_equal(lazy.get_slot(table, "velocity").numpy()[0], [(1 - B2) * g * g])
    # Row 1: zero at step 2, g at step 3 -> m = (1 - b1) g, v = (1 - b2) g^2, bias correction with t = 3.
    t, lr32 = 3, f32(lr)
    alpha = lr32 * np.sqrt(1 - B2**t) / (1 - B1**t)
    want = -alpha * (1 - B1) * g / (np.sqrt((1 - B2) * g * g) + 1e-7)
    np.testing.assert_allclose(table.numpy()[1], [want], rtol=1e-13)
    # The global step's bias corrections under-correct a row's fresh moments: 0.64 lr, not ~lr.
    np.testing.assert_allclose(abs(want), 0.6391 * lr, rtol=1e-3)
    # Adam, dense, moves row 0 at steps 2 and 3 by its decaying momentum.
    for rows, values in steps:
        adam.apply_gradients([(_sparse(rows, values, (2, 1)), adam_table)])
    assert abs(adam_table.numpy()[0, 0] - after_first[0, 0]) > 1e-3


# --------------------------------------------------------------------------- RAdam
def test_radam_takes_sgd_steps_below_the_threshold_and_rectified_steps_after():
    """beta_2 = 0.999: rho_t = 1, 2.0, 3.0, 4.0, 4.996 (t <= 5, below 5), 5.994 (t = 6, rectified)."""
    lr, eps = 0.1, 1e-7
    g = np.array([0.3, -2.0])
    w = _variable([1.0, 1.0])
    history = _apply(koz.ZooRAdam(learning_rate=lr, fuse_min_size=TEST_FUSE_MIN_SIZE), w, [g] * 6)
    deltas = np.diff(np.vstack([[1.0, 1.0]] + history), axis=0)
    lr = f32(lr)
    # A constant gradient: m_hat = g exactly, so each SGD step is -lr * g.
    for t in range(5):
        np.testing.assert_allclose(deltas[t], -lr * g, rtol=1e-13)
    # t = 6: r_6 from the paper's formula (rho_6 = 5.99416375...), epsilon "hat" of the official code.
    r6 = 0.02582111280185855
    v6 = (1 - B2**6) * g**2
    want = -lr * r6 * g * np.sqrt(1 - B2**6) / (np.sqrt(v6) + eps)
    np.testing.assert_allclose(deltas[5], want, rtol=1e-10)
    np.testing.assert_allclose(deltas[5], -lr * 0.02582111 * np.sign(g), rtol=1e-5)  # r_6 lr sign(g)


def test_radam_threshold_4_and_skipping_the_early_steps():
    lr, g = 0.1, np.array([1.0])
    skip = _apply(koz.ZooRAdam(learning_rate=lr, degenerated_to_sgd=False, fuse_min_size=TEST_FUSE_MIN_SIZE), _variable([1.0]), [g] * 6)
    np.testing.assert_array_equal(np.vstack(skip[:5]), 1.0)  # the official code's default: no step
    assert skip[5][0] < 1.0
    paper = _apply(koz.ZooRAdam(learning_rate=lr, sma_threshold=4.0, fuse_min_size=TEST_FUSE_MIN_SIZE), _variable([1.0]), [g] * 5)
    # rho_5 = 4.996 >= 4: the paper's rule already rectifies step 5, with r_5 = 0.0173115...
    r5 = 0.017311503166315034
    np.testing.assert_allclose(paper[4] - paper[3], -f32(lr) * r5 / (1 + 1e-7 / np.sqrt(1 - B2**5)), rtol=1e-10)


def test_radam_tfa_warmup_then_linear_decay():
    """total_steps=10, warmup_proportion=0.2 (2 steps), lr 0.1 -> min_lr 0.01, held after step 10.

    A constant gradient 1 makes m_hat = 1, and a threshold of 1e3 keeps every step an SGD step:
    each step moves the weight by exactly -lr_t."""
    optimizer = koz.ZooRAdam(learning_rate=0.1, sma_threshold=1e3, total_steps=10, warmup_proportion=0.2, min_lr=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    history = _apply(optimizer, _variable([0.0]), [[1.0]] * 12)
    rates = -np.diff(np.concatenate([[0.0], np.ravel(history)]))
    lr = f32(0.1)
    want = [lr * 1 / 2, lr] + [lr + (0.01 - lr) / 8 * k for k in range(1, 9)] + [0.01, 0.01]
    np.testing.assert_allclose(rates, want, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(rates[:4], [0.05, 0.1, 0.08875, 0.0775], rtol=1e-7)


def test_radam_with_epsilon_0_equals_tfa_formula():
    """TFA's RectifiedAdam (epsilon added after the bias correction); with epsilon 0 the placements
    agree, so TFA's published update, transcribed here, must be reproduced."""
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=3) for _ in range(8)]
    w0 = rng.normal(size=3)
    got = _apply(koz.ZooRAdam(learning_rate=0.05, epsilon=0.0, fuse_min_size=TEST_FUSE_MIN_SIZE), _variable(w0), grads)[-1]
    lr, w, m, v = f32(0.05), w0.copy(), np.zeros(3), np.zeros(3)
    sma_inf = 2.0 / (1.0 - B2) - 1.0
    for t, g in enumerate(grads, start=1):
        sma_t = sma_inf - 2.0 * t * B2**t / (1.0 - B2**t)
        m = B1 * m + (1.0 - B1) * g
        m_corr = m / (1.0 - B1**t)
        v = B2 * v + (1.0 - B2) * g**2
        v_corr = np.sqrt(v / (1.0 - B2**t))
        if sma_t >= 5.0:
            r_t = np.sqrt((sma_t - 4.0) / (sma_inf - 4.0) * (sma_t - 2.0) / (sma_inf - 2.0) * sma_inf / sma_t)
            w = w - lr * r_t * m_corr / v_corr
        else:
            w = w - lr * m_corr
    np.testing.assert_allclose(got, w, rtol=1e-12)


# --------------------------------------------------------------------------- AdaBelief
def test_adabelief_adds_epsilon_to_s_at_every_step():
    eps, g = 1e-3, 2.0  # a visible epsilon
    optimizer = koz.ZooAdaBelief(learning_rate=0.01, epsilon=eps, fuse_min_size=TEST_FUSE_MIN_SIZE)
    w = _variable([0.0])
    _apply(optimizer, w, [[g]])
    m1 = (1 - B1) * g
    s1 = (1 - B2) * (g - m1) ** 2 + eps
    np.testing.assert_allclose(optimizer.get_slot(w, "velocity").numpy(), [s1], rtol=1e-15)
    _apply(optimizer, w, [[g]])
    m2 = B1 * m1 + (1 - B1) * g
    s2 = B2 * s1 + (1 - B2) * (g - m2) ** 2 + eps
    np.testing.assert_allclose(optimizer.get_slot(w, "velocity").numpy(), [s2], rtol=1e-15)
    # The step: epsilon again, after the bias correction (paper's Algorithm 2).
    w1 = -f32(0.01) * (m1 / (1 - B1)) / (np.sqrt(s1 / (1 - B2)) + eps)
    w2 = w1 - f32(0.01) * (m2 / (1 - B1**2)) / (np.sqrt(s2 / (1 - B2**2)) + eps)
    np.testing.assert_allclose(w.numpy(), [w2], rtol=1e-13)


def test_adabelief_steps_far_on_a_predictable_gradient_and_short_on_a_noisy_one():
    """The belief: after 30 steps of a constant gradient (perfectly predicted: g - m = b1^t g) the
    step is 2.67 times Adam's (~lr); with an alternating gradient, (g - m)^2 ~ g^2 and the two
    steps are about the same (1.06)."""
    lr = 0.001

    def last_step(cls, grads):
        history = _apply(cls(learning_rate=lr, fuse_min_size=TEST_FUSE_MIN_SIZE), _variable([0.0]), grads)
        return abs(history[-1][0] - history[-2][0])

    constant, alternating = [[1.0]] * 30, [[(-1.0) ** t] for t in range(30)]
    ratio = last_step(koz.ZooAdaBelief, constant) / last_step(koz.ZooAdam, constant)
    np.testing.assert_allclose(ratio, 2.67, rtol=0.01)
    ratio = last_step(koz.ZooAdaBelief, alternating) / last_step(koz.ZooAdam, alternating)
    np.testing.assert_allclose(ratio, 1.056, rtol=0.01)


def test_adabelief_rectified_equals_tfa_formula():
    """``tfa.optimizers.AdaBelief(rectify=True)``'s dense update (eps 1e-14 inside s and outside the
    corrected square root; SGD step with m_corr below the threshold), transcribed."""
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=3) for _ in range(8)]
    w0 = rng.normal(size=3)
    got = _apply(koz.ZooAdaBelief(learning_rate=0.05, rectify=True, fuse_min_size=TEST_FUSE_MIN_SIZE), _variable(w0), grads)[-1]
    lr, eps, w, m, v = f32(0.05), 1e-14, w0.copy(), np.zeros(3), np.zeros(3)
    sma_inf = 2.0 / (1.0 - B2) - 1.0
    for t, g in enumerate(grads, start=1):
        sma_t = sma_inf - 2.0 * t * B2**t / (1.0 - B2**t)
        m = B1 * m + (1.0 - B1) * g
        m_corr = m / (1.0 - B1**t)
        v = B2 * v + (1.0 - B2) * (g - m) ** 2 + eps
        v_corr = np.sqrt(v / (1.0 - B2**t))
        r_t = np.sqrt((sma_t - 4.0) * (sma_t - 2.0) * sma_inf / ((sma_inf - 4.0) * (sma_inf - 2.0) * sma_t + 0j)).real
        w = w - lr * (r_t * m_corr / (v_corr + eps) if sma_t >= 5.0 else m_corr)
    np.testing.assert_allclose(got, w, rtol=1e-12)


# --------------------------------------------------------------------------- Yogi
def test_yogi_second_moment_is_additive_and_signed():
    """v_0 = 1e-6; g^2 = 0.25 > v grows by (1 - b2) g^2, g^2 = 1e-8 < v shrinks by (1 - b2) g^2."""
    optimizer = koz.ZooYogi(learning_rate=0.01, fuse_min_size=TEST_FUSE_MIN_SIZE)
    w = _variable([0.0, 0.0])
    _apply(optimizer, w, [[0.5, 1e-4]])
    np.testing.assert_allclose(optimizer.get_slot(w, "velocity").numpy(), [1e-6 + 0.25e-3, 1e-6 - 1e-11], rtol=1e-14)
    # A zero gradient leaves v exactly where it is (Adam's v would decay by beta_2 every step).
    before = optimizer.get_slot(w, "velocity").numpy().copy()
    _apply(optimizer, w, [[0.0, 0.0]] * 10)
    np.testing.assert_array_equal(optimizer.get_slot(w, "velocity").numpy(), before)


def test_yogi_equals_tfa_formula_with_l1_and_l2():
    """TFA's Yogi (bias correction folded into the rate, epsilon on the raw sqrt(v), then the
    proximal step ``_solve(1 + l2 a, -w', l1 a)``), transcribed."""
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=4) for _ in range(6)]
    w0 = rng.normal(size=4) * 0.01
    l1, l2 = 0.2, 0.1
    optimizer = koz.ZooYogi(learning_rate=0.01, l1_regularization_strength=l1, l2_regularization_strength=l2, fuse_min_size=TEST_FUSE_MIN_SIZE)
    got = _apply(optimizer, _variable(w0), grads)[-1]
    lr_t, eps, w, m, v = f32(0.01), 1e-3, w0.copy(), np.zeros(4), np.full(4, 1e-6)
    for t, g in enumerate(grads, start=1):
        lr = lr_t * np.sqrt(1 - B2**t) / (1 - B1**t)
        m = m * B1 + g * (1 - B1)
        v = v + (1 - B2) * np.sign(g * g - v) * (g * g)
        per_coord_lr = lr / (np.sqrt(v) + eps)
        new_var = w - per_coord_lr * m
        a, b, c = 1 + l2 * per_coord_lr, -new_var, l1 * per_coord_lr
        w = ((c * np.sign(b) - b) / a) * (np.abs(b) > c)
    np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-18)
    assert np.sum(got == 0.0) >= 1  # the l1 step zeroes small weights exactly


def test_yogi_without_bias_correction_is_the_papers_algorithm_2():
    w = _variable([1.0])
    _apply(koz.ZooYogi(learning_rate=0.01, bias_correction=False, initial_accumulator_value=0.0, fuse_min_size=TEST_FUSE_MIN_SIZE), w, [[2.0]])
    # m_1 = 0.2, v_1 = 0.004, x_2 = x_1 - 0.01 * 0.2 / (sqrt(0.004) + 1e-3)
    np.testing.assert_allclose(w.numpy(), [1.0 - f32(0.01) * 0.2 / (np.sqrt(0.004) + 1e-3)], rtol=1e-14)


# --------------------------------------------------------------------------- AdamW
def test_adamw_weight_decay_scaling_none_vs_learning_rate():
    """One step from w = [1, -2], g = [0.5, 0.5], lr 0.1, wd 0.01: decay first, then Adam's first
    step lr * g / (|g| + eps / sqrt(1 - b2))."""
    w0, g, lr, wd = np.array([1.0, -2.0]), np.array([0.5, 0.5]), 0.1, 0.01
    adam_step = f32(lr) * g / (np.abs(g) + 1e-7 / np.sqrt(1 - B2))
    results = {}
    for scaling, factor in (("learning_rate", f32(lr) * wd), ("none", wd)):
        w = _variable(w0)
        koz.ZooAdamW(learning_rate=lr, weight_decay=wd, weight_decay_scaling=scaling, fuse_min_size=TEST_FUSE_MIN_SIZE).apply_gradients(
            [(tf.constant(g), w)]
        )
        results[scaling] = w.numpy()
        rtol = 1e-7 if scaling == "learning_rate" else 1e-15  # Keras's decay: wd cast via float32
        np.testing.assert_allclose(w.numpy(), w0 - factor * w0 - adam_step, rtol=rtol)
    # TFA's unscaled decay is 1/lr = 10 times stronger here: 0.01 * w vs 0.001 * w.
    np.testing.assert_allclose(results["learning_rate"] - results["none"], 0.009 * w0, rtol=1e-6)


def test_adamw_equals_keras_adamw_and_tfa_style_extended_adam():
    rng = np.random.default_rng(6)
    w0 = rng.normal(size=(3, 2)).astype("float32")
    grads = [rng.normal(size=(3, 2)).astype("float32") for _ in range(10)]

    def run(optimizer):
        w = keras.Variable(w0)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), w)])
        return w.numpy()

    np.testing.assert_array_equal(run(koz.ZooAdamW(0.01, weight_decay=0.05, fuse_min_size=TEST_FUSE_MIN_SIZE)), run(keras.optimizers.AdamW(0.01, 0.05)))
    tfa_adamw = koz.extend_with_decoupled_weight_decay(keras.optimizers.Adam)  # TFA's AdamW recipe
    np.testing.assert_array_equal(
        run(koz.ZooAdamW(0.01, weight_decay=0.05, weight_decay_scaling="none", fuse_min_size=TEST_FUSE_MIN_SIZE)),
        run(tfa_adamw(weight_decay=0.05, learning_rate=0.01)),
    )


def test_adamw_honours_exclude_from_weight_decay():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    kernel, bias = model.trainable_variables
    bias.assign([1.0, -1.0])
    k0 = kernel.numpy()
    optimizer = koz.ZooAdamW(learning_rate=0.5, weight_decay=0.2, fuse_min_size=TEST_FUSE_MIN_SIZE)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply_gradients(zip([tf.zeros_like(kernel), tf.zeros_like(bias)], model.trainable_variables))
    np.testing.assert_array_equal(bias.numpy(), [1.0, -1.0])
    np.testing.assert_allclose(kernel.numpy(), k0 * (1 - 0.1), rtol=1e-6)


# --------------------------------------------------------------------------- LAMB
W0, G0, LR, WD = np.array([3.0, 4.0]), np.array([1.0, -1.0]), 0.01, 0.1


def _lamb_first_step(weight_decay_in_trust_ratio):
    """One LAMB step by hand: r = g / (|g| + eps) at t = 1 (both bias corrections cancel)."""
    lr = f32(LR)
    r = G0 / (np.abs(G0) + 1e-7)
    if weight_decay_in_trust_ratio:  # paper, TFA: u = r + wd w, ratio = ||w|| / ||u||
        u = r + WD * W0
        return W0 - lr * np.linalg.norm(W0) / np.linalg.norm(u) * u
    w = W0 - lr * WD * W0  # Keras: decay first, then the trust ratio of the decayed weights
    return w - lr * np.linalg.norm(w) / np.linalg.norm(r) * r


def test_lamb_weight_decay_inside_vs_outside_the_trust_ratio():
    paper = _variable(W0)
    koz.ZooLamb(learning_rate=LR, weight_decay=WD, fuse_min_size=TEST_FUSE_MIN_SIZE).apply_gradients([(tf.constant(G0), paper)])
    np.testing.assert_allclose(paper.numpy(), _lamb_first_step(True), rtol=1e-14)
    keras_like = _variable(W0)
    koz.ZooLamb(learning_rate=LR, weight_decay=WD, weight_decay_in_trust_ratio=False, fuse_min_size=TEST_FUSE_MIN_SIZE).apply_gradients(
        [(tf.constant(G0), keras_like)]
    )
    # (rtol 1e-7: Keras's generic decay casts weight_decay through float32, also for float64.)
    np.testing.assert_allclose(keras_like.numpy(), _lamb_first_step(False), rtol=1e-7)
    builtin = _variable(W0)
    keras.optimizers.Lamb(learning_rate=LR, weight_decay=WD).apply_gradients([(tf.constant(G0), builtin)])
    np.testing.assert_allclose(keras_like.numpy(), builtin.numpy(), rtol=1e-7)
    # The documented difference, in numbers: ||u|| = ||(1.3, -0.6)|| = 1.432 vs ||r|| = 1.414 and a
    # decay rescaled by the ratio 5 / 1.432 = 3.49 instead of applied as lr * wd * w.
    np.testing.assert_allclose(paper.numpy(), [2.95460203, 4.02095291], rtol=1e-8)
    np.testing.assert_allclose(keras_like.numpy(), [2.96168002, 4.03131998], rtol=1e-8)


def test_lamb_equals_keras_lamb_with_the_decay_outside_in_float32():
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(10)]

    def run(optimizer):
        w = keras.Variable(w0)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), w)])
        return w.numpy()

    zoo = run(koz.ZooLamb(0.01, weight_decay=0.1, weight_decay_in_trust_ratio=False, fuse_min_size=TEST_FUSE_MIN_SIZE))
    np.testing.assert_array_equal(zoo, run(keras.optimizers.Lamb(0.01, weight_decay=0.1)))
    assert np.max(np.abs(run(koz.ZooLamb(0.01, weight_decay=0.1, fuse_min_size=TEST_FUSE_MIN_SIZE)) - zoo)) > 1e-4


def _dense_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="float64")])
    kernel, bias = model.trainable_variables
    bias.assign([0.5, -0.25])
    return model, kernel, bias


@pytest.mark.parametrize(
    "exclude_layer, exclude_decay, bias_adapted, bias_decayed",
    [
        (["bias"], False, False, True),  # regex on the path "sequential/dense/bias"
        (None, True, False, False),  # TFA: the weight-decay exclusions by default
        ([], True, True, False),  # nothing excluded from adaptation (keras.optimizers.Lamb)
        (["dense/kernel"], False, True, True),
    ],
)
def test_lamb_exclusions(exclude_layer, exclude_decay, bias_adapted, bias_decayed):
    model, kernel, bias = _dense_model()
    optimizer = koz.ZooLamb(learning_rate=0.1, weight_decay=0.5, exclude_from_layer_adaptation=exclude_layer, fuse_min_size=TEST_FUSE_MIN_SIZE)
    if exclude_decay:
        optimizer.exclude_from_weight_decay(var_names=["bias"])
    b0, g = bias.numpy().astype(np.float64), np.array([1.0, 1.0])
    optimizer.apply_gradients(zip([tf.zeros_like(kernel), tf.constant(g)], model.trainable_variables))
    r = g / (np.abs(g) + 1e-7)
    u = r + 0.5 * b0 if bias_decayed else r
    ratio = np.linalg.norm(b0) / np.linalg.norm(u) if bias_adapted else 1.0
    np.testing.assert_allclose(bias.numpy(), b0 - f32(0.1) * ratio * u, rtol=1e-14)


def test_lamb_fuses_only_when_every_variable_makes_the_same_choices():
    rng = np.random.default_rng(8)
    starts = [rng.normal(size=(48, 32)), rng.normal(size=(48, 32))]
    grads = [[rng.normal(size=(48, 32)) for _ in starts] for _ in range(3)]

    def run(fused):
        variables = [keras.Variable(s, name=n) for s, n in zip(starts, ("kernel", "scale"))]
        optimizer = koz.ZooLamb(0.05, weight_decay=0.1, exclude_from_layer_adaptation=["scale"], fused=fused, fuse_min_size=TEST_FUSE_MIN_SIZE)
        for step in grads:
            optimizer.apply_gradients(zip([tf.constant(g, "float32") for g in step], variables))
        return [v.numpy() for v in variables], optimizer, variables

    fused, optimizer, variables = run(True)
    readable, _, _ = run(False)
    assert not optimizer._fuses(variables[0])  # same shape, different choices: one trace would mix them
    for f, r in zip(fused, readable):
        np.testing.assert_array_equal(f, r)
    uniform = koz.ZooLamb(0.05, weight_decay=0.1, fuse_min_size=TEST_FUSE_MIN_SIZE)
    uniform.build(variables)
    assert uniform._fuses(variables[0])


@pytest.mark.parametrize("make", [koz.ZooLamb, koz.ZooLARS])
def test_layer_adaptation_patterns_are_checked_as_everywhere_else(make):
    """One helper (checks.patterns) for every pattern argument: a string is one pattern (never
    iterated character by character, the TFA pitfall), a list of strings is kept, anything else is
    a TypeError, a bad expression a ValueError; the wrappers' ``exclude`` takes the same forms."""
    from keras_optim_zoo.wrappers import GradientCentralization

    assert make(exclude_from_layer_adaptation="bias").exclude_from_layer_adaptation == ["bias"]
    assert make(exclude_from_layer_adaptation=("a", "b")).exclude_from_layer_adaptation == ["a", "b"]
    assert make().exclude_from_layer_adaptation is None
    with pytest.raises(TypeError, match="exclude_from_layer_adaptation.*list of strings"):
        make(exclude_from_layer_adaptation=[3])
    with pytest.raises(ValueError, match="invalid regular expression"):
        make(exclude_from_layer_adaptation=["("])
    assert GradientCentralization(koz.ZooSGD(), exclude="bias").exclude == ["bias"]
    with pytest.raises(TypeError, match="exclude.*list of strings"):
        GradientCentralization(koz.ZooSGD(), exclude=[3])


def test_lamb_rejects_unscaled_decay_inside_the_trust_ratio():
    with pytest.raises(ValueError, match="weight_decay_in_trust_ratio"):
        koz.ZooLamb(weight_decay=0.1, weight_decay_scaling="none", fuse_min_size=TEST_FUSE_MIN_SIZE)
    koz.ZooLamb(weight_decay=0.1, weight_decay_scaling="none", weight_decay_in_trust_ratio=False, fuse_min_size=TEST_FUSE_MIN_SIZE)


def test_lamb_is_reachable_by_name_and_keeps_its_config():
    assert type(keras.optimizers.get("zoo_lamb")) is koz.ZooLamb
    optimizer = koz.ZooLamb(weight_decay=0.01, exclude_from_layer_adaptation=["bias", "norm"], fuse_min_size=TEST_FUSE_MIN_SIZE)
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.01 and config["exclude_from_layer_adaptation"] == ["bias", "norm"]
    assert koz.ZooLamb.from_config(config).get_config() == config
