"""Adadelta, in Keras 3's conventions.

Update equations (``t`` = 1-based step; both accumulators start at 0)::

    rms(x)     = sqrt(x + epsilon)
    Eg2_t      = rho * Eg2_{t-1} + (1 - rho) * g_t**2
    dx_t       = - rms(Edx2_{t-1}) / rms(Eg2_t) * g_t
    Edx2_t     = rho * Edx2_{t-1} + (1 - rho) * dx_t**2
    w_t        = w_{t-1} + lr * dx_t

Paper: M. D. Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method",
arXiv:1212.5701, Algorithm 1.

Conventions: epsilon is INSIDE both square roots (as in the paper).  Unlike the
paper, Keras multiplies the step by a learning rate (the paper is lr = 1; the
Keras default is lr = 0.001).  The accumulated squared update ``Edx2`` is
updated with the UNSCALED ``dx_t`` (before multiplying by lr).  No bias
correction.  Keras slot names: ``accumulated_grad`` (Eg2) and
``accumulated_delta_var`` (Edx2).
"""

import numpy as np


def adadelta(rho=0.95, epsilon=1e-7):
    """Keras 3 ``Adadelta``; see the module docstring for the equations."""

    def rms(x):
        return np.sqrt(x + epsilon)

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {
            "accumulated_grad": np.zeros_like(w),
            "accumulated_delta_var": np.zeros_like(w),
        }

    def update(g, state, w, t, lr):
        del t  # Adadelta does not depend on the step number.
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        eg2 = rho * state["accumulated_grad"] + (1 - rho) * g**2
        dx = -rms(state["accumulated_delta_var"]) / rms(eg2) * g
        edx2 = rho * state["accumulated_delta_var"] + (1 - rho) * dx**2
        new_w = w + lr * dx
        return new_w, {"accumulated_grad": eg2, "accumulated_delta_var": edx2}

    return init, update
