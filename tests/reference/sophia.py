"""Sophia (Sophia-G), the gradient path, with the Hessian-average update as a separate function.

Update equations (``t`` = 1-based step; m_0 = 0, h_0 = initial_hessian; wd = weight_decay)::

    w   <- w - lr * wd * w                           decoupled decay first (official code:
                                                     param.mul_(1 - lr * weight_decay))
    m_t  = beta_1 * m_{t-1} + (1 - beta_1) * g_t     no bias correction
    w_t  = w - lr * clip(m_t / max(rho * h, epsilon), -1, 1)

and, only when a Hessian estimate h_hat arrives (every k steps in the paper)::

    h <- beta_2 * h + (1 - beta_2) * h_hat           (``fold_hessian`` below)

Paper: H. Liu, Z. Li, D. Hall, P. Liang & T. Ma (2023), "Sophia: A Scalable
Stochastic Second-order Optimizer for Language Model Pre-training",
arXiv:2305.14342, Algorithm 3 (theta_{t+1} = theta_t - eta_t clip(m_t / max(gamma h_t,
eps), 1), with decoupled weight decay eta_t lambda theta_t first). Official code
Liuhong99/Sophia ``SophiaG``: defaults lr 1e-4, betas (0.965, 0.99), rho 0.04,
weight_decay 0.1; it writes the denominator ``rho * bs * h + 1e-15`` with h the
EMA of g_hat**2; here h is the paper's estimate (B * g_hat**2, the batch-size factor
inside) and the denominator is the paper's max(rho h, eps).

The gradient-only parity test of the table never calls ``fold_hessian``: h stays at
``initial_hessian`` (0 by default: every step is lr * sign(m), a sign of 0 being 0).
"""

import numpy as np


def sophia(beta_1=0.965, beta_2=0.99, rho=0.04, epsilon=1e-15, weight_decay=0.1, initial_hessian=0.0):
    """SophiaG's step; ``update.fold_hessian(state, h_hat)`` is ``update_hessian``."""

    def init(w):
        w = np.asarray(w, dtype=np.float64)
        return {"momentum": np.zeros_like(w), "hessian": np.full_like(w, initial_hessian)}

    def update(g, state, w, t, lr):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        w = w - lr * weight_decay * w
        m = beta_1 * state["momentum"] + (1 - beta_1) * g
        h = state["hessian"]
        step = np.clip(m / np.maximum(rho * h, epsilon), -1.0, 1.0)
        return w - lr * step, {"momentum": m, "hessian": h}

    def fold_hessian(state, h_hat):
        return {**state, "hessian": beta_2 * state["hessian"] + (1 - beta_2) * np.asarray(h_hat, np.float64)}

    update.fold_hessian = fold_hessian
    return init, update
