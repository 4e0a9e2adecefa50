"""The cautious mask in NumPy (Liang, Chen, Liu & Liu 2024, arXiv:2411.16085).

A reference with a ``cautious`` option computes its step ``u`` (``w_new = w - u``, after any
decoupled weight decay) and replaces it by ``caution(u, g)``::

    mask = 1[u * g > 0]
    u    = u * mask / max(mean(mask), 1e-3)

``cautious_step(w, w_new, g)`` does this for a reference that computed ``w_new``: the step is
recovered as ``u = w - w_new`` in float64. ``ZooOptimizer`` masks the direction ``u`` its update
returns, before it meets the weights (the engine's ``_new_weights``), as the paper does; the
float64 recovery differs from it only for a step below half an ulp of its weight in float64
(counted as masked here), which the parity tests never produce. (Until 0.1.0 the zoo recovered
``u`` from its own weights, so that rule held in float32 too.)

``size``: the element count of the whole variable when ``u`` holds only some of its rows (lazy
sparse updates); the rows left out have a zero gradient and count as masked.
"""

import numpy as np


def caution(update, g, size=None):
    mask = (update * g > 0).astype(np.float64)
    mean = mask.sum() / size if size is not None else mask.mean()
    return update * mask / max(mean, 1e-3)


def caution_step(w, u, g, size=None):
    """``w - caution(u, g)``: the weights after the cautious version of the step ``u``."""
    return w - caution(u, g, size)


def cautious_step(w, new_w, g, size=None):
    """``w - caution(w - new_w, g)``: for a step whose new weights are a closed form (the zoo's
    ``"new_value"`` steps, e.g. Yogi's proximal step), the mask sees the displacement."""
    return w - caution(w - new_w, g, size)
