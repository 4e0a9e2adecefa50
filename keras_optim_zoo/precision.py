"""Low-precision optimizer state: ``state_dtype="bfloat16"`` and its rounding.

Every zoo optimizer accepts ``state_dtype="bfloat16"``: the per-variable slots shaped like the
variable (Adam's two moments, momentum buffers, accumulators, ...) are *stored* in bfloat16, which
halves their memory (Adam: 8 → 4 bytes per float32 parameter). The update is still computed in
float32 (``ZooOptimizer.compute_dtype``) and only the stored result is rounded, with

* ``state_rounding="nearest"`` (default): round to nearest, ties to even (what a cast does);
* ``state_rounding="stochastic"``: round up with probability equal to the distance to the lower
  bfloat16 neighbour (Gupta et al. 2015, "Deep Learning with Limited Numerical Precision",
  arXiv:1502.02551; Zamirai et al. 2020, arXiv:2010.06192 for bfloat16 optimizer state), so the
  rounding error is zero on average: small increments such as ``(1 - beta_2) * g^2`` added to a
  large second moment are not lost systematically, which round-to-nearest does once they are
  below half a bfloat16 ulp (bfloat16 has 8 significant bits: an EMA with ``beta >= 0.996`` moves
  by less than that for a constant input and stalls).

The random bits are a counter-based hash of (step, variable, slot, element), not a random-number
generator with its own state: a resumed run draws the same bits, so checkpoints resume bit for bit,
and the same code runs eagerly, in ``tf.function``, under XLA and on JAX.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_optim_zoo import checks

STATE_DTYPES = (None, "float32", "bfloat16")
STATE_ROUNDINGS = ("nearest", "stochastic")


def check_state_dtype(value):
    return checks.one_of("state_dtype", value, STATE_DTYPES, " (None: the variable's dtype)")


def check_state_rounding(value):
    return checks.one_of("state_rounding", value, STATE_ROUNDINGS)


def _view(x, dtype):
    """``ops.view(x, dtype)`` between types of one size (float32 <-> uint32): the same bits.

    ``ops.view`` is new in Keras 3.12; on Keras 3.10-3.11 this is the backend's own bitcast, the
    one ``ops.view`` calls for types of one size (``tf.bitcast``; JAX's ``x.view``).
    """
    if hasattr(ops, "view"):
        return ops.view(x, dtype)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.bitcast(ops.convert_to_tensor(x), dtype)
    if backend == "jax":
        return ops.convert_to_tensor(x).view(dtype)
    raise NotImplementedError(
        f"state_rounding='stochastic' needs keras.ops.view (Keras >= 3.12) on the {backend} backend; "
        f"this is Keras {keras.__version__}"
    )


def _u32(value):
    return ops.convert_to_tensor(np.uint32(value & 0xFFFFFFFF))


def hash32(x):
    """A bijective 32-bit integer hash (C. Wellons' "lowbias32"); ``x`` is uint32."""
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))
    x = ops.multiply(x, _u32(0x7FEB352D))
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(15)))
    x = ops.multiply(x, _u32(0x846CA68B))
    return ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))


def random_bits(shape, step, salt):
    """Deterministic pseudo-random uint32 bits of ``shape`` for (``step``, ``salt``)."""
    size = int(np.prod(shape)) if len(shape) else 1
    counter = ops.reshape(ops.cast(ops.arange(size, dtype="int32"), "uint32"), shape)  # XLA: no uint32 range
    seed = hash32(ops.add(hash32(ops.cast(step, "uint32")), _u32(salt * 0x9E3779B9)))
    return hash32(ops.add(counter, ops.multiply(seed, _u32(0x9E3779B9))))


def stochastic_round_to_bfloat16(value, step, salt):
    """``value`` rounded to a bfloat16-representable float32, up or down at random.

    A bfloat16 is the upper 16 bits of a float32: adding uniform random bits to the lower 16 bits
    and truncating them rounds the magnitude up with probability (distance to the lower neighbour)
    / ulp (the sign bit is untouched, so negative values round symmetrically). Non-finite values
    are passed through.
    """
    value = ops.cast(value, "float32")
    bits = _view(value, "uint32")
    noise = ops.bitwise_and(random_bits(tuple(value.shape), step, salt), _u32(0xFFFF))
    rounded = _view(ops.bitwise_and(ops.add(bits, noise), _u32(0xFFFF0000)), "float32")
    return ops.where(ops.isfinite(value), rounded, value)
