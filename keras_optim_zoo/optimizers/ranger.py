"""Ranger: RAdam inside Lookahead, composed from ``ZooRAdam`` and the ``Lookahead`` wrapper."""

from __future__ import annotations

import copy

import keras

from keras_optim_zoo import base
from keras_optim_zoo.optimizers.radam import ZooRAdam
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec
from keras_optim_zoo.wrappers.base import inner_argument
from keras_optim_zoo.wrappers.lookahead import Lookahead

@register
class ZooRanger(Lookahead):
    """Ranger: RAdam with Lookahead (k=6, alpha=0.5), as Wright's original Ranger (2019).

    ``ZooRanger(...)`` is ``Lookahead(ZooRAdam(...), sync_period, slow_step_size)`` with Ranger's
    defaults, registered as ``"zoo_ranger"``. Each step is a RAdam step on the fast weights ``w``
    (see ``ZooRAdam`` for its equations and conventions); after every ``k = sync_period`` steps::

        phi <- phi + alpha * (w - phi);  w <- phi      (alpha = slow_step_size; phi starts as w_0)

    References: L. Wright, "New Deep Learning Optimizer, Ranger: Synergistic combination of RAdam +
    LookAhead for the best of both" (2019) and github.com/lessw2020/Ranger-Deep-Learning-Optimizer;
    RAdam: Liu et al., arXiv:1908.03265; Lookahead: Zhang, Lucas, Hinton & Ba, arXiv:1907.08610.

    Defaults follow the original Ranger (August 2019, ``ranger.py``): ``learning_rate=1e-3``,
    ``beta_1=0.95``, ``beta_2=0.999``, ``epsilon=1e-5``, ``sync_period=6`` (``k``),
    ``slow_step_size=0.5`` (``alpha``), ``sma_threshold=5`` (``N_sma_threshhold``), and an SGD step
    with bias-corrected momentum before the rectification starts (``degenerated_to_sgd=True``).
    Conventions, and where the implementations differ:

    * epsilon is added to ``sqrt(v)`` with ``sqrt(1 - beta_2^t)`` in the step size, as in Ranger and
      the official RAdam code (Keras's "epsilon hat");
    * Ranger rectifies when ``N_sma > 5``, ``ZooRAdam`` when ``rho_t >= sma_threshold``: the same
      steps for any ``beta_2`` whose ``rho_t`` never equals 5 exactly (with 0.999: from t=6 on);
    * no gradient centralization: Ranger's 2020 version (and pytorch_optimizer's ``Ranger``) turn it
      on by default; the original did not have it;
    * weight decay (``weight_decay``) is the zoo's decoupled decay before the step, scaled by the
      learning rate (Ranger: ``w -= weight_decay * lr * w`` before the step, the same);
    * the Lookahead count is RAdam's step count (Ranger: each parameter's own step count, the same
      unless parameters skip steps).

    State: RAdam's ``momentum``/``velocity`` per variable, then ``<variable path>_slow``. Every
    ``ZooRAdam`` argument (``amsgrad``, ``total_steps``, ``warmup_proportion``, ``min_lr``, the
    Keras base arguments, ``skip_nonfinite``, ...) is accepted and passed to the inner RAdam; the
    config is flat (RAdam's arguments plus ``sync_period`` and ``slow_step_size``).

    Args:
        learning_rate: float >= 0, schedule or callable. Default 0.001.
        beta_1, beta_2: floats in [0, 1). Defaults 0.95, 0.999.
        epsilon: float >= 0. Default 1e-5.
        amsgrad, sma_threshold, degenerated_to_sgd, total_steps, warmup_proportion, min_lr: as in
            ``ZooRAdam`` (defaults False, 5.0, True, 0, 0.1, 0.0).
        sync_period: int >= 1 (Lookahead's k). Default 6.
        slow_step_size: float in [0, 1] (Lookahead's alpha). Default 0.5.
        **kwargs: the Keras base optimizer arguments and the zoo's (``skip_nonfinite``, ...).

    Example:
        >>> model.compile(optimizer="zoo_ranger", loss="mse")
        >>> keras_optim_zoo.ZooRanger(learning_rate=3e-3, sync_period=5, weight_decay=1e-4)
    """

    spec = OptimizerSpec(
        name="zoo_ranger",
        summary="Ranger: RAdam with Lookahead (k=6, alpha=0.5), as Wright's original Ranger (2019).",
        family="composite",
        paper='L. Wright, "New Deep Learning Optimizer, Ranger: Synergistic combination of RAdam + LookAhead for the best of both" (2019) and github.com/lessw2020/Ranger-Deep-Learning-Optimizer',
    )

    _config_keys = ZooRAdam._config_keys + ("sync_period", "slow_step_size")

    def __init__(self, learning_rate=0.001, beta_1=0.95, beta_2=0.999, epsilon=1e-5, amsgrad=False,
                 sma_threshold=5.0, degenerated_to_sgd=True, total_steps=0, warmup_proportion=0.1,
                 min_lr=0.0, sync_period=6, slow_step_size=0.5, name=None, **kwargs):
        # Checked here, before RAdam sees them, so the error names ZooRanger and its arguments.
        base.check_unknown_arguments(type(self), kwargs, also_known=("lr", "decay"))
        radam = ZooRAdam(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            sma_threshold=sma_threshold,
            degenerated_to_sgd=degenerated_to_sgd,
            total_steps=total_steps,
            warmup_proportion=warmup_proportion,
            min_lr=min_lr,
            **kwargs,
        )
        super().__init__(radam, sync_period=sync_period, slow_step_size=slow_step_size, name=name)

    # ------------------------------------------------------------------ config: flat
    def get_config(self):
        config = self.inner_optimizer.get_config()
        config.pop("name", None)
        return {"name": self.name, **config, **self._wrapper_config()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return keras.optimizers.Optimizer.from_config.__func__(cls, copy.deepcopy(config), custom_objects=custom_objects)

    # ------------------------------------------------------------------ RAdam's state and options
    @property
    def radam(self):
        """The inner ``ZooRAdam`` (the same object as ``inner_optimizer``)."""
        return self.inner_optimizer

    @property
    def skipped_steps(self):
        """Steps skipped by ``skip_nonfinite=True`` (RAdam's count)."""
        return self.inner_optimizer.skipped_steps

    @property
    def current_learning_rate(self):
        return self.inner_optimizer.current_learning_rate

    def get_slot(self, variable, name):
        """RAdam's state ``name`` for ``variable``, or ``"slow"`` for the slow weights."""
        if name == "slow":
            return self.slow_weight(variable)
        return self.inner_optimizer.get_slot(variable, name)

    # RAdam's arguments, reported (and, for the Keras base ones, set) as Ranger's own.
    beta_1 = inner_argument("beta_1")
    beta_2 = inner_argument("beta_2")
    epsilon = inner_argument("epsilon")
    amsgrad = inner_argument("amsgrad")
    sma_threshold = inner_argument("sma_threshold")
    degenerated_to_sgd = inner_argument("degenerated_to_sgd")
    total_steps = inner_argument("total_steps")
    warmup_proportion = inner_argument("warmup_proportion")
    min_lr = inner_argument("min_lr")
    decay = inner_argument("decay")
    weight_decay_scaling = inner_argument("weight_decay_scaling")
    skip_nonfinite = inner_argument("skip_nonfinite")
    fused = inner_argument("fused")
    cautious = inner_argument("cautious")
    state_dtype = inner_argument("state_dtype")
    state_rounding = inner_argument("state_rounding")
    weight_decay = inner_argument("weight_decay", settable=True)
    clipnorm = inner_argument("clipnorm", settable=True)
    clipvalue = inner_argument("clipvalue", settable=True)
    global_clipnorm = inner_argument("global_clipnorm", settable=True)
    use_ema = inner_argument("use_ema", settable=True)
    ema_momentum = inner_argument("ema_momentum", settable=True)
    ema_overwrite_frequency = inner_argument("ema_overwrite_frequency", settable=True)
    gradient_accumulation_steps = inner_argument("gradient_accumulation_steps", settable=True)
