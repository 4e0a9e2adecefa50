"""Moment updates and bias corrections shared by the optimizers (pure functions of tensors).

Two spellings of the same exponential moving average exist because Keras uses both and the zoo
reproduces the built-ins bit for bit: the Adam family writes ``m + (g - m) * (1 - beta)``
(``ema``), RMSprop and Adadelta write ``rho * v + (1 - rho) * g`` (``weighted_average``). They are
equal in exact arithmetic and differ only in float rounding.

Constants are made with ``const`` (``ops.convert_to_tensor(value, dtype)``): ``ops.cast`` of a Python
float goes through float32 on the TensorFlow backend, which would cost float64 runs ~1e-8 relative.
"""

from __future__ import annotations

from keras import ops


def const(value, dtype):
    """A scalar constant of ``dtype``, rounded once from the Python value."""
    return ops.convert_to_tensor(value, dtype=dtype)


def ema(average, value, beta):
    """Exponential moving average, Adam-family spelling: ``average + (value - average) * (1 - beta)``."""
    return ops.add(average, ops.multiply(ops.subtract(value, average), 1 - beta))


def weighted_average(average, value, rho):
    """Exponential moving average, RMSprop spelling: ``rho * average + (1 - rho) * value``."""
    return ops.add(ops.multiply(rho, average), ops.multiply(1 - rho, value))


def power(beta, step):
    """``beta ** step`` in the dtype of ``step`` (``step`` is the 1-based step number)."""
    return ops.power(const(beta, step.dtype), step)


def bias_correction(beta, step):
    """``1 - beta ** step``: the factor by which a zero-initialised average is biased at ``step``."""
    return 1 - power(beta, step)


def adam_step_size(learning_rate, beta_1, beta_2, step):
    """Adam's bias corrections folded into the step size: ``lr * sqrt(1 - b2^t) / (1 - b1^t)``."""
    return learning_rate * ops.sqrt(bias_correction(beta_2, step)) / bias_correction(beta_1, step)


def constant_initializer(value):
    """A slot initializer filling with ``value`` rounded once to the slot's dtype.

    (``keras.initializers.Constant`` casts through float32, so 0.1 in a float64 slot would be
    ``0.10000000149...``.)
    """

    def initialize(shape, dtype=None):
        return ops.multiply(ops.ones(shape, dtype=dtype), const(value, dtype))

    return initialize
