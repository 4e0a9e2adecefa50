"""NovoGrad: momentum on gradients normalized by a layer-wise second moment.

Update equations for one variable (the "layer"; ``t`` = 1-based step, ``lr``
= learning rate of step t, ``||g||`` the Euclidean norm over the whole
variable, m_0 = 0, v_0 = 0 (a scalar))::

    v_t = ||g_t||^2                                  if v_{t-1} == 0 (first step)
    v_t = beta_2 * v_{t-1} + (1 - beta_2) * ||g_t||^2 otherwise
    amsgrad:  vhat_t = max(vhat_{t-1}, v_t), and vhat_t replaces v_t below
    d_t = g_t / (sqrt(v_t) + epsilon) + weight_decay * w_{t-1}
    grad_averaging (except on the first step):  d_t = (1 - beta_1) * d_t
    m_t = beta_1 * m_{t-1} + d_t
    w_t = w_{t-1} - lr * m_t

Paper: B. Ginsburg, P. Castonguay, O. Hrinchuk, O. Kuchaiev, V. Lavrukhin,
R. Leary, J. Li, H. Nguyen, Y. Zhang & J. M. Cohen (2019), "Stochastic
Gradient Methods with Layer-wise Adaptive Moments for Training of Deep
Networks", arXiv:1905.11286, Algorithm 1 (v_1 = ||g_1||^2,
m_1 = g_1 / sqrt(v_1) + d * w_1, then v and m as above, w <- w - lr * m).

Conventions: epsilon outside the square root (TensorFlow Addons); the learning
rate multiplies m (paper), it is not folded into m (TFA's Keras momentum); the
first step is the first one with v == 0 for this variable (NVIDIA's code; TFA
uses the global step).  No bias correction.
"""

import numpy as np


def novograd(beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, grad_averaging=False, amsgrad=False):
    """NovoGrad; see the module docstring."""
    weight_decay = 0.0 if weight_decay is None else weight_decay

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        state = {"momentum": np.zeros_like(w), "velocity": np.float64(0.0)}
        if amsgrad:
            state["velocity_hat"] = np.float64(0.0)
        return state

    def update(g, state, w, t, lr):
        del t
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        squared_norm = np.sum(g * g)
        first = state["velocity"] == 0
        if first:
            v = squared_norm
        else:
            v = beta_2 * state["velocity"] + (1 - beta_2) * squared_norm
        new_state = {"velocity": np.float64(v)}
        if amsgrad:
            v = max(state["velocity_hat"], v)
            new_state["velocity_hat"] = np.float64(v)
        d = g / (np.sqrt(v) + epsilon) + weight_decay * w
        if grad_averaging and not first:
            d = (1 - beta_1) * d
        m = beta_1 * state["momentum"] + d
        new_state["momentum"] = m
        return w - lr * m, new_state

    return init, update
