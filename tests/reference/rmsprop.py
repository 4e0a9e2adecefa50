"""RMSprop (optionally centered, optionally with momentum), in Keras 3's conventions.

Update equations (``t`` = 1-based step; all slots start at 0)::

    v_t = rho * v_{t-1} + (1 - rho) * g_t**2
    centered=False:  d_t = v_t + epsilon
    centered=True:   mg_t = rho * mg_{t-1} + (1 - rho) * g_t
                     d_t  = v_t - mg_t**2 + epsilon
    inc_t = lr * g_t / sqrt(d_t)
    momentum > 0:    mom_t = momentum * mom_{t-1} + inc_t ;  w_t = w_{t-1} - mom_t
    momentum == 0:   w_t = w_{t-1} - inc_t

Papers: T. Tieleman & G. Hinton (2012), "Lecture 6.5 - rmsprop", COURSERA:
Neural Networks for Machine Learning (unpublished lecture slides); the centered
variant and the momentum form are from A. Graves (2013), "Generating Sequences
With Recurrent Neural Networks", arXiv:1308.0850, eqs. (38)-(41).

Conventions: epsilon is INSIDE the square root (added to the second-moment
estimate, after subtracting mg**2 in the centered case).  No bias correction:
the slots start at zero, so early steps are large (first step moves by
lr * g / sqrt((1-rho) g**2 + eps) ~ lr / sqrt(1-rho) ~ 3.16 lr at rho=0.9).
The learning rate is inside the momentum accumulator.  Keras creates the
``momentum`` slot only when ``momentum > 0`` and ``average_gradient`` only when
``centered``; so does ``init``.
"""

import numpy as np


def rmsprop(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    """Keras 3 ``RMSprop``; see the module docstring for the equations."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"velocity": np.zeros_like(w)}
        if momentum > 0:
            state["momentum"] = np.zeros_like(w)
        if centered:
            state["average_gradient"] = np.zeros_like(w)
        return state

    def update(g, state, w, t, lr):
        del t  # RMSprop does not depend on the step number.
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        new_state = {}

        v = rho * state["velocity"] + (1 - rho) * g**2
        new_state["velocity"] = v
        if centered:
            mg = rho * state["average_gradient"] + (1 - rho) * g
            new_state["average_gradient"] = mg
            denominator = v - mg**2 + epsilon
        else:
            denominator = v + epsilon
        increment = lr * g / np.sqrt(denominator)

        if momentum > 0:
            mom = momentum * state["momentum"] + increment
            new_state["momentum"] = mom
            new_w = w - mom
        else:
            new_w = w - increment
        return new_w, new_state

    return init, update
