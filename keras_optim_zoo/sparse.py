"""Helpers for sparse (``tf.IndexedSlices``) gradients.

An ``Embedding`` (or any ``gather``) produces an ``IndexedSlices`` gradient whose indices may repeat
when a batch contains the same token twice. The gradient *is* the sum of the rows with the same index,
so every helper here sums duplicates before anything non-linear sees them; a sparse gradient then
always gives the same result as the same gradient made dense. (Keras 3.15's built-ins square each
duplicate separately instead; see ``docs`` / the README, "Sparse gradients".)

TensorFlow is imported lazily: with another Keras backend there are no ``IndexedSlices``.
"""

from __future__ import annotations

import keras


def is_indexed_slices(x):
    """True for a ``tf.IndexedSlices`` (always False on a non-TensorFlow backend)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(x, tf.IndexedSlices)


def _tf_variable(variable):
    """The backend ``tf.Variable`` behind a Keras variable (or the variable itself)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def to_dense(gradient, num_rows):
    """The dense gradient: rows with the same index summed, untouched rows zero."""
    import tensorflow as tf

    return tf.math.unsorted_segment_sum(gradient.values, gradient.indices, num_rows)


def deduplicate(gradient):
    """The same ``IndexedSlices`` with each index once and the rows of repeated indices summed."""
    import tensorflow as tf

    unique, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def gather_rows(variable, indices):
    """The rows ``indices`` of a (Keras or TF) variable, as a tensor."""
    import tensorflow as tf

    return tf.gather(_tf_variable(variable), indices)


def rows_update(rows, indices, like):
    """An ``IndexedSlices`` that, given to ``optimizer.assign``, scatters ``rows`` into ``like``."""
    import tensorflow as tf

    # The static shape: `tf.shape(variable)` would read the variable, and a pending read makes the
    # scatter copy the whole table (copy-on-write): a lazy step would cost O(rows), not O(touched).
    shape = tuple(like.shape)
    if all(dim is not None for dim in shape):
        dense_shape = tf.constant(shape, dtype=indices.dtype)
    else:
        dense_shape = tf.shape(_tf_variable(like), out_type=indices.dtype)
    return tf.IndexedSlices(rows, indices, dense_shape)


def cast_values(gradient, dtype):
    """Cast the values of an ``IndexedSlices`` (indices unchanged)."""
    import tensorflow as tf

    return tf.IndexedSlices(tf.cast(gradient.values, dtype), gradient.indices, gradient.dense_shape)
