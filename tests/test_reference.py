"""The NumPy references in ``tests/reference`` equal Keras 3's built-in optimizers.

Every reference is run side by side with its Keras 3 built-in (eager
``apply_gradients`` on float64 ``keras.Variable``s of shapes (3,), (4, 5) and
(2, 3, 4), 30 steps of random float64 gradients) and compared after EVERY step.

Why there are two comparisons, and where the tolerances come from
-----------------------------------------------------------------
Keras 3 rounds some Python-float constants through float32 even when the
variables are float64:

* the learning rate lives in a float32 optimizer variable
  (0.01 -> 0.009999999776, relative error 2.2e-8);
* ``ops.cast(python_float, "float64")`` is ``tf.cast``, which first makes a
  float32 tensor: SGD's ``momentum``, Adam's and Adamax's ``beta_1``/``beta_2``
  in the bias-correction powers, Nadam's ``beta_1``/``beta_2`` and its
  hard-coded 0.96 inside ``update_step``;
* Adagrad's ``initial_accumulator_value`` goes through
  ``initializers.Constant``, which casts the same way.

Python floats combined with tensors by ``ops.multiply``/``ops.add``/operators
(e.g. ``1 - self.beta_1``, ``rho``, ``epsilon``, Nadam's ``_u_product``
update) are converted straight to float64 and are exact.

1. ``test_matches_keras_exact_constants``: the learning rate (2**-7) and every
   hyperparameter that Keras casts are chosen exactly representable in float32
   (multiples of 2**-10).  Then the casts are no-ops and the reference agrees
   with Keras to the last bits (observed: bit-identical), checked with
   rtol=1e-12.  The one exception is Nadam, whose 0.96 is hard-coded: it is
   float32-rounded (0.9599999785, rel. 2.2e-8) in ``u_t``/``u_{t+1}`` but exact
   in the ``_u_product`` update.  Such relative errors of the constants perturb
   every STEP relatively, so the weights differ by a fraction of the
   DISPLACEMENT w - w0, not of w (a weight passing near 0 would need an
   arbitrary rtol on w).  Nadam is therefore checked as
   max|w_keras - w_ref| <= 1e-6 * max|w_ref - w0| per variable and step
   (observed 4.0e-8).
2. ``test_matches_keras_default_constants``: the true Keras defaults and
   learning_rate=0.01, checked the same way, max|w_keras - w_ref| <=
   rel * max|w_ref - w0|, with
   * rel = 1e-6 for all but Adam: float32 rounding of lr (2.2e-8), momentum,
     beta_1 (1 - float32(0.9) is 2.4e-7 off 0.1, Adamax's bias correction),
     0.96 and initial_accumulator_value; observed max 2.6e-7 (Adamax),
     2.2e-7 (SGD with momentum), <= 1.1e-7 for the others;
   * rel = 2e-5 for Adam: ``beta_2_power = ops.cast(0.999, float64) ** t`` uses
     0.99900001287 instead of 0.999; the absolute error 1.29e-8 is divided by
     1 - beta_2**t ~ t * 1e-3, i.e. a 1.29e-5 relative error of
     1 - beta_2**t, 6.4e-6 after the square root in alpha_t (plus 2.4e-7 from
     beta_1 and 2.2e-8 from lr): observed 6.8e-6.  (Adamax and Nadam do not
     suffer this: Adamax has no beta_2 power, and Nadam uses the same rounded
     beta_2 in both v and its bias correction, so the rounding cancels.)

Nadam with ``schedule_decay`` (the Keras-2 / Dozat schedule) has no Keras 3
built-in: its first two steps are checked against formulas written out here
independently, and, when ``tf_keras`` is installed, 30 steps are compared with
the Keras 2 ``tf_keras.optimizers.legacy.Nadam(schedule_decay=0.004)``.
"""

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

try:  # `python -m pytest` from the repo root, or tests/ as a package
    from tests.reference import REFERENCES
