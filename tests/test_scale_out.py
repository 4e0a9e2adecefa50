"""tf.distribute and mixed precision for every optimizer in the table (real strategies, no mocks)."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from optimizer_table import ROWS

TESTS = os.path.dirname(os.path.abspath(__file__))

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np, keras
    sys.path.insert(0, sys.argv[1])
    from optimizer_table import ROWS

    FUSE_MIN_SIZE = None  # set per path below: 1, every variable takes the fused path; huge, none

    def optimizer_of(row):
        return row.cls(**row.converge, fuse_min_size=FUSE_MIN_SIZE)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    HALVES = (slice(0, 8), slice(8, 16))  # what each replica gets of a global batch of 16

    class Halves(keras.Sequential):
        # One device, the batch gradient formed as the two replicas form it: the sum of the two
        # half-batch gradients, each of its replica's loss (the mean over 8 rows, halved).
        def train_step(self, data):
            xb, yb = data
            grads = []
            for half in HALVES:
                with tf.GradientTape() as tape:
                    y_pred = self(xb[half], training=True)
                    loss = self.compute_loss(x=xb[half], y=yb[half], y_pred=y_pred) * 0.5
                grads.append(tape.gradient(loss, self.trainable_variables))
            self.optimizer.apply([a + b for a, b in zip(*grads)], self.trainable_variables)
            return {"loss": loss}

    def make(cls=keras.Sequential):
        keras.utils.set_random_seed(0)
        return cls([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])

    def scope(kind):
        # kind: "full" (one device), "halves" (one device, gradients as the replicas form them), "mirrored"
        return strategy.scope() if kind == "mirrored" else tf.distribute.get_strategy().scope()

    def fit(row, kind):
        with scope(kind):
            model = make(Halves if kind == "halves" else keras.Sequential)
            model.compile(optimizer=optimizer_of(row), loss="mse")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), model.optimizer

    def loop(row, kind):
        with scope(kind):
            model = make()
            optimizer = optimizer_of(row)
            optimizer.build(model.trainable_variables)  # eagerly: see KERAS_NOTES (issue 23085)

        def gradients(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(model(xb) - yb)) / 16.0  # global batch of 16
            return tape.gradient(loss, model.trainable_variables)

        def replica_step(xb, yb):
            if kind == "halves":
                grads = [a + b for a, b in zip(*(gradients(xb[h], yb[h]) for h in HALVES))]
            else:
                grads = gradients(xb, yb)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        @tf.function
        def step(xb, yb):
            if kind == "mirrored":
                strategy.run(replica_step, args=(xb, yb))
            else:
                replica_step(xb, yb)

        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        if kind == "mirrored":
            data = strategy.experimental_distribute_dataset(data)
        for _ in range(2):
            for xb, yb in data:
                step(xb, yb)
        return model.get_weights(), optimizer

    def ulps(a, b):
        # the largest difference, in float32 units in the last place of the larger magnitude
        return max(
            float(np.max(np.abs(p - q) / np.spacing(np.maximum(np.abs(p), np.abs(q)))))
            for p, q in zip(a, b)
        )

    def distance(a, b):
        return max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))

    def compare(train, row):
        # train (loop or fit) the three ways: mirrored against halves (ulps) and against full
        full, _ = train(row, "full")
        halves, _ = train(row, "halves")
        mirrored, optimizer = train(row, "mirrored")
        figures = {"ulps": ulps(mirrored, halves), "full": distance(mirrored, full)}
        return figures, int(optimizer.iterations.numpy()), full

    out = {}
    for path, fuse_min_size, loop_rows, fit_rows in json.loads(sys.argv[2]):
        FUSE_MIN_SIZE = fuse_min_size
        for row in ROWS:
            if loop_rows != "all" and row.name not in loop_rows:
                continue
            r = out.setdefault(path, {})[row.name] = {}
            r["loop"], iterations, full = compare(loop, row)
            r["iterations"] = [iterations]
            r["moved"] = min(float(np.max(np.abs(a - b))) for a, b in zip(full, make().get_weights()))
            if row.name in fit_rows:
                r["fit"], iterations, _ = compare(fit, row)
                r["iterations"].append(iterations)

    # skip_nonfinite under the strategy: a NaN on ONE replica makes BOTH replicas skip the step.
    with strategy.scope():
        model = make()
        optimizer = next(r for r in ROWS if r.name == "zoo_adam").cls(learning_rate=0.1, skip_nonfinite=True)
        optimizer.build(model.trainable_variables)

    @tf.function
    def poisoned_step(xb, yb):
        def replica_step(xb, yb):
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(model(xb) - yb)) / 16.0
                loss = loss * tf.where(replica == 1, float("nan"), 1.0)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        strategy.run(replica_step, args=(xb, yb))

    before = model.get_weights()
    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
    poisoned_step(*next(iter(data)))
    out["skip"] = {
        "changed": distance(before, model.get_weights()),
        "skipped": int(optimizer.skipped_steps.numpy()),
        "iterations": int(optimizer.iterations.numpy()),
    }
    print("RESULT" + json.dumps(out))
    """
)


