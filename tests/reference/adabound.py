"""AdaBound / AMSBound (Luo, Xiong, Liu & Sun 2019), in NumPy float64.

Paper: L. Luo, Y. Xiong, Y. Liu & X. Sun (2019), "Adaptive Gradient Methods with
Dynamic Bound of Learning Rate", ICLR 2019, arXiv:1902.09843, Algorithms 2
(AdaBound) and 3 (AMSBound), with the bound functions and conventions of the
official code (github.com/Luolc/AdaBound).

Update equations (``t`` = 1-based step, m_0 = v_0 = vmax_0 = 0)::

    m_t   = beta_1 m_{t-1} + (1 - beta_1) g_t
    v_t   = beta_2 v_{t-1} + (1 - beta_2) g_t^2
    AMSBound: vmax_t = max(vmax_{t-1}, v_t), used instead of v_t below
    a_t   = lr_t sqrt(1 - beta_2^t) / (1 - beta_1^t)          (bias corrections)
    f_t   = final_lr * lr_t / base_lr                         (base_lr: the rate of step 1
                                                               unless given; f_t = final_lr if 0)
    eta_t = clip(a_t / (sqrt(v_t) + epsilon), f_t (1 - 1/(gamma t + 1)), f_t (1 + 1/(gamma t)))
    w_t   = w' - eta_t m_t

``w'`` is ``w_{t-1}`` after the decoupled weight decay (``w - lr * wd * w``, or
``w - wd * w`` with ``weight_decay_scaling="none"``: the official AdaBoundW).
With ``cautious=True`` the step ``u = w' - w_t`` is replaced by
``caution(u, g_t)`` (``_cautious.py``).
"""

import numpy as np

from ._cautious import caution_step


def adabound(beta_1=0.9, beta_2=0.999, epsilon=1e-8, final_lr=0.1, gamma=1e-3, amsbound=False,
             base_learning_rate=None, weight_decay=None, weight_decay_scaling="learning_rate", cautious=False):
    wd = weight_decay or 0.0

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"m": np.zeros_like(w), "v": np.zeros_like(w),
                 "base_lr": np.float64(np.nan if base_learning_rate is None else base_learning_rate)}
        if amsbound:
            state["vmax"] = np.zeros_like(w)
        return state

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        base_lr = np.float64(lr) if np.isnan(state["base_lr"]) else state["base_lr"]
        w = w - (wd * lr if weight_decay_scaling == "learning_rate" else wd) * w

        m = beta_1 * state["m"] + (1 - beta_1) * g
        v = beta_2 * state["v"] + (1 - beta_2) * g * g
        new_state = {"m": m, "v": v, "base_lr": np.float64(base_lr)}
        if amsbound:
            v = np.maximum(state["vmax"], v)
            new_state["vmax"] = v
        a = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        f = final_lr * lr / base_lr if base_lr > 0 else final_lr
        lower = f * (1 - 1 / (gamma * t + 1))
        upper = f * (1 + 1 / (gamma * t))
        eta = np.clip(a / (np.sqrt(v) + epsilon), lower, upper)
        u = eta * m
        return (caution_step(w, u, g) if cautious else w - u), new_state

    return init, update