except ImportError:  # pragma: no cover - pytest's rootdir-less "prepend" mode
    from reference import REFERENCES


KERAS_CLASSES = {
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adagrad": keras.optimizers.Adagrad,
    "adadelta": keras.optimizers.Adadelta,
    "adam": keras.optimizers.Adam,
    "adamax": keras.optimizers.Adamax,
    "nadam": keras.optimizers.Nadam,
}

SHAPES = [(3,), (4, 5), (2, 3, 4)]
GRAD_SCALES = [1.0, 0.01, 10.0]  # small and large gradients make epsilon matter
STEPS = 30

# (algorithm, hyperparameters other than the learning rate); every flag of
# every optimizer is switched on in at least one case, and the large-epsilon
# cases make the placement of epsilon (inside/outside sqrt, bias correction)
# visible far above the tolerance.
CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.0, "nesterov": True}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True, "momentum": 0.9}),
    ("rmsprop", {"rho": 0.5, "epsilon": 0.1, "centered": True, "momentum": 0.5}),
    ("adagrad", {}),
    ("adagrad", {"initial_accumulator_value": 1.0, "epsilon": 0.1}),
    ("adadelta", {}),
    ("adadelta", {"rho": 0.5, "epsilon": 1e-3}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"beta_1": 0.5, "beta_2": 0.75, "epsilon": 0.1, "amsgrad": True}),
    ("adamax", {}),
    ("adamax", {"beta_1": 0.5, "beta_2": 0.75, "epsilon": 0.1}),
    ("nadam", {}),
    ("nadam", {"beta_1": 0.5, "beta_2": 0.75, "epsilon": 0.1}),
]
CASE_IDS = [
    name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw in CASES
]
# The true-defaults comparison only needs the cases that keep Keras' own
# (float32-inexact) constants; the others use float32-exact values anyway.
DEFAULT_CASES = [(n, kw) for n, kw in CASES if "epsilon" not in kw]
DEFAULT_CASE_IDS = [i for i, (n, kw) in zip(CASE_IDS, CASES) if "epsilon" not in kw]


def float32_exact(x):
    """Round to a multiple of 2**-10, so float32 represents it exactly."""
    return round(x * 1024) / 1024


def with_defaults(name, kwargs):
    """All hyperparameters of the reference factory, defaults filled in."""
    params = inspect.signature(REFERENCES[name]).parameters
    full = {k: p.default for k, p in params.items()}
    full.update(kwargs)
    return full


def keras_kwargs(kwargs):
    """Drop the reference-only `schedule_decay=None` and `cautious=False` before building Keras."""
    return {k: v for k, v in kwargs.items() if k not in ("schedule_decay", "cautious")}


def make_problem(seed):
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal(s) for s in SHAPES]
    # Gradients shrink by 0.85 per step (down to ~1e-2 of the start), so
    # running maxima (AMSGrad, Adamax) and epsilon really matter.
    grads = [
        [0.85**t * scale * rng.standard_normal(s) for s, scale in zip(SHAPES, GRAD_SCALES)]
        for t in range(STEPS)
    ]
    return w0, grads


def run_keras(optimizer, w0, grads):
    """Weights after each step: list over steps of lists over variables."""
    variables = [keras.Variable(w, dtype="float64") for w in w0]
    history = []
    for gs in grads:
        optimizer.apply_gradients(
            zip([keras.ops.convert_to_tensor(g, dtype="float64") for g in gs], variables)
        )
        history.append([np.array(v.numpy()) for v in variables])
    return history


def run_reference(name, kwargs, w0, grads, lr):
    init, update = REFERENCES[name](**kwargs)
    weights = [np.array(w) for w in w0]
    states = [init(w) for w in weights]
    history = []
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            weights[i], states[i] = update(g, states[i], weights[i], t, lr)
        history.append([np.array(w) for w in weights])
    return history