# One optimizer of each kind of state: slots, per-step state, scalar slots, an optimizer-wide
# estimate, a wrapper, sign updates; and ConditionalGradient, the row most sensitive to rounding.
REPRESENTATIVE = (
    "zoo_sgd", "zoo_adam", "zoo_nadam", "zoo_lamb", "zoo_novograd", "zoo_prodigy", "zoo_ranger",
    "zoo_lion", "zoo_cocob", "zoo_conditional_gradient",
)
# The strategy against the one-device run that forms the batch gradient as the replicas do, in float32
# ulps. Measured (TF 2.21; oneDNN AVX-512, AVX2 and AVX kernels, oneDNN off): 0 for every row on
# every kernel but Prodigy's: 1-2 readable, 9-15 fused (under a strategy its optimizer-wide sums
# are taken op by op, on one device in one XLA launch). 4x the largest:
MIRRORED_ULPS = 64
# (path, fuse_min_size, rows of the strategy.run loop, rows of fit). The readable path for every
# row in a loop, and `fit` (the same optimizer calls, through Keras's trainer) for the representative
# rows; the fused path (the same step compiled by XLA, per device; every row is also checked
# fused-vs-readable in test_fused.py) for the representative rows in a loop.
PATHS = [("fused", 1, REPRESENTATIVE, ()), ("readable", 10**12, "all", REPRESENTATIVE)]


def test_mirrored_strategy_matches_one_device():
    """A strategy.run loop and fit on 2 logical CPUs give the one-device weights (float32).

    Two replicas sum two half-batch gradients. The one-device run that forms its batch gradient
    the same way (``halves``) is the exact reference: the strategy adds no more than rounding of
    its own (``MIRRORED_ULPS``). Against the plain one-device run (``full``) the difference is the
    optimizer's sensitivity to the rounding of the batch sum, which depends on the CPU's kernels
    and is bounded per row from measurements (``Row.reassociation``).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, TESTS, json.dumps(PATHS)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.split("RESULT", 1)[1])
    skip = results.pop("skip")
    assert skip == {"changed": 0.0, "skipped": 1, "iterations": 0}, skip
    rows = {row.name: row for row in ROWS}
    assert set(results) == {path for path, *_ in PATHS}
    for path, _, loop_rows, fit_rows in PATHS:
        by_row = results[path]
        assert set(by_row) == set(rows if loop_rows == "all" else loop_rows), path
        for name, r in by_row.items():
            assert r["moved"] > 1e-3, (path, name, r)
            assert r["iterations"] == [8] * (1 + (name in fit_rows)), (path, name, r)
            assert ("fit" in r) == (name in fit_rows), (path, name)
            for how in ("loop", "fit") if "fit" in r else ("loop",):
                assert r[how]["ulps"] <= MIRRORED_ULPS, (path, name, how, r)
                assert r[how]["full"] < rows[name].reassociation, (path, name, how, r)


@pytest.fixture
def policy():
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in ROWS])
def test_mixed_precision_trains_with_float32_state(row, name, policy):
    policy(name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-1.0], [0.5], [2.0]], "float32")).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    optimizer = row.cls(**row.converge)
    if name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="mse")
    assert model.layers[0].compute_dtype in ("float16", "bfloat16")
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0], history
    inner = optimizer.inner_optimizer if name == "mixed_float16" else optimizer
    assert type(inner) is row.cls
    for variable in inner.variables:
        assert variable.dtype in ("float32", "int64", "int32"), (variable.path, variable.dtype)
    for weight in model.get_weights():
        assert weight.dtype == np.float32 and np.all(np.isfinite(weight))
