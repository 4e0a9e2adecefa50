"""Yogi, from the paper's Algorithm 2 plus TensorFlow Addons' options.

Update equations (``t`` = 1-based step; m_0 = 0, v_0 = initial_accumulator_value)::

    m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = v_{t-1} - (1 - b2) sign(v_{t-1} - g_t**2) g_t**2
          activation="tanh":  v_{t-1} - (1 - b2) tanh(10 (v_{t-1} - g_t**2)) g_t**2
    eta = lr * sqrt(1 - b2**t) / (1 - b1**t)     if bias_correction (TFA)
          lr                                     otherwise (the paper)
    a   = eta / (sqrt(v_t) + epsilon)            (per coordinate)
    w'  = w_{t-1} - a m_t
    l1 > 0:  w_t = sign(w') max(|w'| - l1 a, 0) / (1 + l2 a)      (proximal step, TFA)
    l2 > 0:  w_t = w' / (1 + l2 a)
    else:    w_t = w'

Paper: M. Zaheer, S. J. Reddi, D. Sachan, S. Kale & S. Kumar (2018), "Adaptive
Methods for Nonconvex Optimization", NeurIPS 2018, Algorithm 2 (x_{t+1} = x_t -
eta_t m_t / (sqrt(v_t) + eps), no bias correction, no regularization).  The bias
correction, v_0 = 1e-6, the tanh activation and the l1/l2 proximal step are those
of ``tfa.optimizers.Yogi`` (tensorflow_addons/optimizers/yogi.py).
"""

import numpy as np

from ._cautious import caution_step, cautious_step


def yogi(beta_1=0.9, beta_2=0.999, epsilon=1e-3, initial_accumulator_value=1e-6, l1_regularization_strength=0.0,
         l2_regularization_strength=0.0, activation="sign", bias_correction=True, cautious=False):
    """Yogi as in ``keras_optim_zoo.ZooYogi``; see the module docstring."""
    l1, l2 = l1_regularization_strength, l2_regularization_strength

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"momentum": np.zeros_like(w), "velocity": np.full_like(w, initial_accumulator_value)}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        v = state["velocity"]
        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        if activation == "sign":
            v = v - (1 - beta_2) * np.sign(v - g**2) * g**2
        else:
            v = v - (1 - beta_2) * np.tanh(10 * (v - g**2)) * g**2
        eta = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) if bias_correction else lr
        a = eta / (np.sqrt(v) + epsilon)
        if l1 == 0 and l2 == 0:  # a direction: the mask acts on it
            w_new = caution_step(w, a * m, g) if cautious else w - a * m
            return w_new, {"momentum": m, "velocity": v}
        w_new = w - a * m
        if l1 > 0:
            w_new = np.sign(w_new) * np.maximum(np.abs(w_new) - l1 * a, 0) / (1 + l2 * a)
        elif l2 > 0:
            w_new = w_new / (1 + l2 * a)
        if cautious:  # a closed-form new value: the mask sees the displacement, proximal shrinkage included
            w_new = cautious_step(w, w_new, g)
        return w_new, {"momentum": m, "velocity": v}

    return init, update
