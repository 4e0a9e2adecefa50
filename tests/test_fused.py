"""The fused (XLA-compiled) update path equals the readable path it is compiled from."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import TEST_FUSE_MIN_SIZE, stepping
from optimizer_table import ROWS

# Every optimizer here is made with fuse_min_size=TEST_FUSE_MIN_SIZE: small test shapes take the
# fused path, whatever the production threshold.

ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS]
BIG = (48, 32)  # 1536 elements: above TEST_FUSE_MIN_SIZE
BIG_TOO = (40, 30)  # 1200 elements: also fused, in the same launch as BIG
SMALL = (5,)  # below it: readable path in both runs
SHAPES = (BIG, BIG_TOO, SMALL)


def _run(row, fused, dtype, steps=12, sparse=False, skip_at=None, seed=0, strategy=None):
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=s), dtype=dtype) for s in SHAPES]
    optimizer = row.cls(learning_rate=row.learning_rate, fused=fused, skip_nonfinite=skip_at is not None, **row.variants[-1], fuse_min_size=TEST_FUSE_MIN_SIZE)
    for t in range(steps):
        grads = [rng.normal(size=s) for s in SHAPES]
        if t == skip_at:
            grads[0][5, 4] = np.nan  # row 5 is in the sparse gradient too
        tensors = [tf.constant(g, dtype) for g in grads]
        if sparse:
            rows = tf.constant([0, 5, 5, 47])
            tensors[0] = tf.IndexedSlices(tf.gather(tensors[0], rows), rows, tf.constant(BIG))
        if strategy is None:
            optimizer.apply_gradients(zip(tensors, variables))
        else:
            strategy.run(lambda: optimizer.apply_gradients(zip(tensors, variables)))
    return [v.numpy() for v in variables], optimizer


def test_big_variables_take_the_fused_path():
    assert int(np.prod(BIG)) >= TEST_FUSE_MIN_SIZE > int(np.prod(SMALL))
    optimizer = ROWS[0].cls(fuse_min_size=TEST_FUSE_MIN_SIZE)
    assert optimizer._fuses(keras.Variable(np.zeros(BIG)))
    assert not optimizer._fuses(keras.Variable(np.zeros(SMALL)))
    assert not ROWS[0].cls(fused=False, fuse_min_size=TEST_FUSE_MIN_SIZE)._fuses(keras.Variable(np.zeros(BIG)))


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 2e-6), ("float16", 2e-3)])
@pytest.mark.parametrize("row", ROW_PARAMS)
def test_fused_equals_readable(row, dtype, rtol):
    fused, optimizer = _run(row, True, dtype)
    readable, _ = _run(row, False, dtype)
    # The fused path really ran (one launch for both), except where no variable takes it: an
    # optimizer that never fuses, or whose variables with matrices (Shampoo, SOAP: eigensolvers)
    # do not (their 1-D variables do: test_matrix_free_variables_of_preconditioned_rows_fuse).
    optimizer = stepping(optimizer)
    fused_any = any(optimizer._fuses(v) for v in optimizer._built_variables())
    assert (optimizer._group_step is not None) == fused_any
    assert fused_any or not optimizer._fusable() or getattr(optimizer, "_eigensolver", False)
    for f, r in zip(fused, readable):
        # Same operations; XLA may contract a * b + c into one fused multiply-add.
        # Rounding errors scale with the operands (weights of order 1), not with a result near 0.
        np.testing.assert_allclose(f.astype(np.float64), r.astype(np.float64), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_fused_sparse_and_skip_nonfinite_equal_readable(row):
    fused, optimizer = _run(row, True, "float64", sparse=True, skip_at=4)
    readable, reference = _run(row, False, "float64", sparse=True, skip_at=4)
    assert int(optimizer.skipped_steps) == int(reference.skipped_steps) == 1
    # D-Adaptation and Prodigy sum over all variables (`_sums`): XLA and TF add in different orders.
    # Measured: one ulp more in ONE per-variable dot of the readable path alone moves weights of
    # magnitude ~7 by up to 4.4e-15 (the last bits of d); elementwise rows must agree to 1e-15.
    atol = 1e-14 if hasattr(row.cls, "_sums_step") else 1e-15
    for f, r in zip(fused, readable):
        np.testing.assert_allclose(f, r, rtol=1e-13, atol=atol)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_fused_checkpoint_resume_is_bit_exact(row, tmp_path):
    rng = np.random.default_rng(1)
    start = rng.normal(size=BIG).astype("float32")
    grads = [tf.constant(rng.normal(size=BIG).astype("float32")) for _ in range(6)]

    def fresh():
        variable = keras.Variable(start)
        optimizer = row.cls(learning_rate=row.learning_rate, fuse_min_size=TEST_FUSE_MIN_SIZE)
        optimizer.build([variable])
        return variable, optimizer

    variable, optimizer = fresh()
    for g in grads:
        optimizer.apply_gradients([(g, variable)])
    uninterrupted = variable.numpy()
    variable, optimizer = fresh()
    for g in grads[:3]:
        optimizer.apply_gradients([(g, variable)])
    path = tf.train.Checkpoint(v=variable.value, optimizer=optimizer).write(str(tmp_path / "ckpt"))
    variable, optimizer = fresh()
    tf.train.Checkpoint(v=variable.value, optimizer=optimizer).read(path).assert_consumed()
    for g in grads[3:]:
        optimizer.apply_gradients([(g, variable)])
    np.testing.assert_array_equal(variable.numpy(), uninterrupted)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_fused_inside_tf_function_and_jit(row):
    # Optimizers that never fuse compute an eigendecomposition: under jit_compile=True XLA's
    # eigensolver replaces LAPACK's, and eigenvectors (SOAP's rotation) differ by the solver's
    # rounding, ~1e-6 in float32. Those are compared in float64, where both solvers are exact to
    # ~1e-15 and any real difference between the paths would show.
    eigensolver = getattr(row.cls, "_eigensolver", False) or not stepping(row.cls())._fusable()
    dtype, rtol, atol = ("float64", 1e-12, 1e-13) if eigensolver else ("float32", 2e-6, 1e-7)
    rng = np.random.default_rng(2)
    start = rng.normal(size=BIG).astype(dtype)
    grads = [tf.constant(rng.normal(size=BIG).astype(dtype)) for _ in range(5)]
    results = []
    for wrap in (lambda f: f, tf.function, lambda f: tf.function(f, jit_compile=True)):
        variable = keras.Variable(start)
        optimizer = row.cls(learning_rate=row.learning_rate, fuse_min_size=TEST_FUSE_MIN_SIZE)
        step = wrap(lambda g: optimizer.apply_gradients([(g, variable)]))
        for g in grads:
            step(g)
        results.append(variable.numpy())
    assert np.max(np.abs(results[0] - start)) > 1e-4  # (Prodigy's rate is still growing)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["zoo_adam", "zoo_nadam", "zoo_prodigy", "zoo_lars"])
def test_per_variable_fused_path_equals_readable(name):
    """Under tf.distribute each large variable gets a launch of its own (``_fused_dense_step``);
    tests/test_scale_out.py runs it under MirroredStrategy, this checks it on one device (a
    OneDeviceStrategy: a strategy, so no grouped launch)."""
    row = next(row for row in ROWS if row.name == name)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        fused, optimizer = _run(row, True, "float64", strategy=strategy)
        readable, _ = _run(row, False, "float64", strategy=strategy)
    assert optimizer._fused_step is not None and optimizer._group_step is None
    for f, r in zip(fused, readable):
        np.testing.assert_allclose(f, r, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("scaling", ["learning_rate", "none"])
def test_weight_decay_runs_inside_the_fused_launch(scaling):
    """The shared decoupled decay of a fused dense variable is part of its XLA launch (one pass
    over the weights): the engine's choice (``_kernel_decay``) takes the dense float64 variable
    only; sparse-gradient, 16-bit and small variables decay op by op, and excluded ones not at
    all. Results equal the readable path."""
    rng = np.random.default_rng(3)
    starts = {name: rng.normal(size=BIG) for name in ("dense", "sparse", "excluded")}
    starts["small"] = rng.normal(size=SMALL)
    grads = [{name: rng.normal(size=w.shape) for name, w in starts.items()} for _ in range(5)]

    def run(fused):
        variables = {name: keras.Variable(w, dtype="float64", name=name) for name, w in starts.items()}
        half = keras.Variable(starts["dense"], dtype="float16", name="half")
        optimizer = base_row("zoo_adamw").cls(learning_rate=0.01, weight_decay=0.5, weight_decay_scaling=scaling,
                                              fused=fused, fuse_min_size=TEST_FUSE_MIN_SIZE)
        optimizer.exclude_from_weight_decay(var_names=["excluded"])
        inside = []
        for step in grads:
            pairs = []
            for name, variable in variables.items():
                g = tf.constant(step[name])
                if name == "sparse":
                    rows = tf.constant([1, 7, 7])
                    g = tf.IndexedSlices(tf.gather(g, rows), rows, tf.constant(BIG))
                pairs.append((g, variable))
            pairs.append((tf.constant(step["dense"], "float16"), half))
            optimizer.apply_gradients(pairs)
            chosen = optimizer._kernel_decay([g for g, _ in pairs], [v for _, v in pairs])
            inside.append([v.name for _, v in pairs if optimizer._index_of(v) in chosen])
        return {name: v.numpy() for name, v in variables.items()} | {"half": half.numpy()}, inside

    fused, fused_inside = run(True)
    readable, readable_inside = run(False)
    assert fused_inside == [["dense"]] * len(grads)  # the others decay op by op (or not at all)
    assert readable_inside == [[]] * len(grads)
    assert np.max(np.abs(fused["dense"] - starts["dense"])) > 1e-3
    for name in fused:
        np.testing.assert_allclose(fused[name], readable[name], rtol=1e-13, atol=1e-15 if name != "half" else 2e-3)


def base_row(name):
    return next(row for row in ROWS if row.name == name)


@pytest.mark.parametrize("name", ["zoo_shampoo", "zoo_soap"])
def test_matrix_free_variables_of_preconditioned_rows_fuse(name):
    """Shampoo's and SOAP's 1-D variables have no matrix: a plain elementwise update, fused and
    grouped like any other (the (48, 32) one keeps its matrices on the readable path)."""
    row = base_row(name)
    shapes = ((1536,), (1200,), BIG)
    rng = np.random.default_rng(5)
    starts = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(12)]
    results = []
    for fused in (True, False):
        variables = [keras.Variable(w, dtype="float64") for w in starts]
        optimizer = row.cls(learning_rate=row.learning_rate, fused=fused, weight_decay=0.125, fuse_min_size=TEST_FUSE_MIN_SIZE)
        for step in grads:
            optimizer.apply_gradients(zip([tf.constant(g) for g in step], variables))
        assert [optimizer._fuses(v) for v in variables] == [fused, fused, False]
        assert (optimizer._group_step is not None) == fused
        results.append([v.numpy() for v in variables])
    for f, r, w in zip(*results, starts):
        assert np.max(np.abs(r - w)) > 1e-3
        np.testing.assert_allclose(f, r, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["zoo_dadapt_adam", "zoo_prodigy"])
def test_step_size_estimate_sums_fused_variables_in_one_launch(name):
    """D-Adaptation's and Prodigy's optimizer-wide sums: the fused variables' in ONE XLA launch (one
    trace, two variables), the small one op by op; the estimate d equals the readable one."""
    row = base_row(name)
    rng = np.random.default_rng(6)
    starts = [rng.normal(size=s) for s in SHAPES]
    noise = [[0.1 * rng.normal(size=s) for s in SHAPES] for _ in range(12)]
    results = []
    for fused in (True, False):
        variables = [keras.Variable(w, dtype="float64") for w in starts]
        optimizer = row.cls(fused=fused, fuse_min_size=TEST_FUSE_MIN_SIZE)
        for step in noise:  # gradient of 0.5 * |w|^2, plus noise: a consistent pull, so d grows
            optimizer.apply_gradients(zip([tf.constant(v.numpy() + n) for v, n in zip(variables, step)], variables))
        if fused:
            assert [optimizer._fuses(v) for v in variables] == [True, True, False]
            assert optimizer._sums_step.experimental_get_tracing_count() == 1
        else:
            assert optimizer._sums_step is None
        results.append([float(optimizer.d_estimate)] + [v.numpy() for v in variables])
    assert results[0][0] > 100 * 1e-6  # d grew from d0
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-13)
    for f, r, w in zip(results[0][1:], results[1][1:], starts):
        assert np.max(np.abs(r - w)) > 1e-3
        np.testing.assert_allclose(f, r, rtol=1e-13, atol=1e-14)
