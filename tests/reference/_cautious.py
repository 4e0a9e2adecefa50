"""The cautious mask in NumPy (Liang, Chen, Liu & Liu 2024, arXiv:2411.16085).

A reference with a ``cautious`` option computes its step ``u`` (``w_new = w - u``, after any
decoupled weight decay) and replaces it by ``caution(u, g)``::

    mask = 1[u * g > 0]
    u    = u * mask / max(mean(mask), 1e-3)
"""

import numpy as np


def caution(update, g):
    mask = (update * g > 0).astype(np.float64)
    return update * mask / max(mask.mean(), 1e-3)
