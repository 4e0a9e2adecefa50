"""Ranger: RAdam inside Lookahead, composed from ``ZooRAdam`` and the ``Lookahead`` wrapper."""

from __future__ import annotations

import copy

import keras

from keras_optim_zoo import base
from keras_optim_zoo.optimizers.radam import ZooRAdam
from keras_optim_zoo.registry import register
from keras_optim_zoo.wrappers.lookahead import Lookahead

#: Keras base arguments that a ZooRanger passes to its RAdam (reading them back gives RAdam's value).
_INNER_BASE_ATTRIBUTES = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "gradient_accumulation_steps",
)


@register("zoo_ranger")
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
    def skipped_steps(self):
        """Steps skipped by ``skip_nonfinite=True`` (RAdam's count)."""
        return self.inner_optimizer.skipped_steps

    @property
    def _skipped_steps(self):
        return self.inner_optimizer._skipped_steps

    @property
    def current_learning_rate(self):
        return self.inner_optimizer.current_learning_rate

    def get_slot(self, variable, name):
        """RAdam's state ``name`` for ``variable``, or ``"slow"`` for the slow weights."""
        if name == "slow":
            return self.slow_weight(variable)
        return self.inner_optimizer.get_slot(variable, name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: the rest of ZooRAdam's (ZooOptimizer's) interface,
        # e.g. `_lazy_sparse()`, `_fuses(v)`, `_fused_step`, read by the table-driven tests and tools.
        inner = self.__dict__.get("inner_optimizer")
        if inner is not None and not name.startswith(("__", "_self")):
            if name in _RADAM_ONLY or name in inner.__dict__:
                return getattr(inner, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _delegate(name):
    def getter(self):
        return getattr(self.inner_optimizer, name)

    return property(getter, doc=f"The inner RAdam's ``{name}``.")


def _delegate_settable(name):
    def getter(self):
        inner = self.__dict__.get("inner_optimizer")
        return None if inner is None else getattr(inner, name)

    def setter(self, value):
        # The Keras base constructor sets its defaults before the inner optimizer exists.
        inner = self.__dict__.get("inner_optimizer")
        if inner is not None:
            setattr(inner, name, value)

    return property(getter, setter, doc=f"The inner RAdam's ``{name}``.")


for _name in ZooRAdam._config_keys + tuple(base.ZOO_BASE_KWARGS) + ("decay",):
    setattr(ZooRanger, _name, _delegate(_name))
for _name in _INNER_BASE_ATTRIBUTES:
    setattr(ZooRanger, _name, _delegate_settable(_name))
del _name

#: Methods and properties of ZooRAdam that the wrapper does not have itself (delegated above).
_RADAM_ONLY = frozenset(dir(ZooRAdam)) - frozenset(dir(ZooRanger))
