"""Proximal Adagrad (Adagrad step sizes + FOBOS proximal step for L1/L2).

Update equations, element-wise (``t`` = 1-based step, ``lr`` = learning rate
of step t)::

    acc_0 = initial_accumulator_value
    acc_t = acc_{t-1} + g_t**2
    eta_t = lr / sqrt(acc_t)
    p_t   = w_{t-1} - eta_t * g_t
    w_t   = sign(p_t) * max(|p_t| - eta_t * l1, 0) / (1 + eta_t * l2)

The last line is argmin_w  1/2 (w - p)^2 + eta * (l1 |w| + l2/2 w^2), the
proximal step of forward-backward splitting.

Papers: J. Duchi & Y. Singer (2009), "Efficient Online and Batch Learning Using
Forward Backward Splitting", JMLR 10:2899-2934 (FOBOS, Sec. 5 for L1 and L2^2);
J. Duchi, E. Hazan & Y. Singer (2011), "Adaptive Subgradient Methods for Online
Learning and Stochastic Optimization", JMLR 12:2121-2159 (the per-coordinate
step sizes); L. Xiao (2010), "Dual Averaging Methods for Regularized Stochastic
Learning and Online Optimization", JMLR 11.  The equations are those of
TensorFlow's ApplyProximalAdagrad kernel (tensorflow/core/kernels/training_ops.cc).

Conventions: no epsilon; l1 and l2 act only through the proximal step.
"""

import numpy as np


def proximal_adagrad(initial_accumulator_value=0.1, l1_regularization_strength=0.0, l2_regularization_strength=0.0):
    """Proximal Adagrad; see the module docstring."""
    l1, l2 = l1_regularization_strength, l2_regularization_strength

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"accumulator": np.full_like(w, initial_accumulator_value)}

    def update(g, state, w, t, lr):
        del t
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        acc = state["accumulator"] + g**2
        eta = lr / np.sqrt(acc)
        p = w - eta * g
        new_w = np.sign(p) * np.maximum(np.abs(p) - eta * l1, 0.0) / (1.0 + eta * l2)
        return new_w, {"accumulator": acc}

    return init, update
