"""Decoupled weight decay: one mechanism for every zoo optimizer and for any Keras optimizer.

Keras 3 (and ``torch.optim.AdamW``) decay the weights before the update by the learning rate
times ``weight_decay``::

    weight_decay_scaling="learning_rate":   w <- w - lr * weight_decay * w      (Keras / torch)

TensorFlow Addons' ``AdamW``/``SGDW`` and ``extend_with_decoupled_weight_decay`` used the raw
coefficient, not scaled by the learning rate (TFA asked users to schedule it alongside the rate)::

    weight_decay_scaling="none":            w <- w - weight_decay * w           (TFA)

Both are *decoupled* (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
arXiv:1711.05101): the decay does not pass through the gradient statistics, unlike L2
regularization added to the loss. ``exclude_from_weight_decay(var_list=..., var_names=[...])``
excludes variables (e.g. biases and normalization scales) in both modes. With a sparse gradient
every row decays, as in Keras (TFA decayed only the touched rows).
"""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.keras_adapter import DecoupledDecayAdapter
from keras_optim_zoo.moments import const

WEIGHT_DECAY_SCALINGS = ("learning_rate", "none")


def check_weight_decay_scaling(value):
    return checks.one_of("weight_decay_scaling", value, WEIGHT_DECAY_SCALINGS)


def decay_constant(weight_decay, dtype):
    """``weight_decay`` as a tensor of ``dtype``, made as Keras makes it (``tf.cast`` of a Python
    float goes through float32), except in float64, where it is rounded once from the Python value
    (``const``): Keras's float64 decay carries a float32-rounded constant (KERAS_NOTES)."""
    if keras.backend.standardize_dtype(dtype) == "float64":
        return const(weight_decay, "float64")
    return ops.cast(const(weight_decay, "float32"), dtype)


def decoupled_decay(value, weight_decay, scaling, learning_rate=None):
    """``value`` after the decoupled decay, in Keras's operation order: ``w - w * wd * lr``
    (``scaling="learning_rate"``) or ``w - w * wd`` (``"none"``), ``wd`` from ``decay_constant``.
    ``learning_rate``: a tensor of ``value``'s dtype (unused for ``"none"``)."""
    wd = decay_constant(weight_decay, value.dtype)
    if scaling == "learning_rate":
        return value - value * wd * learning_rate
    return value - value * wd


def decay_variables(optimizer, variables, learning_rate, finite=None):
    """The decoupled decay of ``optimizer`` applied to ``variables`` now, op by op, each in its own
    dtype (those ``optimizer._use_weight_decay`` excludes are left alone; nothing if
    ``weight_decay`` is None). ``finite``: a boolean tensor; where False the weights are kept
    (``skip_nonfinite``). Under ``tf.distribute`` every replica's copy is decayed
    (``optimizer.update_each``)."""
    if optimizer.weight_decay is None or not variables:
        return
    scaling = getattr(optimizer, "weight_decay_scaling", "learning_rate")

    def decay(variable):
        if not optimizer._use_weight_decay(variable):
            return
        lr = ops.cast(learning_rate, variable.dtype) if scaling == "learning_rate" else None
        new = decoupled_decay(variable, optimizer.weight_decay, scaling, lr)
        variable.assign(new if finite is None else ops.where(finite, new, variable))

    optimizer.update_each(decay, variables)


_EXTENDED = {}


def extend_with_decoupled_weight_decay(base_optimizer, weight_decay_scaling="none"):
    """A subclass of ``base_optimizer`` (any Keras optimizer class) with decoupled weight decay.

    The successor of ``tfa.optimizers.extend_with_decoupled_weight_decay``: the returned class takes
    ``weight_decay`` as its first argument and, by default, applies it as TFA did, not scaled by
    the learning rate (``weight_decay_scaling="none"``); pass ``weight_decay_scaling="learning_rate"``
    for the Keras/torch convention. The class is registered for ``.keras`` saving; call this function
    again (same base class) before ``keras.models.load_model`` in a new process.

    Example:
        >>> AdamW = extend_with_decoupled_weight_decay(keras.optimizers.Adam)
        >>> optimizer = AdamW(weight_decay=1e-4, learning_rate=1e-3)
    """
    check_weight_decay_scaling(weight_decay_scaling)
    if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, keras.optimizers.Optimizer)):
        raise TypeError(
            "Argument `base_optimizer` must be a keras.optimizers.Optimizer subclass; "
            f"received {base_optimizer!r}."
        )
    key = (base_optimizer, weight_decay_scaling)
    if key in _EXTENDED:
        return _EXTENDED[key]
    default_scaling = weight_decay_scaling

    def __init__(self, weight_decay, *args, weight_decay_scaling=default_scaling, **kwargs):
        checks.non_negative("weight_decay", weight_decay)
        base_optimizer.__init__(self, *args, weight_decay=weight_decay, **kwargs)
        self.weight_decay_scaling = check_weight_decay_scaling(weight_decay_scaling)

    def get_config(self):
        config = base_optimizer.get_config(self)
        config["weight_decay_scaling"] = self.weight_decay_scaling
        return config

    suffix = "" if weight_decay_scaling == "none" else "LR"
    name = f"{base_optimizer.__name__}WithDecoupledWeightDecay{suffix}"
    cls = type(
        name,
        (DecoupledDecayAdapter, base_optimizer),
        {
            "__init__": __init__,
            "get_config": get_config,
            "__module__": __name__,
            "__doc__": f"{base_optimizer.__name__} with decoupled weight decay "
            f"(weight_decay_scaling={weight_decay_scaling!r} by default).\n\n"
            + (extend_with_decoupled_weight_decay.__doc__ or ""),
        },
    )
    cls = keras.saving.register_keras_serializable(package="keras_optim_zoo")(cls)
    _EXTENDED[key] = cls
    return cls
