"""``state_dtype="bfloat16"``: optimizer state stored in bfloat16, with nearest or stochastic rounding."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo as koz
from harness import TEST_FUSE_MIN_SIZE
from keras_optim_zoo import base, precision
from keras_optim_zoo.bench import state_bytes_per_parameter
from optimizer_table import ROWS

# Optimizers here are made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the fused path,
# whatever the production threshold.

ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS if issubclass(row.cls, base.ZooOptimizer)]
SHAPES = ((40, 30), (7,))  # one variable on the fused path (>= TEST_FUSE_MIN_SIZE), one on the readable one


def _train(optimizer, steps=10, seed=0):
    """``steps`` steps on 0.5 * scale * ||w - target||^2 (one scale per element, 0.1 to 10), with
    fixed gradient noise (as a minibatch gives): a noiseless first gradient of a (40, 30) variable
    spans 30 of 40 directions, and an optimizer that skips its first step (SOAP) would then see
    in the other 10 only rounding errors, which Adam-style normalization turns into full steps."""
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    targets = [rng.normal(size=s).astype("float32") for s in SHAPES]
    scales = [np.exp(rng.uniform(np.log(0.1), np.log(10.0), size=s)).astype("float32") for s in SHAPES]
    start = [v.numpy() for v in variables]
    noise = [[0.1 * rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(steps)]
    for step in range(steps):
        grads = [tf.constant(c * (v.numpy() - t) + n) for v, t, c, n in zip(variables, targets, scales, noise[step])]
        optimizer.apply_gradients(zip(grads, variables))
    return start, variables


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_bfloat16_state_halves_the_moments_and_follows_float32_state(row, rounding="stochastic"):
    # (Stochastic rounding covers more code; nearest is a cast, checked exactly below.)
    kwargs = dict(learning_rate=row.learning_rate, **row.variants[0])
    full = row.cls(**kwargs, fuse_min_size=TEST_FUSE_MIN_SIZE)
    low = row.cls(state_dtype="bfloat16", state_rounding=rounding, **kwargs, fuse_min_size=TEST_FUSE_MIN_SIZE)
    start, w_full = _train(full)
    _, w_low = _train(low)
    halved = set()  # slots shaped like the variable: 4 -> 2 bytes per parameter
    for variable in w_low:
        for name in low._slot_names:
            slot = low.get_slot(variable, name)
            if slot is None or tuple(slot.shape) != tuple(variable.shape):
                continue
            expected = "float32" if name in low._full_precision_slots else "bfloat16"
            assert keras.backend.standardize_dtype(slot.dtype) == expected, name
            halved |= {name} if expected == "bfloat16" else set()
    # zoo_schedule_free_sgd: its only state shaped like the weights is z, a weight copy (full precision).
    exempt = ("zoo_novograd", "zoo_schedule_free_sgd")
    assert halved or not low._slot_names or row.name in exempt, "no slot was made bfloat16"
    saving = state_bytes_per_parameter(full, w_full) - state_bytes_per_parameter(low, w_low)
    assert saving == pytest.approx(2.0 * len(halved), abs=0.05)  # (scalar slots are not counted)
    for s, f, l in zip(start, w_full, w_low):
        moved_full, moved_low = f.numpy() - s, l.numpy() - s
        assert np.all(np.isfinite(moved_low))
        cosine = np.sum(moved_full * moved_low) / (np.linalg.norm(moved_full) * np.linalg.norm(moved_low))
        assert cosine > 0.98, cosine  # 8 significant bits of state: the same steps, slightly rounded


def test_nearest_rounding_stores_the_float32_state_rounded_once():
    # After one Adam step from zero state the float32 moments are (1-b1) g and (1-b2) g^2; the
    # bfloat16 slots hold exactly those values rounded to nearest.
    g = np.random.default_rng(1).normal(size=(40, 30)).astype("float32")
    moments = {}
    for state_dtype in (None, "bfloat16"):
        variable = keras.Variable(np.ones((40, 30), "float32"))
        optimizer = koz.ZooAdam(0.01, state_dtype=state_dtype, fuse_min_size=TEST_FUSE_MIN_SIZE)
        optimizer.apply_gradients([(tf.constant(g), variable)])
        moments[state_dtype] = [optimizer.get_slot(variable, n).numpy() for n in ("momentum", "velocity")]
    for full, low in zip(moments[None], moments["bfloat16"]):
        np.testing.assert_array_equal(np.asarray(low, np.float32), tf.cast(tf.cast(full, tf.bfloat16), tf.float32).numpy())


def test_stochastic_rounding_picks_a_neighbour_and_is_unbiased():
    x = np.full(200_000, 1.0 + 3.0 / 1024.0, np.float32)  # between the bfloat16 neighbours 1 and 1 + 1/128
    rounded = precision.stochastic_round_to_bfloat16(tf.constant(x), tf.constant(7, tf.int64), 3).numpy()
    assert set(np.unique(rounded)) == {1.0, 1.0 + 1.0 / 128.0}
    ulp, p_up = 1.0 / 128.0, (3.0 / 1024.0) / (1.0 / 128.0)  # rounds up with probability 0.375
    sigma = ulp * np.sqrt(p_up * (1 - p_up) / x.size)
    assert abs(rounded.mean() - x[0]) < 4 * sigma
    # Deterministic: the same (step, salt) draws the same bits; another step draws others.
    again = precision.stochastic_round_to_bfloat16(tf.constant(x), tf.constant(7, tf.int64), 3).numpy()
    other = precision.stochastic_round_to_bfloat16(tf.constant(x), tf.constant(8, tf.int64), 3).numpy()
    np.testing.assert_array_equal(rounded, again)
    assert np.mean(rounded != other) > 0.3
    # Exact bfloat16 values, negatives and non-finite values pass through.
    exact = np.array([1.0, -2.5, 0.0, np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(precision.stochastic_round_to_bfloat16(tf.constant(exact), 1, 1).numpy(), exact)
    assert np.isnan(precision.stochastic_round_to_bfloat16(tf.constant([np.nan], tf.float32), 1, 1).numpy()[0])


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
def test_stochastic_rounding_without_ops_view_gives_the_same_bits(mode, monkeypatch):
    """Keras 3.10-3.11 have no ``keras.ops.view``: ``precision._view`` then bitcasts through the
    backend (CI's oldest-Keras step runs that for real). Where Keras has it, both give the same bits."""
    x = tf.constant(np.random.default_rng(4).normal(size=(64, 3)).astype("float32") * [1.0, 1e-30, 1e30])

    def rounded():
        return precision.stochastic_round_to_bfloat16(x, tf.constant(5, tf.int64), 2)

    def run():
        step = rounded if mode == "eager" else tf.function(rounded, jit_compile=mode == "jit")
        return step().numpy()

    with_view = run()
    if hasattr(precision.ops, "view"):
        monkeypatch.delattr(precision.ops, "view")
    without_view = run()
    assert np.mean(with_view != x.numpy()) > 0.9  # rounded (to bfloat16: 8 significant bits)
    np.testing.assert_array_equal(without_view.view(np.uint32), with_view.view(np.uint32))


def test_stochastic_rounding_keeps_a_slow_average_moving():
    # An RMSprop average with rho=0.999 of a constant g^2 = 1 started at 0.5: each step adds
    # (1 - rho)(1 - v) ~ 5e-4, below half a bfloat16 ulp near 0.5 (2^-9 ~ 2e-3): round-to-nearest
    # never moves it; stochastic rounding follows the float32 average on average.
    steps, size = 200, 4096
    values = {}
    for rounding in ("nearest", "stochastic", None):
        variable = keras.Variable(np.zeros(size, "float32"))
        kwargs = {} if rounding is None else {"state_dtype": "bfloat16", "state_rounding": rounding}
        optimizer = koz.ZooRMSprop(1e-6, rho=0.999, **kwargs, fuse_min_size=TEST_FUSE_MIN_SIZE)
        optimizer.build([variable])
        optimizer.get_slot(variable, "velocity").assign(np.full(size, 0.5))
        for _ in range(steps):
            optimizer.apply_gradients([(tf.ones(size), variable)])
        values[rounding] = np.asarray(optimizer.get_slot(variable, "velocity").numpy(), np.float64)
    exact = 1.0 - 0.5 * 0.999**steps
    assert abs(values[None].mean() - exact) < 1e-5
    np.testing.assert_array_equal(values["nearest"], 0.5)  # stalled
    assert abs(values["stochastic"].mean() - exact) < 0.01 * (exact - 0.5)


def test_fused_path_equals_readable_path_and_resume_is_bit_for_bit(tmp_path):
    def run(fused, steps, restore=None):
        optimizer = koz.ZooAdam(0.01, fused=fused, state_dtype="bfloat16", state_rounding="stochastic", fuse_min_size=TEST_FUSE_MIN_SIZE)
        rng = np.random.default_rng(2)
        variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
        grads = [[tf.constant(rng.normal(size=s).astype("float32")) for s in SHAPES] for _ in range(6)]
        optimizer.build(variables)
        checkpoint = tf.train.Checkpoint(optimizer=optimizer, variables=variables)
        if restore:
            checkpoint.restore(restore).assert_consumed()
        for g in grads[int(optimizer.iterations.numpy()):steps]:
            optimizer.apply_gradients(zip(g, variables))
        return [v.numpy() for v in variables], checkpoint

    fused, _ = run(True, 6)
    readable, _ = run(False, 6)
    for f, r in zip(fused, readable):
        np.testing.assert_allclose(f, r, rtol=2e-6, atol=2e-6)
    _, checkpoint = run(True, 3)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    resumed, _ = run(True, 6, restore=path)
    for a, b in zip(resumed, fused):
        np.testing.assert_array_equal(a, b)


def test_config_round_trip_and_invalid_arguments():
    optimizer = koz.ZooAdam(state_dtype="bfloat16", state_rounding="stochastic", fuse_min_size=TEST_FUSE_MIN_SIZE)
    config = optimizer.get_config()
    assert (config["state_dtype"], config["state_rounding"]) == ("bfloat16", "stochastic")
    assert koz.ZooAdam.from_config(config).state_rounding == "stochastic"
    with pytest.raises(ValueError, match="state_dtype.*bfloat16"):
        koz.ZooAdam(state_dtype="float16", fuse_min_size=TEST_FUSE_MIN_SIZE)
    with pytest.raises(ValueError, match="state_rounding.*stochastic"):
        koz.ZooAdam(state_rounding="up", fuse_min_size=TEST_FUSE_MIN_SIZE)
