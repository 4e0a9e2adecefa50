"""Write this release's saved optimizer state under ``tests/data/saved_state/<version>/``.

For every case (each table row with its last variant, each wrapper, and a few options that add
state) it builds the small model of ``CASES``, applies 3 fixed gradient steps, saves

* ``<case>.keras`` (``model.save``: the model, the optimizer's config and state),
* ``<case>-ckpt.*`` (``tf.train.Checkpoint(model=..., optimizer=...).write``),

then applies 3 more fixed steps and records the weights reached in ``expected.npz``.
``tests/test_saved_state.py`` restores every file of every release folder and checks that the
same 3 steps reach those weights bit for bit. The steps are ``apply_gradients`` with stored
gradients (no forward or backward pass), so nothing but the optimizer's own arithmetic is checked.

Run it once per release, from the repository root, with that release installed::

    python tests/data/saved_state/write_saved_state.py

Keep every folder: files saved by every release must keep loading.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/

import keras_optim_zoo as koz  # noqa: E402
from optimizer_table import ROWS  # noqa: E402

LEARNING_RATE = 0.05
STEPS = 3  # before saving, and again after restoring


def cases():
    """``{case name: a fresh optimizer}``."""
    made = {row.name: (lambda row=row: row.cls(learning_rate=LEARNING_RATE, **row.variants[-1])) for row in ROWS}
    made.update(
        {
            "lookahead-zoo_adam": lambda: koz.Lookahead(koz.ZooAdam(learning_rate=LEARNING_RATE), sync_period=2),
            "lookahead-keras_adam": lambda: koz.Lookahead(keras.optimizers.Adam(LEARNING_RATE), sync_period=2),
            "moving_average-zoo_sgd": lambda: koz.MovingAverage(
                koz.ZooSGD(learning_rate=LEARNING_RATE, momentum=0.9), average_decay=0.5
            ),
            "swa-zoo_sgd": lambda: koz.SWA(koz.ZooSGD(learning_rate=LEARNING_RATE), start_averaging=1, average_period=2),
            "gradient_centralization-zoo_adamw": lambda: koz.GradientCentralization(
                koz.ZooAdamW(learning_rate=LEARNING_RATE, weight_decay=0.1)
            ),
            "adaptive_gradient_clipping-zoo_sgd": lambda: koz.AdaptiveGradientClipping(
                koz.ZooSGD(learning_rate=LEARNING_RATE, momentum=0.9), clipping=0.05
            ),
            "zoo_adam+skip_nonfinite": lambda: koz.ZooAdam(learning_rate=LEARNING_RATE, skip_nonfinite=True),
            "zoo_adam+bfloat16_state": lambda: koz.ZooAdam(
                learning_rate=LEARNING_RATE, state_dtype="bfloat16", state_rounding="stochastic"
            ),
            "zoo_adamw+cautious": lambda: koz.ZooAdamW(learning_rate=LEARNING_RATE, weight_decay=0.1, cautious=True),
            "zoo_nadam+keras2_decay": lambda: koz.ZooNadam(learning_rate=LEARNING_RATE, decay=0.1),
        }
    )
    return made


#: Cases whose update multiplies matrices (preconditioners): float32 matrix products round
#: differently on other matmul kernels (oneDNN AVX-512 / AVX2 / AVX, Eigen), elementwise updates
#: do not. ``matmul_probe`` tells whether a machine has the kernels these files were written with.
MATRIX_PRODUCTS = ("zoo_shampoo", "zoo_soap")


def matmul_probe():
    """A fingerprint of this machine's float32 matmul rounding (products of small matrices)."""
    import hashlib

    rng = np.random.default_rng(0)
    digest = hashlib.sha256()
    for n in (1, 4, 5, 8, 16):
        for m in (1, 4, 5, 8, 16):
            a = rng.normal(size=(n, m)).astype("float32")
            b = rng.normal(size=(m, n)).astype("float32")
            digest.update(tf.linalg.matmul(a, b).numpy().tobytes())
            digest.update(tf.linalg.matmul(a, a, transpose_b=True).numpy().tobytes())
    return digest.hexdigest()[:16]


def model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(1)])


def gradients(shapes):
    """``{f"g{step}/{j}": array}`` for the 2 * STEPS steps; step 1 of case ``*skip_nonfinite``
    gets a NaN (``nan_step``)."""
    rng = np.random.default_rng(2026)
    return {f"g{i}/{j}": rng.normal(size=s).astype("float32") for i in range(2 * STEPS) for j, s in enumerate(shapes)}


def step_gradients(arrays, step, count, case):
    grads = [arrays[f"g{step}/{j}"] for j in range(count)]
    if case.endswith("skip_nonfinite") and step == 1:
        grads[0] = grads[0].copy()
        grads[0][0, 0] = np.nan
    return grads


def main():
    folder = os.path.join(HERE, koz.__version__)
    os.makedirs(folder, exist_ok=True)
    shapes = [tuple(v.shape) for v in model().trainable_variables]
    arrays = gradients(shapes)
    plan = {}
    for case, make in cases().items():
        net = model()
        net.compile(optimizer=make(), loss="mse")
        optimizer = net.optimizer
        variables = net.trainable_variables
        for i in range(STEPS):
            optimizer.apply_gradients(zip(step_gradients(arrays, i, len(shapes), case), variables))
        net.save(os.path.join(folder, f"{case}.keras"))
        tf.train.Checkpoint(model=net, optimizer=optimizer).write(os.path.join(folder, f"{case}-ckpt"))
        plan[case] = {
            "class": type(optimizer).__name__,
            "optimizer": keras.optimizers.serialize(optimizer),
            "model": net.get_config(),
            "iterations": int(optimizer.iterations),
            "matrix_products": case in MATRIX_PRODUCTS,
        }
        for i in range(STEPS, 2 * STEPS):
            optimizer.apply_gradients(zip(step_gradients(arrays, i, len(shapes), case), variables))
        for j, w in enumerate(net.get_weights()):
            arrays[f"{case}/expected/{j}"] = w
    np.savez(os.path.join(folder, "expected.npz"), **arrays)
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(
            {
                "keras_optim_zoo": koz.__version__,
                "keras": keras.__version__,
                "tensorflow": tf.__version__,
                "matmul_probe": matmul_probe(),
                "cases": plan,
            },
            f,
            indent=1,
            sort_keys=True,
        )
    print(f"wrote {len(plan)} cases to {folder}")


if __name__ == "__main__":
    main()
