"""Execution policy: which variables take the fused (XLA-compiled) update, per optimizer instance.

Two constructor arguments of every zoo optimizer, saved in its config:

* ``fused`` (default True): on the TensorFlow backend, variables of at least ``fuse_min_size``
  elements are updated by the readable update compiled with XLA (one launch for all of them per
  step, or one per variable under ``tf.distribute``); False: every variable op by op;
* ``fuse_min_size`` (default ``DEFAULT_FUSE_MIN_SIZE``): the size from which a variable is
  "large". The wrappers use their inner optimizer's value (the default around a Keras built-in)
  to choose between a ``tf.cond`` and a select.

Tests set ``fuse_min_size`` on the instance (e.g. 1024, so that small test shapes take the fused
path); nothing patches a module global.
"""

from __future__ import annotations

from keras_optim_zoo import checks

#: Variables with at least this many elements get the fused (XLA-compiled) update when
#: ``fused=True``. Measured on a 2-core CPU inside a training step (forward, backward, update): one
#: XLA launch costs ~50-60 us more than the op-by-op update of a small variable, and the fused
#: kernel saves ~2 ns per element, so it pays from ~30k elements on. (Launching every variable of a
#: step together in ONE XLA computation was measured too: slower than per-variable launches, both
#: for many 64-element and many 4k-element variables.)
DEFAULT_FUSE_MIN_SIZE = 1 << 15


def check_fuse_min_size(value):
    """An integer >= 0 (0: every variable counts as large)."""
    return checks.integer("fuse_min_size", value, minimum=0)


def size(variable):
    """The number of elements of ``variable`` (``None`` if its shape is not fully known)."""
    total = 1
    for dim in variable.shape:
        if dim is None:
            return None
        total *= int(dim)
    return total


def is_large(variable, min_size=DEFAULT_FUSE_MIN_SIZE):
    """Whether ``variable`` has at least ``min_size`` elements (and a fully known shape): the size
    from which a fused launch, or a ``tf.cond`` that skips the work, pays for itself."""
    n = size(variable)
    return n is not None and n >= min_size


def fuse_min_size_of(optimizer):
    """``optimizer``'s threshold: its ``fuse_min_size`` if it has one (a zoo optimizer), else the
    default (a Keras built-in)."""
    return getattr(optimizer, "fuse_min_size", DEFAULT_FUSE_MIN_SIZE)
