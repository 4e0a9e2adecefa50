"""Multi-worker data-parallel training with zoo optimizers (tf.distribute.MultiWorkerMirroredStrategy).

Each worker process trains the same model on its half of every global batch; gradients are summed
across workers by the strategy, so the result equals one process training on the whole batch.

On real hosts, start one process per host with the same ``--workers`` list and its own ``--index``::

    python examples/multi_worker_training.py --workers host1:12345,host2:12345 --index 0 --out w0.npz
    python examples/multi_worker_training.py --workers host1:12345,host2:12345 --index 1 --out w1.npz

(or set ``TF_CONFIG`` yourself and omit ``--workers``/``--index``). On one machine, use
``localhost`` with two free ports; ``tests/test_multi_worker.py`` does exactly that. Without
``--workers`` and ``TF_CONFIG`` the script trains in one process (the reference result).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

#: One optimizer per family: classic, Adam family with per-step state, layer-wise (LAMB), scalar
#: per-variable state (NovoGrad), learning-rate free (Prodigy, COCOB), sign-based, a wrapper.
OPTIMIZERS = {
    "zoo_sgd": {"learning_rate": 0.1, "momentum": 0.9},
    "zoo_adam": {"learning_rate": 0.05},
    "zoo_nadam": {"learning_rate": 0.05},
    "zoo_adagrad": {"learning_rate": 0.5},
    "zoo_rmsprop": {"learning_rate": 0.02, "centered": True},
    "zoo_lamb": {"learning_rate": 0.05, "weight_decay": 0.01},
    "zoo_novograd": {"learning_rate": 0.05},
    "zoo_prodigy": {"d0": 1e-3},
    "zoo_cocob": {"alpha": 10.0},
    "zoo_lion": {"learning_rate": 0.01},
    "zoo_ranger": {"learning_rate": 0.05},
}
GLOBAL_BATCH = 16


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.1).astype("float32")
    return x, y


def train(name, strategy, epochs=2):
    import keras
    import tensorflow as tf

    import keras_optim_zoo as koz

    x, y = data()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
        optimizer = koz.get(name, **OPTIMIZERS[name])
        optimizer.build(model.trainable_variables)  # eagerly, before the distributed step
    replicas = strategy.num_replicas_in_sync
    local = GLOBAL_BATCH // replicas

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(xb) - yb)) / GLOBAL_BATCH
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    @tf.function
    def step(xb, yb):
        strategy.run(replica_step, args=(xb, yb))

    for _ in range(epochs):
        for start in range(0, len(x), GLOBAL_BATCH):
            xs, ys = x[start : start + GLOBAL_BATCH], y[start : start + GLOBAL_BATCH]
            # Replica r takes rows [r * local, (r + 1) * local) of the global batch.
            xb = strategy.experimental_distribute_values_from_function(
                lambda ctx: xs[ctx.replica_id_in_sync_group * local : (ctx.replica_id_in_sync_group + 1) * local]
            )
            yb = strategy.experimental_distribute_values_from_function(
                lambda ctx: ys[ctx.replica_id_in_sync_group * local : (ctx.replica_id_in_sync_group + 1) * local]
            )
            step(xb, yb)
    return [w for w in model.get_weights()], int(optimizer.iterations.numpy())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", help="comma-separated host:port of every worker (sets TF_CONFIG)")
    parser.add_argument("--index", type=int, default=0, help="this worker's index in --workers")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma-separated zoo names")
    parser.add_argument("--out", required=True, help="where to write the final weights (.npz)")
    args = parser.parse_args(argv)
    if args.workers:
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": args.workers.split(",")}, "task": {"type": "worker", "index": args.index}}
        )
    import tensorflow as tf

    if "TF_CONFIG" in os.environ:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    results = {}
    for name in args.optimizers.split(","):
        weights, iterations = train(name, strategy)
        for i, w in enumerate(weights):
            results[f"{name}/{i}"] = w
        results[f"{name}/iterations"] = np.array(iterations)
        print(f"{name}: {iterations} steps on {strategy.num_replicas_in_sync} replica(s)", flush=True)
    np.savez(args.out, **results)


if __name__ == "__main__":
    main()
