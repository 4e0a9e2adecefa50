"""State saved by every release keeps loading and continues bit for bit.

``tests/data/saved_state/<release>/`` holds, for every table row, wrapper and a few options that
add state, a ``.keras`` file and a ``tf.train.Checkpoint`` written by that release after 3 fixed
gradient steps, and the weights that release reached 3 fixed steps later (``write_saved_state.py`` there writes
a release's folder). Here each file is restored by the code under test and the same 3 steps must
reach the same weights bit for bit: a slot restored under the wrong name or in swapped order
(two slots of one shape load without an error) gives other numbers.

One exception, for the machine and not the code: Shampoo and SOAP multiply matrices, and float32
matrix products round differently on other matmul kernels. Where this machine's kernels are not
those the files were written with (``matmul_probe`` differs), their weights must agree within
``OTHER_KERNELS_ULPS``. Measured on the machine that wrote 0.1.0 (AMD EPYC, oneDNN AVX-512), by
capping oneDNN at AVX2 / AVX / SSE4.1 and by switching it off (Eigen): Shampoo 11 / 12 / 12 / 1
ulps, SOAP 8 / 64 / 52 / 16 (weights near 0 count many ulps for a 3e-8 difference); a restored
slot in the wrong place moves them by millions.

On another TensorFlow than the one that wrote the files (``cases.json``), elementwise kernels round
differently too: TensorFlow 2.18's float32 ``pow`` differs from 2.21's by 1 ulp in a quarter of
its results, and MADGRAD (cube root) and Shampoo (inverse roots) land 2 ulps away; there every
case must agree within ``OTHER_TENSORFLOW_ULPS`` (CI's oldest-Keras step runs these files on
TensorFlow 2.18 and Keras 3.10).

A Keras older than the one that wrote the files cannot read their models: Keras writes keys into
layer and initializer configs that older versions reject as unknown arguments
(``NEWER_KERAS_KEYS``). The checkpoint test builds its model from the config without them (their
value is None, the default: the same model); a ``.keras`` file cannot be read, and its test is
skipped there, naming the keys.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo  # noqa: F401  (registers the optimizers for load_model)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "saved_state")
sys.path.insert(0, DATA)
from write_saved_state import matmul_probe  # noqa: E402  (the same fingerprint the files were written with)

STEPS = 3
OTHER_KERNELS_ULPS = 256
#: Measured on TensorFlow 2.18 (files of TensorFlow 2.21, same matmul kernels): MADGRAD and Shampoo
#: 2 ulps, every other case 0. 8x that:
OTHER_TENSORFLOW_ULPS = 16

#: Config keys Keras writes since the version given, with the value None (the default) in these
#: files; older Keras layers and initializers reject them as unknown keyword arguments:
#: Dense's ``quantization_config`` (Keras 3.13, keras-team/keras#21928) and the initializers'
#: ``input_axes`` / ``output_axes`` (Keras 3.15, keras-team/keras#22789).
NEWER_KERAS_KEYS = {"quantization_config": (3, 13), "input_axes": (3, 15), "output_axes": (3, 15)}
KERAS = tuple(int(part) for part in keras.__version__.split(".")[:2])

#: Cases whose arithmetic was changed on purpose after the release that saved them: the restored
#: state must still continue within ``CHANGED_ROUNDING_ULPS`` (a slot restored in the wrong place
#: moves the weights by millions of ulps). Each entry: (release, case) -> the change.
CHANGED_ROUNDING = {
    ("0.1.0", "zoo_adamw+cautious"): "the cautious mask acts on the step direction u itself, no longer on "
    "u recovered from the weights as w - (w - u) (the half-ulp rule); measured 16 ulps (weights near 0)",
    ("0.1.0", "zoo_adan"): "its last variant is cautious: as above; measured 2 ulps",
}
CHANGED_ROUNDING_ULPS = 64


def _releases():
    return sorted(d for d in os.listdir(DATA) if os.path.isfile(os.path.join(DATA, d, "cases.json")))


def _cases():
    params = []
    for release in _releases():
        with open(os.path.join(DATA, release, "cases.json")) as f:
            plan = json.load(f)["cases"]
        params += [pytest.param(release, case, plan[case], id=f"{release}-{case}") for case in sorted(plan)]
    return params


_ARRAYS = {}


def _arrays(release):
    if release not in _ARRAYS:
        with np.load(os.path.join(DATA, release, "expected.npz")) as data:
            _ARRAYS[release] = dict(data)
    return _ARRAYS[release]


def _continue(optimizer, variables, arrays):
    """The 3 steps after the restore (write_saved_state.py: steps 3, 4, 5 of its gradient stream)."""
    for i in range(STEPS, 2 * STEPS):
        optimizer.apply_gradients(zip([arrays[f"g{i}/{j}"] for j in range(len(variables))], variables))


@functools.lru_cache(maxsize=None)
def _written_with(release):
    """What wrote ``release``'s files: versions (``keras``, ``tensorflow``) and ``matmul_probe``."""
    with open(os.path.join(DATA, release, "cases.json")) as f:
        return {key: value for key, value in json.load(f).items() if key != "cases"}


