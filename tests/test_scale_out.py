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
    from keras_optim_zoo import base
    from optimizer_table import ROWS

    base.FUSE_MIN_SIZE = int(sys.argv[2])  # 1: every variable takes the fused path; huge: none
    ROWS = [row for row in ROWS if sys.argv[3] == "all" or row.name in sys.argv[3].split(",")]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2

    def make():
        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
        )

    def custom_loop(row, distributed):
        scope = strategy.scope() if distributed else tf.distribute.get_strategy().scope()
        with scope:
            model = make()
            optimizer = row.cls(**row.converge)
            optimizer.build(model.trainable_variables)  # eagerly: see KERAS_NOTES (issue 23085)

        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(model(xb) - yb)) / 16.0  # global batch of 16
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        @tf.function
        def step(xb, yb):
            if distributed:
                strategy.run(replica_step, args=(xb, yb))
            else:
                replica_step(xb, yb)

        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        if distributed:
            data = strategy.experimental_distribute_dataset(data)
        for _ in range(2):
            for xb, yb in data:
                step(xb, yb)
        return model.get_weights(), optimizer

    out = {}
    for row in ROWS:
        single = make()
        single.compile(optimizer=row.cls(**row.converge), loss="mse")
        single.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        with strategy.scope():
            mirrored = make()
            mirrored.compile(optimizer=row.cls(**row.converge), loss="mse")
        mirrored.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        loop_single, _ = custom_loop(row, False)
        loop_mirrored, optimizer = custom_loop(row, True)
        start = make().get_weights()
        out[row.name] = {
            "fit": max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), mirrored.get_weights())),
            "loop": max(float(np.max(np.abs(a - b))) for a, b in zip(loop_single, loop_mirrored)),
            "moved": min(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), start)),
            "iterations": int(optimizer.iterations.numpy()),
        }

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
        "changed": max(float(np.max(np.abs(a - b))) for a, b in zip(before, model.get_weights())),
        "skipped": int(optimizer.skipped_steps.numpy()),
        "iterations": int(optimizer.iterations.numpy()),
    }
    print("RESULT" + json.dumps(out))
    """
)


# The readable path for every row; the fused path (the same step compiled by XLA, per device) for
# one optimizer of each kind of state: slots, per-step state, scalar slots, an optimizer-wide
# estimate, a wrapper, sign updates (every row is also fused-vs-readable checked in test_fused.py).
FUSED_SUBSET = "zoo_sgd,zoo_adam,zoo_nadam,zoo_lamb,zoo_novograd,zoo_prodigy,zoo_ranger,zoo_lion,zoo_cocob"


@pytest.mark.parametrize(
    "fuse_min_size, rows", [(1, FUSED_SUBSET), (10**12, "all")], ids=["fused", "readable"]
)
def test_mirrored_strategy_matches_one_device(fuse_min_size, rows):
    """fit and a strategy.run loop on 2 logical CPUs give the one-device weights (float32)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, TESTS, str(fuse_min_size), rows],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.split("RESULT", 1)[1])
    skip = results.pop("skip")
    assert skip == {"changed": 0.0, "skipped": 1, "iterations": 0}, skip
    assert set(results) == {row.name for row in ROWS if rows == "all" or row.name in rows.split(",")}
    for name, r in results.items():
        assert r["moved"] > 1e-3, (name, r)
        assert r["iterations"] == 8, (name, r)
        # Two replicas sum two half-batch gradients: float32 reassociation only.
        assert r["fit"] < 2e-6 and r["loop"] < 2e-6, (name, r)


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
