"""Ranger = Lookahead(RAdam), composed from the two references.

Defaults of the original Ranger (L. Wright, 2019,
github.com/lessw2020/Ranger-Deep-Learning-Optimizer): RAdam with beta_1=0.95,
beta_2=0.999, epsilon=1e-5, threshold 5, SGD steps before the rectification;
Lookahead with k=6, alpha=0.5. See ``radam.py`` and ``lookahead.py``.
"""

from .lookahead import lookahead
from .radam import radam


def ranger(beta_1=0.95, beta_2=0.999, epsilon=1e-5, amsgrad=False, sma_threshold=5.0, degenerated_to_sgd=True,
           total_steps=0, warmup_proportion=0.1, min_lr=0.0, sync_period=6, slow_step_size=0.5, cautious=False):
    """``keras_optim_zoo.ZooRanger``: RAdam's reference inside Lookahead's."""
    inner = radam(
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        amsgrad=amsgrad,
        sma_threshold=sma_threshold,
        degenerated_to_sgd=degenerated_to_sgd,
        total_steps=total_steps,
        warmup_proportion=warmup_proportion,
        min_lr=min_lr,
        cautious=cautious,  # the RAdam step; Lookahead's synchronisation is not masked
    )
    return lookahead(inner, sync_period=sync_period, slow_step_size=slow_step_size)