@functools.lru_cache(maxsize=None)
def _same_kernels(release):
    return _written_with(release)["matmul_probe"] == matmul_probe()


def _max_ulps(release, case, plan):
    """How far this machine, TensorFlow and the code's documented rounding changes may land from
    the recorded weights (0: bit for bit)."""
    ulps = 0 if _written_with(release)["tensorflow"] == tf.__version__ else OTHER_TENSORFLOW_ULPS
    if plan["matrix_products"] and not _same_kernels(release):
        ulps = max(ulps, OTHER_KERNELS_ULPS)
    if (release, case) in CHANGED_ROUNDING:
        ulps = max(ulps, CHANGED_ROUNDING_ULPS)
    return ulps


def _assert_reached(model, arrays, release, case, plan, how):
    ulps = _max_ulps(release, case, plan)
    for j, w in enumerate(model.get_weights()):
        expected = arrays[f"{case}/expected/{j}"]
        if ulps:
            np.testing.assert_array_max_ulp(w, expected, maxulp=ulps)
        else:
            np.testing.assert_array_equal(w, expected, err_msg=f"{case} ({how}), weight {j}")


def _too_new(key, value):
    """A config entry of ``NEWER_KERAS_KEYS`` with the value None, newer than this Keras."""
    return value is None and KERAS < NEWER_KERAS_KEYS.get(key, KERAS)


def _unknown_keys(config):
    """The ``_too_new`` keys anywhere in ``config``."""
    if isinstance(config, dict):
        return {key for key, value in config.items() if _too_new(key, value)}.union(
            *(_unknown_keys(value) for value in config.values())
        )
    if isinstance(config, list):
        return set().union(*(_unknown_keys(value) for value in config))
    return set()


def _for_this_keras(config):
    """``config`` without its ``_too_new`` entries (unchanged on a Keras that knows them all)."""
    if isinstance(config, dict):
        return {key: _for_this_keras(value) for key, value in config.items() if not _too_new(key, value)}
    if isinstance(config, list):
        return [_for_this_keras(value) for value in config]
    return config


def test_there_is_saved_state_for_the_first_release():
    assert "0.1.0" in _releases()


@pytest.mark.parametrize("release, case, plan", _cases())
def test_keras_file_restores_and_continues_bit_for_bit(release, case, plan):
    unknown = _unknown_keys(plan["model"])
    if unknown:
        pytest.skip(
            f"Keras {keras.__version__} cannot read a model saved by Keras {_written_with(release)['keras']}: "
            f"its layers reject the config keys {sorted(unknown)} (NEWER_KERAS_KEYS: Dense quantization_config "
            "since Keras 3.13, keras-team/keras#21928; initializer input_axes/output_axes since 3.15, #22789); "
            "the checkpoint test restores the same optimizer state"
        )
    arrays = _arrays(release)
    model = keras.models.load_model(os.path.join(DATA, release, f"{case}.keras"))
    assert type(model.optimizer).__name__ == plan["class"]
    assert int(model.optimizer.iterations) == plan["iterations"]
    _continue(model.optimizer, model.trainable_variables, arrays)
    _assert_reached(model, arrays, release, case, plan, ".keras")


@pytest.mark.parametrize("release, case, plan", _cases())
def test_checkpoint_restores_and_continues_bit_for_bit(release, case, plan):
    arrays = _arrays(release)
    keras.utils.set_random_seed(99)  # other initial weights: the restore must overwrite them
    model = keras.Sequential.from_config(_for_this_keras(plan["model"]))
    optimizer = keras.optimizers.deserialize(plan["optimizer"])
    optimizer.build(model.trainable_variables)
    status = tf.train.Checkpoint(model=model, optimizer=optimizer).read(os.path.join(DATA, release, f"{case}-ckpt"))
    status.assert_existing_objects_matched()
    assert int(optimizer.iterations) == plan["iterations"]
    _continue(optimizer, model.trainable_variables, arrays)
    _assert_reached(model, arrays, release, case, plan, "checkpoint")
