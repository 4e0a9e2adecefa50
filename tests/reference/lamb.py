"""LAMB (layer-wise adaptive moments), from the paper's Algorithm 2.

Update equations for one variable ("layer") w (``t`` = 1-based step;
m_0 = v_0 = 0; wd = weight_decay; ||.|| the 2-norm over the whole variable)::

    weight_decay_in_trust_ratio=False (Keras's placement): first
        w <- w - lr * wd * w        (weight_decay_scaling="learning_rate")
        w <- w - wd * w             (weight_decay_scaling="none")
    m_t   = b1 m_{t-1} + (1 - b1) g_t
    v_t   = b2 v_{t-1} + (1 - b2) g_t**2
    r_t   = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + epsilon)
    u     = r_t + wd * w            (weight_decay_in_trust_ratio=True: the paper)
          = r_t                     (otherwise)
    ratio = ||w|| / ||u||           (1 if ||w|| = 0 or ||u|| = 0)
    w_t   = w - lr * ratio * u

Paper: Y. You, J. Li, S. Reddi, J. Hseu, S. Kumar, S. Bhojanapalli, X. Song,
J. Demmel, K. Keutzer & C.-J. Hsieh (2020), "Large Batch Optimization for Deep
Learning: Training BERT in 76 minutes", ICLR 2020, arXiv:1904.00962,
Algorithm 2 with phi(z) = z: x_{t+1} = x_t - eta_t phi(||x_t||) / ||r_t + lambda x_t|| (r_t + lambda x_t).
(The same as tfa.optimizers.LAMB; keras.optimizers.Lamb has no decay term in u
and applies Keras's generic decay before the step.)  The per-variable
exclusions (exclude_from_layer_adaptation) need variable names and are tested in
``tests/test_adam_family.py``.
"""

import numpy as np

from ._cautious import caution_step


def lamb(beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, weight_decay_in_trust_ratio=True,
         weight_decay_scaling="learning_rate", cautious=False):
    """LAMB as in ``keras_optim_zoo.ZooLamb``; see the module docstring."""
    wd = weight_decay or 0.0

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"momentum": np.zeros_like(w), "velocity": np.zeros_like(w)}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if not weight_decay_in_trust_ratio:
            w = w - (wd * lr if weight_decay_scaling == "learning_rate" else wd) * w

        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        v = beta_2 * state["velocity"] + (1 - beta_2) * g**2
        r = (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + epsilon)
        u = r + wd * w if weight_decay_in_trust_ratio else r
        w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(u)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        step = lr * ratio * u  # with the decay inside the trust ratio, it is part of the step
        return (caution_step(w, step, g) if cautious else w - step), {"momentum": m, "velocity": v}

    return init, update
