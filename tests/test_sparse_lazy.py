"""Lazy sparse steps touch only the gathered rows: they never read the whole table.

(A full read of the table in the step graph makes TensorFlow copy the table on the following
scatter, so the step would cost O(table) instead of O(touched rows). Timings are in
``benchmarks/lazy_adam_embedding.py``; this checks the structure that makes them possible.)
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import stepping
from optimizer_table import ROWS

# Decoupled weight decay (e.g. SGDW's default) decays every row, as in Keras: not lazy by design.
LAZY_ROWS = [pytest.param(row, id=row.name) for row in ROWS if stepping(row.cls())._lazy_sparse() and not row.cls().weight_decay]


@pytest.mark.parametrize("row", LAZY_ROWS)
def test_lazy_step_reads_only_touched_rows(row):
    table = keras.Variable(np.zeros((1000, 8), "float32"), name="table")
    optimizer = row.cls()
    optimizer.build([table])
    gradient = tf.IndexedSlices(tf.ones([3, 8]), tf.constant([1, 5, 5], tf.int64), tf.constant([1000, 8], tf.int64))

    @tf.function
    def step():
        optimizer.apply_gradients([(gradient, table)])

    graph = step.get_concrete_function().graph
    handles = {id(table.value.handle), *(id(v.value.handle) for v in optimizer.variables if len(v.shape) == 2)}
    placeholders = {internal.name for external, internal in graph.captures if id(external) in handles}
    assert placeholders, "the table's handle must be captured"
    full_reads = [
        op for op in graph.get_operations()
        if op.type in ("ReadVariableOp", "VariableShape") and op.inputs[0].name in placeholders
    ]
    assert not full_reads, [op.name for op in full_reads]
    step()
    touched = table.numpy()
    assert np.all(touched[[1, 5]] != 0) and np.all(np.delete(touched, [1, 5], axis=0) == 0)
