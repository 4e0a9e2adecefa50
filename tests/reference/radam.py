"""RAdam (Rectified Adam), from the paper's Algorithm 2 and the official code.

Update equations (``t`` = 1-based step; m_0 = v_0 = vhat_0 = 0)::

    lr_t  = lr, or with total_steps > 0 (TensorFlow Addons' ramp), W = total_steps * warmup_proportion,
            D = max(total_steps - W, 1):
                lr_t = lr * t / W                                    if t <= W
                lr_t = lr + (min_lr - lr) / D * min(t - W, D)        otherwise
    m_t   = b1 m_{t-1} + (1 - b1) g_t
    v_t   = b2 v_{t-1} + (1 - b2) g_t**2
    amsgrad=True:  vhat_t = max(vhat_{t-1}, v_t), used in place of v_t below
    mhat  = m_t / (1 - b1**t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t   = rho_inf - 2 t b2**t / (1 - b2**t)
    if rho_t >= sma_threshold:
        r_t = sqrt((rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / (rho_inf - 2) * rho_inf / rho_t)
        l_t = sqrt(1 - b2**t) / (sqrt(v_t) + epsilon)
        w_t = w_{t-1} - lr_t * r_t * mhat * l_t
    elif degenerated_to_sgd:
        w_t = w_{t-1} - lr_t * mhat
    else:
        w_t = w_{t-1}

Paper: L. Liu, H. Jiang, P. He, W. Chen, X. Liu, J. Gao & J. Han (2020), "On the
Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, arXiv:1908.03265,
Algorithm 2 (threshold rho_t > 4, no epsilon: l_t = sqrt((1 - b2**t) / v_t)).
The official code (github.com/LiyuanLucasLiu/RAdam, radam.py) uses
``N_sma >= 5`` and ``denom = sqrt(exp_avg_sq) + eps`` with sqrt(1 - b2**t) in
the step size, i.e. the l_t above; its current default skips the early steps
(degenerated_to_sgd=False), the paper and TFA take the SGD step.
"""

import numpy as np

from ._cautious import caution_step


def radam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, sma_threshold=5.0, degenerated_to_sgd=True,
          total_steps=0, warmup_proportion=0.1, min_lr=0.0, cautious=False):
    """RAdam as in ``keras_optim_zoo.ZooRAdam``; see the module docstring."""

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
        v = beta_2 * state["velocity"] + (1 - beta_2) * g**2
        new_state = {"momentum": m, "velocity": v}
        if amsgrad:
            v = np.maximum(state["velocity_hat"], v)
            new_state["velocity_hat"] = v
        m_hat = m / (1 - beta_1**t)

        rho_t, r_t = rho_and_r(beta_2, t)
        if rho_t >= sma_threshold:
            l_t = np.sqrt(1 - beta_2**t) / (np.sqrt(v) + epsilon)
            return lr_t * r_t * m_hat * l_t, new_state
        if degenerated_to_sgd:
            return lr_t * m_hat, new_state
        return np.zeros_like(w), new_state

    return init, update


def rho_and_r(beta_2, t):
    """The SMA length rho_t and the rectification term r_t (None where rho_t < 4)."""
    rho_inf = 2 / (1 - beta_2) - 1
    rho_t = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
    if rho_t < 4:
        return rho_t, None
    r_t = np.sqrt((rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / (rho_inf - 2) * rho_inf / rho_t)
    return rho_t, r_t


def scheduled_lr(lr, t, total_steps, warmup_proportion, min_lr):
    """TensorFlow Addons' warm-up then linear decay (``total_steps > 0``), else ``lr``."""
    if total_steps <= 0:
        return lr
    warmup = total_steps * warmup_proportion
    decay_steps = max(total_steps - warmup, 1)
    if t <= warmup:
        return lr * t / warmup
    return lr + (min_lr - lr) / decay_steps * min(t - warmup, decay_steps)