def assert_close_relative_to_displacement(keras_hist, ref_hist, w0, rel):
    """max|w_keras - w_ref| <= rel * max|w_ref - w0|, per variable and step.

    Relative constant errors (float32-rounded hyperparameters) perturb each
    step relatively, so the weights differ by rel * (size of the path walked),
    independent of |w| -- an rtol on w would fail for any weight near 0.
    """
    for t, (k_ws, r_ws) in enumerate(zip(keras_hist, ref_hist), start=1):
        for i, (w_init, k, r) in enumerate(zip(w0, k_ws, r_ws)):
            displacement = np.max(np.abs(r - w_init))
            assert displacement > 0
            np.testing.assert_allclose(
                k, r, rtol=0, atol=rel * displacement,
                err_msg=f"variable {i} step {t}",
            )


# --------------------------------------------------------------------------
# Reference == Keras 3 built-in
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_matches_keras_exact_constants(name, kwargs):
    lr = 2.0**-7  # 0.0078125, exact in float32
    seed = sum(map(ord, repr((name, kwargs))))
    kwargs = {
        k: (float32_exact(v) if isinstance(v, float) and k != "epsilon" else v)
        for k, v in with_defaults(name, kwargs).items()
    }  # epsilon is never cast through float32 by Keras, so it stays as given
    w0, grads = make_problem(seed)
    keras_hist = run_keras(
        KERAS_CLASSES[name](learning_rate=lr, **keras_kwargs(kwargs)), w0, grads
    )
    ref_hist = run_reference(name, kwargs, w0, grads, lr)
    if name == "nadam":
        # Hard-coded 0.96 float32-rounded in update_step only (module docstring).
        assert_close_relative_to_displacement(keras_hist, ref_hist, w0, rel=1e-6)
    else:
        # All casts are exact: agreement to rounding (observed: bit-identical).
        for t, (k_ws, r_ws) in enumerate(zip(keras_hist, ref_hist), start=1):
            for k, r in zip(k_ws, r_ws):
                np.testing.assert_allclose(
                    k, r, rtol=1e-12, atol=1e-14, err_msg=f"{name} {kwargs} step {t}"
                )


@pytest.mark.parametrize("name,kwargs", DEFAULT_CASES, ids=DEFAULT_CASE_IDS)
def test_matches_keras_default_constants(name, kwargs):
    lr = 0.01
    seed = sum(map(ord, repr((name, kwargs)))) + 1
    kwargs = with_defaults(name, kwargs)
    w0, grads = make_problem(seed)
    keras_hist = run_keras(
        KERAS_CLASSES[name](learning_rate=lr, **keras_kwargs(kwargs)), w0, grads
    )
    ref_hist = run_reference(name, kwargs, w0, grads, lr)
    # Tolerance relative to the displacement; derivation in the module docstring.
    rel = 2e-5 if name == "adam" else 1e-6
    assert_close_relative_to_displacement(keras_hist, ref_hist, w0, rel)


def test_keras_float32_constant_rounding_is_what_we_think():
    """Pin down the float32 rounding the tolerances above are derived from."""
    # lr lives in a float32 variable.
    opt = keras.optimizers.Adam(learning_rate=0.01)
    assert float(opt.learning_rate.numpy()) == float(np.float32(0.01)) != 0.01
    # ops.cast of a Python float goes through float32 ...
    c = float(keras.ops.convert_to_numpy(keras.ops.cast(0.999, "float64")))
    assert c == float(np.float32(0.999)) and abs(c - 0.999) == pytest.approx(1.29e-8, rel=1e-2)
    # ... which is a 1.29e-5 relative error of 1 - beta_2 (Adam's bias correction).
    assert (1 - c) / (1 - 0.999) - 1 == pytest.approx(-1.29e-5, rel=1e-2)
    # ... while a Python float multiplied into a float64 tensor stays exact.
    x = keras.ops.convert_to_tensor(np.ones(1), dtype="float64")
    assert float(keras.ops.convert_to_numpy(keras.ops.multiply(0.999, x))[0]) == 0.999


