"""Cyclical learning rates (Smith 2017), with TensorFlow Addons' names, arguments and formulas."""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.registry import PACKAGE

_SCALE_MODES = ("cycle", "iterations")


def _serialize_scale_fn(scale_fn):
    """A registered (or Keras built-in) function as its serialized name; otherwise a clear error."""
    name = getattr(scale_fn, "__name__", None)
    registered = keras.saving.get_registered_name(scale_fn) if name else None
    if name and name != "<lambda>" and keras.saving.get_registered_object(registered) is scale_fn:
        return keras.saving.serialize_keras_object(scale_fn)
    raise ValueError(
        f"CyclicalLearningRate cannot serialize scale_fn={scale_fn!r}: Keras can only save a function "
        "it can find again by name. Define it at module level and register it, e.g.\n"
        "    @keras.saving.register_keras_serializable(package='my_project')\n"
        "    def my_scale(x):\n"
        "        return 1.0 / (1.0 + 0.1 * x)\n"
        "(a lambda or a nested function cannot be saved safely), or use one of "
        "TriangularCyclicalLearningRate, Triangular2CyclicalLearningRate, "
        "ExponentialCyclicalLearningRate."
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate cycling between two bounds (Smith's cyclical learning rates, CLR).

    At step ``s`` (the optimizer's 0-based iteration count), with ``lr_0 = initial_learning_rate``,
    ``lr_max = maximal_learning_rate``, ``n = step_size``::

        cycle = floor(1 + s / (2 n))
        x     = |s / n - 2 cycle + 1|
        lr(s) = lr_0 + (lr_max - lr_0) * max(0, 1 - x) * scale_fn(cycle if scale_mode == "cycle" else s)

    so each cycle has ``2 n`` steps: ``lr`` rises linearly from ``lr_0`` (step ``2 k n``) to its peak
    (step ``(2 k + 1) n``) and falls back, and ``scale_fn`` scales the amplitude per cycle (``cycle``
    = 1, 2, ...) or per step.

    Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    arXiv:1506.01186 (section 3.1: the triangular, triangular2 and exp_range policies, whose
    ``stepsize`` is half a cycle). The argument names, the formula and the
    subclasses are TensorFlow Addons' ``tfa.optimizers.CyclicalLearningRate`` family; values are
    computed in float32 (the dtype of ``initial_learning_rate`` as a tensor), as TFA and Keras's
    schedules do.

    Differences from TFA: ``get_config`` includes ``name`` and serializes ``scale_fn`` by name, so
    a ``.keras`` file reloads (TFA returned the function object, which ``model.save`` cannot write);
    ``scale_fn`` must therefore be registered with ``keras.saving.register_keras_serializable``
    for ``get_config`` (and saving) to work; a lambda raises a ``ValueError`` explaining this.
    Arguments are checked at construction.

    Args:
        initial_learning_rate: float >= 0, the lower bound (reached at the start of each cycle).
        maximal_learning_rate: float >= 0, the upper bound (reached, before scaling, mid-cycle).
        step_size: float > 0, the number of steps from the lower to the upper bound (half a cycle).
        scale_fn: a function of one tensor (the cycle number or the step) returning the amplitude
            factor.
        scale_mode: ``"cycle"`` (scale_fn receives the 1-based cycle number) or ``"iterations"``
            (it receives the step). Default ``"cycle"``.
        name: optional name.

    Example:
        >>> @keras.saving.register_keras_serializable(package="my_project")
        ... def halve_every_cycle(cycle):
        ...     return 0.5 ** (cycle - 1)
        >>> lr = CyclicalLearningRate(1e-4, 1e-2, step_size=2000, scale_fn=halve_every_cycle)
        >>> model.compile(optimizer=keras_optim_zoo.ZooSGD(learning_rate=lr, momentum=0.9), ...)
    """

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_fn, scale_mode="cycle",
                 name=None):
        super().__init__()
        self.initial_learning_rate = checks.non_negative("initial_learning_rate", initial_learning_rate)
        self.maximal_learning_rate = checks.non_negative("maximal_learning_rate", maximal_learning_rate)
        self.step_size = checks.in_range("step_size", step_size, 0.0, float("inf"), low_open=True)
        if not callable(scale_fn):
            raise TypeError(f"Argument `scale_fn` must be a function; received scale_fn={scale_fn!r}.")
        self.scale_fn = scale_fn
        if scale_mode not in _SCALE_MODES:
            raise ValueError(
                f"Argument `scale_mode` must be one of {', '.join(map(repr, _SCALE_MODES))}; "
                f"received scale_mode={scale_mode!r}."
            )
        self.scale_mode = scale_mode
        self.name = name or type(self).__name__

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        dtype = initial.dtype
        maximal = ops.convert_to_tensor(self.maximal_learning_rate, dtype)
        step_size = ops.convert_to_tensor(self.step_size, dtype)
        step = ops.cast(step, dtype)
        cycle = ops.floor(1.0 + step / (2.0 * step_size))
        x = ops.abs(step / step_size - 2.0 * cycle + 1.0)
        mode_step = cycle if self.scale_mode == "cycle" else step
        scale = ops.cast(self.scale_fn(mode_step), dtype)
        return initial + (maximal - initial) * ops.maximum(0.0, 1.0 - x) * scale

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "scale_fn": _serialize_scale_fn(self.scale_fn),
            "scale_mode": self.scale_mode,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("scale_fn"), dict):
            config["scale_fn"] = keras.saving.deserialize_keras_object(config["scale_fn"])
        return cls(**config)


class _FixedScale(CyclicalLearningRate):
    """A cyclical schedule whose ``scale_fn`` is a method (not a constructor argument)."""

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode, name):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size, self._scale,
                         scale_mode=scale_mode, name=name)

    def _scale(self, x):
        raise NotImplementedError

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "scale_mode": self.scale_mode,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TriangularCyclicalLearningRate(_FixedScale):
    """Smith's "triangular" policy: the same triangle every cycle (``scale_fn(x) = 1``).

    ``lr(s) = lr_0 + (lr_max - lr_0) * max(0, 1 - |s / n - 2 cycle + 1|)``, ``cycle = floor(1 + s / 2n)``;
    e.g. ``(0.1, 1.0, step_size=40)`` gives 0.1 at s=0, 0.55 at s=20, 1.0 at s=40, 0.1 at s=80.
    See ``CyclicalLearningRate`` (arXiv:1506.01186; TFA's class of the same name).

    Args: ``initial_learning_rate``, ``maximal_learning_rate``, ``step_size``,
    ``scale_mode="cycle"`` (no effect: the scale is 1), ``name``.
    """

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode="cycle", name=None):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size, scale_mode, name)

    def _scale(self, x):
        return ops.ones_like(x)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Triangular2CyclicalLearningRate(_FixedScale):
    """Smith's "triangular2" policy: the amplitude halves every cycle (``scale_fn(x) = 1 / 2^(x-1)``).

    With ``scale_mode="cycle"`` (the default) the peaks are ``lr_max``, ``(lr_0 + lr_max) / 2``, ...;
    e.g. ``(0.1, 1.0, step_size=30)``: 1.0 at s=30, 0.55 at s=90, 0.325 at s=150.
    See ``CyclicalLearningRate`` (arXiv:1506.01186; TFA's class of the same name).

    Args: ``initial_learning_rate``, ``maximal_learning_rate``, ``step_size``,
    ``scale_mode="cycle"``, ``name``.
    """

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode="cycle", name=None):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size, scale_mode, name)

    def _scale(self, x):
        return 1.0 / ops.power(2.0, ops.subtract(x, 1.0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExponentialCyclicalLearningRate(_FixedScale):
    """Smith's "exp_range" policy: the amplitude decays as ``gamma^x`` (``scale_fn(x) = gamma**x``).

    As in TFA the default ``scale_mode`` is ``"iterations"``: the amplitude at step ``s`` is scaled by
    ``gamma**s`` (Smith's exp_range, ``gamma^iterations``); with ``scale_mode="cycle"`` by
    ``gamma**cycle``. See ``CyclicalLearningRate`` (arXiv:1506.01186).

    Args: ``initial_learning_rate``, ``maximal_learning_rate``, ``step_size``,
    ``scale_mode="iterations"``, ``gamma`` (float > 0, default 1.0), ``name``.
    """

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode="iterations", gamma=1.0,
                 name=None):
        self.gamma = checks.in_range("gamma", gamma, 0.0, float("inf"), low_open=True)
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size, scale_mode, name)

    def _scale(self, x):
        return ops.power(ops.convert_to_tensor(self.gamma, x.dtype), x)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}
