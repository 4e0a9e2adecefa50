"""AdEMAMix (Pagliardini, Ablin & Grangier 2024, arXiv:2409.03137; official apple/ml-ademamix), t 1-based::

    m1 = b1 m1 + (1 - b1) g   (m1 = g if b1 = 0);   m2 = b3(t) m2 + (1 - b3(t)) g;   v = b2 v + (1 - b2) g^2
    w  = w - lr wd w - lr (m1 / (1 - b1^t) + alpha(t) m2) / (sqrt(v) / sqrt(1 - b2^t) + eps)

``alpha(t) = alpha t / T_alpha`` for t < T_alpha; ``b3(t) = 0.5 ** (1 / (s + 1))`` with
``s = (1 - a) f(b1) + a f(b3)``, ``a = t / T_b3``, ``f(b) = ln 0.5 / ln(b + 1e-8) - 1`` for t < T_b3.
"""

import math

import numpy as np

from ._cautious import caution_step


def ademamix(beta_1=0.9, beta_2=0.999, beta_3=0.9999, alpha=2.0, beta_3_warmup=None, alpha_warmup=None,
             epsilon=1e-8, weight_decay=None, cautious=False):
    def half_life(beta):
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    def init(w):
        zeros = np.zeros_like(w, dtype=np.float64)
        return {"m1": zeros, "m2": zeros, "v": zeros}

    def update(g, state, w, t, lr):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        w = w - (weight_decay or 0.0) * lr * w
        a = alpha * t / alpha_warmup if alpha_warmup is not None and t < alpha_warmup else alpha
        b3 = beta_3
        if beta_3_warmup is not None and t < beta_3_warmup:
            f = t / beta_3_warmup
            b3 = 0.5 ** (1 / ((1 - f) * half_life(beta_1) + f * half_life(beta_3) + 1))
        m1 = g if beta_1 == 0 else beta_1 * state["m1"] + (1 - beta_1) * g
        m2 = b3 * state["m2"] + (1 - b3) * g
        v = beta_2 * state["v"] + (1 - beta_2) * g * g
        u = lr * (m1 / (1 - beta_1**t) + a * m2) / (np.sqrt(v) / np.sqrt(1 - beta_2**t) + epsilon)
        return (caution_step(w, u, g) if cautious else w - u), {"m1": m1, "m2": m2, "v": v}

    return init, update