# --------------------------------------------------------------------------
# Hand-computed golden numbers (reference and Keras)
# --------------------------------------------------------------------------

G = np.array([1.0, -2.0, 1e-4, -3e-6])  # includes gradients near epsilon
W0 = np.array([0.5, -0.25, 0.0, 0.0])  # 0 where the steps are tiny (see STEP_RTOL)
LR = 0.01
# Steps are recovered as W0 - w1, which loses up to |W0| * 1.1e-16 / |step|
# (about 4e-12 for Adadelta's 1.4e-5 step at W0 = 0.5) to cancellation.
STEP_RTOL = 1e-10


def first_step(name, **kwargs):
    init, update = REFERENCES[name](**kwargs)
    w1, _ = update(G, init(W0), W0, 1, LR)
    return w1


def assert_keras_first_step(name, w1, **kwargs):
    """Keras' first step equals the reference's, up to float32 constants.

    Compared on the step w1 - w0 (one weight starts at 0): lr, beta_1 and 0.96
    rounded through float32 give <= 2.4e-7 relative (1 - float32(0.9) is
    2.4e-7 off 0.1, in Adamax's and Adam's bias correction), Adam's
    float32(0.999) in sqrt(1 - beta_2**t) gives 6.4e-6 (module docstring).
    """
    opt = KERAS_CLASSES[name](learning_rate=LR, **kwargs)
    keras_w1 = run_keras(opt, [W0], [[G]])[0][0]
    rtol = 1e-5 if name == "adam" else 1e-6
    np.testing.assert_allclose(keras_w1 - W0, w1 - W0, rtol=rtol, atol=0)


def test_golden_sgd():
    np.testing.assert_allclose(first_step("sgd"), W0 - LR * G, rtol=1e-14)
    # momentum: first step equals plain SGD (m_1 = -lr g_1) ...
    np.testing.assert_allclose(first_step("sgd", momentum=0.9), W0 - LR * G, rtol=1e-14)
    # ... Nesterov looks ahead: w_1 = w_0 + 0.9*(-lr g) - lr g = w_0 - 1.9 lr g.
    np.testing.assert_allclose(
        first_step("sgd", momentum=0.9, nesterov=True), W0 - 1.9 * LR * G, rtol=1e-14
    )
    # second step with momentum: m_2 = 0.9*m_1 - lr g_2, w_2 = w_1 + m_2.
    init, update = REFERENCES["sgd"](momentum=0.9)
    w1, s1 = update(G, init(W0), W0, 1, LR)
    w2, s2 = update(2 * G, s1, w1, 2, LR)
    np.testing.assert_allclose(w2, W0 - LR * G - (0.9 * LR * G + 2 * LR * G), rtol=1e-14)
    np.testing.assert_allclose(s2["momentum"], -2.9 * LR * G, rtol=1e-14)


def test_golden_adam_first_step_is_lr_sign_g():
    eps, b2 = 1e-7, 0.999
    w1 = first_step("adam")
    # |step| = lr * |g| / (|g| + eps / sqrt(1 - beta_2)) ~ lr for |g| >> 3.2e-6
    np.testing.assert_allclose(W0 - w1, LR * G / (np.abs(G) + eps / np.sqrt(1 - b2)), rtol=STEP_RTOL)
    # ~ lr sign(g), 3.2e-6 short of it: eps / sqrt(1 - beta_2) = 3.16e-6.
    np.testing.assert_allclose((W0 - w1)[:2], LR * np.sign(G[:2]), rtol=4e-6)
    # g = 1e-4: 0.96934 lr, not 0.999 lr -> epsilon is outside the bias
    # correction ("epsilon hat"); g = -3e-6: about half a step.
    np.testing.assert_allclose((W0 - w1)[2:], [0.0096934657, -0.0048683298], rtol=1e-8)
    assert_keras_first_step("adam", w1)
    # amsgrad does not change the first step (vhat_1 = v_1).
    np.testing.assert_allclose(first_step("adam", amsgrad=True), w1, rtol=0)


