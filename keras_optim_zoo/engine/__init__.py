"""The step engine: how an update runs (execution policy, step context, executors).

Dependencies point one way: optimizers -> families -> engine -> helpers (``checks``, ``sparse``,
``moments``). Nothing here imports an algorithm or a wrapper.
"""
