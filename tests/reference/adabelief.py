"""AdaBelief, from the paper's Algorithm 2 (and, with rectify=True, RAdam's rectification).

Update equations (``t`` = 1-based step; m_0 = s_0 = smax_0 = 0)::

    lr_t  = lr, or TensorFlow Addons' warm-up/decay ramp (see ``radam.py``)
    m_t   = b1 m_{t-1} + (1 - b1) g_t
    s_t   = b2 s_{t-1} + (1 - b2) (g_t - m_t)**2 + epsilon
    amsgrad=True:  smax_t = max(smax_{t-1}, s_t), used in place of s_t below
    mhat  = m_t / (1 - b1**t)
    shat  = s_t / (1 - b2**t)
    u     = mhat / (sqrt(shat) + epsilon)
    rectify=False:  w_t = w_{t-1} - lr_t * u
    rectify=True:   w_t = w_{t-1} - lr_t * r_t * u    if rho_t >= sma_threshold
                    w_t = w_{t-1} - lr_t * mhat       elif degenerated_to_sgd
                    w_t = w_{t-1}                     otherwise
                    (rho_t, r_t: RAdam's, see ``radam.rho_and_r``)

Paper: J. Zhuang, T. Tang, Y. Ding, S. Tatikonda, N. Dvornek, X. Papademetris &
J. S. Duncan (2020), "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
Observed Gradients", NeurIPS 2020, arXiv:2010.07468, Algorithm 2: epsilon is
added to s_t at every step AND to sqrt(shat) after the bias correction.  The
rectified variant is the one of ``tfa.optimizers.AdaBelief`` and the official
``adabelief_tf`` (sqrt(shat) + eps in both branches, the AMSGrad maximum used).
"""

import numpy as np

from ._cautious import caution_step
from .radam import rho_and_r, scheduled_lr


def adabelief(beta_1=0.9, beta_2=0.999, epsilon=1e-14, amsgrad=False, rectify=False, sma_threshold=5.0,
              degenerated_to_sgd=True, total_steps=0, warmup_proportion=0.1, min_lr=0.0, cautious=False):
    """AdaBelief as in ``keras_optim_zoo.ZooAdaBelief``; see the module docstring."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"momentum": np.zeros_like(w), "velocity": np.zeros_like(w)}
        if amsgrad:
            state["velocity_hat"] = np.zeros_like(w)
        return state

    def update(g, state, w, t, lr):
        u, new_state = step(g, state, w, t, lr)
        return (caution_step(w, u, g) if cautious else w - u), new_state

    def step(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        lr_t = scheduled_lr(lr, t, total_steps, warmup_proportion, min_lr)

        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        s = beta_2 * state["velocity"] + (1 - beta_2) * (g - m) ** 2 + epsilon
        new_state = {"momentum": m, "velocity": s}
        if amsgrad:
            s = np.maximum(state["velocity_hat"], s)
            new_state["velocity_hat"] = s
        m_hat = m / (1 - beta_1**t)
        s_hat = s / (1 - beta_2**t)
        u = m_hat / (np.sqrt(s_hat) + epsilon)
        if not rectify:
            return lr_t * u, new_state
        rho_t, r_t = rho_and_r(beta_2, t)
        if rho_t >= sma_threshold:
            return lr_t * r_t * u, new_state
        if degenerated_to_sgd:
            return lr_t * m_hat, new_state
        return np.zeros_like(w), new_state

    return init, update