def test_golden_adamax_first_step():
    eps = 1e-7
    w1 = first_step("adamax")  # m_1 = 0.1 g, u_1 = |g|, bias 0.1 -> lr g / (|g| + eps)
    np.testing.assert_allclose(W0 - w1, LR * G / (np.abs(G) + eps), rtol=STEP_RTOL)
    assert_keras_first_step("adamax", w1)


def test_golden_rmsprop_first_step():
    # v_1 = 0.1 g^2 -> step lr g / sqrt(0.1 g^2 + eps) ~ sqrt(10) lr sign(g)
    w1 = first_step("rmsprop")
    np.testing.assert_allclose(W0 - w1, LR * G / np.sqrt(0.1 * G**2 + 1e-7), rtol=STEP_RTOL)
    np.testing.assert_allclose((W0 - w1)[:2], np.sqrt(10) * LR * np.sign(G[:2]), rtol=1e-6)
    assert_keras_first_step("rmsprop", w1)
    # centered: mg_1 = 0.1 g, denominator 0.1 g^2 - 0.01 g^2 + eps = 0.09 g^2 + eps
    w1c = first_step("rmsprop", centered=True)
    np.testing.assert_allclose(W0 - w1c, LR * G / np.sqrt(0.09 * G**2 + 1e-7), rtol=STEP_RTOL)
    assert_keras_first_step("rmsprop", w1c, centered=True)


def test_golden_adagrad_first_step():
    w1 = first_step("adagrad")  # accumulator starts at 0.1
    np.testing.assert_allclose(W0 - w1, LR * G / np.sqrt(0.1 + G**2 + 1e-7), rtol=STEP_RTOL)
    np.testing.assert_allclose(W0[0] - w1[0], 0.01 / np.sqrt(1.1000001), rtol=STEP_RTOL)
    assert_keras_first_step("adagrad", w1)


def test_golden_adadelta_first_step():
    # dx_1 = -sqrt(0 + eps) / sqrt(0.05 g^2 + eps) * g: tiny, ~ sqrt(20 eps) sign(g)
    w1 = first_step("adadelta")
    dx = -np.sqrt(1e-7) / np.sqrt(0.05 * G**2 + 1e-7) * G
    np.testing.assert_allclose(w1, W0 + LR * dx, rtol=1e-14)
    np.testing.assert_allclose((w1 - W0)[0], -LR * np.sqrt(1e-7 / (0.05 + 1e-7)), rtol=STEP_RTOL)
    assert_keras_first_step("adadelta", w1)


def test_golden_nadam_first_step():
    # Keras 3 schedule: mu_1 = 0.9*(1 - 0.5*0.96) = 0.468,
    # mu_2 = 0.9*(1 - 0.5*0.96**2) = 0.48528; m_1 = 0.1 g, vhat_1 = g^2,
    # mhat_1 = mu_2*0.1 g/(1 - mu_1 mu_2) + (1 - mu_1) g/(1 - mu_1)
    #        = g * (1 + 0.048528 / 0.77288896) = 1.0627878... g
    factor = 1 + 0.048528 / (1 - 0.468 * 0.48528)
    assert factor == pytest.approx(1.0627878033, rel=1e-10)
    w1 = first_step("nadam")
    np.testing.assert_allclose(W0 - w1, LR * factor * G / (np.abs(G) + 1e-7), rtol=STEP_RTOL)
    assert_keras_first_step("nadam", w1)


# --------------------------------------------------------------------------
# Nadam with the Keras-2 / Dozat momentum schedule (no Keras 3 built-in)
# --------------------------------------------------------------------------


