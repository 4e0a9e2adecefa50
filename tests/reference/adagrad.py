"""Adagrad, in Keras 3's conventions.

Update equations (``t`` = 1-based step)::

    acc_0 = initial_accumulator_value
    acc_t = acc_{t-1} + g_t**2
    w_t   = w_{t-1} - lr * g_t / sqrt(acc_t + epsilon)

Paper: J. Duchi, E. Hazan & Y. Singer (2011), "Adaptive Subgradient Methods for
Online Learning and Stochastic Optimization", JMLR 12:2121-2159 (the diagonal
version, Fig. 1 / eq. (1) with the delta*I term replaced by a nonzero start of
the accumulator).

Conventions: epsilon is INSIDE the square root; the accumulator starts at
``initial_accumulator_value`` (0.1 by default), not 0; no bias correction.
"""

import numpy as np


def adagrad(initial_accumulator_value=0.1, epsilon=1e-7):
    """Keras 3 ``Adagrad``; see the module docstring for the equations."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"accumulator": np.full_like(w, initial_accumulator_value)}

    def update(g, state, w, t, lr):
        del t  # Adagrad does not depend on the step number.
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        acc = state["accumulator"] + g**2
        new_w = w - lr * g / np.sqrt(acc + epsilon)
        return new_w, {"accumulator": acc}

    return init, update
