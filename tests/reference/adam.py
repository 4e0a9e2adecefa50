"""Adam (optionally AMSGrad), in Keras 3's conventions.

Update equations (``t`` = 1-based step; m_0 = v_0 = vhat_0 = 0)::

    m_t     = m_{t-1} + (g_t - m_{t-1}) * (1 - beta_1)    # = b1 m + (1-b1) g
    v_t     = v_{t-1} + (g_t**2 - v_{t-1}) * (1 - beta_2) # = b2 v + (1-b2) g^2
    alpha_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    amsgrad=True:  vhat_t = max(vhat_{t-1}, v_t) and v_t is replaced by vhat_t
                   in the next line (the stored velocity stays v_t)
    w_t     = w_{t-1} - alpha_t * m_t / (sqrt(v_t) + epsilon)

Papers: D. P. Kingma & J. Ba (2014), "Adam: A Method for Stochastic
Optimization", arXiv:1412.6980 (ICLR 2015), Algorithm 1 with the
"more efficient" ordering of Section 2; AMSGrad: S. J. Reddi, S. Kale &
S. Kumar (2018), "On the Convergence of Adam and Beyond", ICLR 2018.

Conventions: epsilon is OUTSIDE the square root and OUTSIDE the bias
correction (the paper's "epsilon hat" of Section 2: eps is added to
sqrt(v_t), not to sqrt(v_t / (1 - beta_2**t))).  In terms of the bias-corrected
moments the update is lr * mhat_t / (sqrt(vhat_t) + eps / sqrt(1 - beta_2**t)),
i.e. the effective epsilon is eps / sqrt(1 - beta_2**t) (about 3.2e-6 at t=1
with the defaults, shrinking to eps as t grows).  Bias correction is folded
into the step size alpha_t.  AMSGrad as in Keras takes the running max of the
UNCORRECTED v_t and still applies both bias corrections via alpha_t (Reddi
et al. have no bias correction).  Consequence: the first step moves every
weight by about lr * sign(g), exactly by
lr * g / (|g| + eps / sqrt(1 - beta_2)).
"""

import numpy as np

from ._cautious import caution_step


def adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, cautious=False):
    """Keras 3 ``Adam``; see the module docstring for the equations.

    ``cautious=True`` (a zoo extension, not in Keras): the step is masked by ``_cautious``."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"momentum": np.zeros_like(w), "velocity": np.zeros_like(w)}
        if amsgrad:
            state["velocity_hat"] = np.zeros_like(w)
        return state

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        new_state = {}

        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = state["momentum"] + (g - state["momentum"]) * (1 - beta_1)
        v = state["velocity"] + (g**2 - state["velocity"]) * (1 - beta_2)
        new_state["momentum"] = m
        new_state["velocity"] = v
        if amsgrad:
            v_hat = np.maximum(state["velocity_hat"], v)
            new_state["velocity_hat"] = v_hat
            v = v_hat
        u = m * alpha / (np.sqrt(v) + epsilon)
        return (caution_step(w, u, g) if cautious else w - u), new_state

    return init, update