def test_nadam_schedule_decay_two_steps_by_hand():
    b1, b2, eps, d, lr = 0.9, 0.999, 1e-7, 0.004, 0.01
    w0 = np.array([0.3, -0.7])
    g1 = np.array([0.5, -1.5])
    g2 = np.array([-0.25, 2.0])

    # Written out independently (Dozat 2016, Alg. 2, as in Keras 2):
    # mu_t = b1 (1 - 0.5 * 0.96^(t d)) = b1 (1 - 0.5 * 0.96^(t/250))
    mu1, mu2, mu3 = (b1 * (1 - 0.5 * 0.96 ** (k * d)) for k in (1, 2, 3))
    # 0.96**0.004 = exp(0.004 ln 0.96) = 0.99983672, mu_1 = 0.9 * 0.50008164
    assert mu1 == pytest.approx(0.4500734736, rel=1e-9)  # ~ b1/2 for small t
    # step 1
    m1 = (1 - b1) * g1
    v1 = (1 - b2) * g1**2
    mbar1 = (1 - mu1) * g1 / (1 - mu1) + mu2 * m1 / (1 - mu1 * mu2)
    w1 = w0 - lr * mbar1 / (np.sqrt(v1 / (1 - b2)) + eps)
    # step 2
    m2 = b1 * m1 + (1 - b1) * g2
    v2 = b2 * v1 + (1 - b2) * g2**2
    mbar2 = (1 - mu2) * g2 / (1 - mu1 * mu2) + mu3 * m2 / (1 - mu1 * mu2 * mu3)
    w2 = w1 - lr * mbar2 / (np.sqrt(v2 / (1 - b2**2)) + eps)

    init, update = REFERENCES["nadam"](schedule_decay=d)
    r1, s1 = update(g1, init(w0), w0, 1, lr)
    r2, s2 = update(g2, s1, r1, 2, lr)
    np.testing.assert_allclose(r1, w1, rtol=1e-14)
    np.testing.assert_allclose(r2, w2, rtol=1e-14)
    np.testing.assert_allclose(s2["u_product"], mu1 * mu2, rtol=1e-14)
    np.testing.assert_allclose(s2["momentum"], m2, rtol=1e-14)
    np.testing.assert_allclose(s2["velocity"], v2, rtol=1e-14)
    # The slow schedule really differs from Keras 3's (0.96**t) one (by 0.6 %
    # of the first step already).
    r1_keras3, _ = REFERENCES["nadam"]()[1](g1, init(w0), w0, 1, lr)
    assert np.max(np.abs(r1_keras3 - r1)) > 5e-5


def test_nadam_schedule_decay_none_is_decay_one():
    w0, grads = make_problem(seed=7)
    a = run_reference("nadam", {}, w0, grads, 0.01)
    b = run_reference("nadam", {"schedule_decay": 1.0}, w0, grads, 0.01)
    for ws_a, ws_b in zip(a, b):
        for x, y in zip(ws_a, ws_b):
            np.testing.assert_array_equal(x, y)


def test_nadam_schedule_decay_matches_keras2_legacy_nadam():
    tf = pytest.importorskip("tensorflow")
    tf_keras = pytest.importorskip("tf_keras")
    # float32-exact constants (see test_matches_keras_exact_constants); the
    # legacy Nadam also casts 0.96 through float32, consistently in m_t and
    # in its momentum cache, so the agreement is even closer than Keras 3's.
    lr, b1, b2, d = 2.0**-7, float32_exact(0.9), float32_exact(0.999), 0.004
    w0, grads = make_problem(seed=11)
    variables = [tf.Variable(w, dtype=tf.float64) for w in w0]
    opt = tf_keras.optimizers.legacy.Nadam(
        learning_rate=lr, beta_1=b1, beta_2=b2, schedule_decay=d
    )
    ref = run_reference("nadam", {"beta_1": b1, "beta_2": b2, "schedule_decay": d}, w0, grads, lr)
    for t, (gs, r_ws) in enumerate(zip(grads, ref), start=1):
        opt.apply_gradients(zip([tf.constant(g) for g in gs], variables))
        for v, r in zip(variables, r_ws):
            np.testing.assert_allclose(v.numpy(), r, rtol=1e-6, atol=1e-9, err_msg=f"step {t}")


# --------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------


def test_references_registry():
    """The classic seven come first; every reference module is exported under its own name."""
    assert list(REFERENCES)[:7] == [
        "sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"
    ]
    for name, factory in REFERENCES.items():
        assert factory.__name__ == name


@pytest.mark.parametrize("name", list(KERAS_CLASSES))
def test_factory_signature_matches_keras(name):
    """Same hyperparameter names and defaults as Keras, minus the learning rate."""
    # Arguments every Keras 3 optimizer inherits from BaseOptimizer.__init__.
    base = {
        "self", "learning_rate", "weight_decay", "clipnorm", "clipvalue",
        "global_clipnorm", "use_ema", "ema_momentum", "ema_overwrite_frequency",
        "loss_scale_factor", "gradient_accumulation_steps", "name", "kwargs",
    }
    keras_params = {
        k: p.default
        for k, p in inspect.signature(KERAS_CLASSES[name].__init__).parameters.items()
        if k not in base
    }
    ref_params = {
        k: p.default for k, p in inspect.signature(REFERENCES[name]).parameters.items()
    }
    if name == "nadam":  # the Keras-2 schedule is an extension, off by default
        assert ref_params.pop("schedule_decay") is None
    if name in ("adam", "adamax", "nadam"):  # the zoo's cautious mask: an extension, off by default
        assert ref_params.pop("cautious") is False
    assert "learning_rate" not in ref_params
    assert ref_params == keras_params


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_update_does_not_mutate_inputs(name, kwargs):
    init, update = REFERENCES[name](**kwargs)
    rng = np.random.default_rng(3)
    w, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    state = init(w)
    w, state = update(g, state, w, 1, 0.01)  # non-trivial state
    assert all(np.asarray(s).dtype == np.float64 for s in state.values())
    copies = (w.copy(), g.copy(), {k: np.copy(v) for k, v in state.items()})
    new_w, new_state = update(g, state, w, 2, 0.01)
    np.testing.assert_array_equal(w, copies[0])
    np.testing.assert_array_equal(g, copies[1])
    assert state.keys() == copies[2].keys() == new_state.keys()
    for k in state:
        np.testing.assert_array_equal(state[k], copies[2][k])
    assert new_w.dtype == np.float64 and new_w.shape == w.shape
    assert not np.array_equal(new_w, w)


@pytest.mark.parametrize(
    "name,flagged,plain",
    [
        ("sgd", {"momentum": 0.9}, {}),
        ("sgd", {"momentum": 0.9, "nesterov": True}, {"momentum": 0.9}),
        ("rmsprop", {"centered": True}, {}),
        ("rmsprop", {"momentum": 0.9}, {}),
        # with beta_2 = 0.999 v is a ~1000-step average that barely falls
        # within 30 steps, so the running max rarely binds; 0.75 forgets fast.
        ("adam", {"amsgrad": True, "beta_2": 0.75}, {"beta_2": 0.75}),
        ("nadam", {"schedule_decay": 0.004}, {}),
    ],
)
def test_flags_change_the_trajectory(name, flagged, plain):
    """Guard against flag cases that would pass vacuously."""
    w0, grads = make_problem(seed=5)
    a = run_reference(name, flagged, w0, grads, 0.01)[-1]
    b = run_reference(name, plain, w0, grads, 0.01)[-1]
    assert max(np.max(np.abs(x - y)) for x, y in zip(a, b)) > 1e-3
