"""Lookahead: k steps forward with any optimizer, then one step back towards the slow weights."""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.registry import PACKAGE
from keras_optim_zoo.wrappers.base import OptimizerWrapper, compute_dtype, const, positive_int


@keras.saving.register_keras_serializable(package=PACKAGE)
class Lookahead(OptimizerWrapper):
    """Lookahead around any optimizer: every ``sync_period`` steps, pull back to the slow weights.

    The inner optimizer updates the (fast) weights ``w`` at every step. The wrapper keeps slow
    weights ``phi`` (one per variable, set to the variable's value when the optimizer is built) and,
    after every ``k = sync_period`` inner steps (``t = k, 2k, ...``; ``t`` is the inner optimizer's
    1-based step count)::

        phi <- phi + alpha * (w - phi)        (alpha = slow_step_size)
        w   <- phi

    Between synchronisations nothing else changes. ``alpha = 1`` is the inner optimizer alone;
    ``alpha = 0`` resets the weights to their initial value every ``k`` steps.

    Reference: M. R. Zhang, J. Lucas, G. Hinton & J. Ba, "Lookahead Optimizer: k steps forward,
    1 step back", NeurIPS 2019, arXiv:1907.08610 (Algorithm 1; defaults there k = 5 or 10,
    alpha = 0.5 or 0.8). The defaults here, ``sync_period=6``, ``slow_step_size=0.5``, are
    TensorFlow Addons' ``tfa.optimizers.Lookahead`` (and Ranger's); the argument names are TFA's.

    Conventions:

    * The synchronisation follows the inner optimizer's step count: a step the inner optimizer does
      not take (``skip_nonfinite=True`` with a NaN gradient, a gradient-accumulation micro-step, a
      ``LossScaleOptimizer`` overflow) does not count, so ``k`` counts real updates. TFA counted
      ``apply_gradients`` calls (the same thing for its optimizers).
    * As in TFA, a variable is synchronised only in steps in which it received a gradient. The
      synchronisation computes 16-bit variables in float32, rounding once when stored. For large
      variables on the TF backend it is a ``tf.cond`` (the other steps do not touch the weights);
      elsewhere an ``ops.where`` (``OptimizerWrapper.assign_if``).
    * The slow weights are taken from the variables when the optimizer is built (Keras builds it at
      the start of the first ``fit``, or at the first ``apply_gradients``). TFA and the paper
      evaluate the fast weights at the end of training, and so does this wrapper: the model holds
      ``w``. (At a synchronisation step ``w == phi``; use ``sync_period`` steps per epoch if you
      want epochs to end on slow weights.)
    * ``learning_rate``, ``iterations``, ``scale_loss`` are the inner optimizer's;
      ``optimizer.learning_rate = 1e-4`` (or ``ReduceLROnPlateau``) changes the inner rate.
      Keras base arguments (``clipnorm``, ``weight_decay``, ``use_ema``, ...) go on the inner one.

    State (``optimizer.variables``): the inner optimizer's variables, then one slow copy per
    variable, named ``<variable path>_slow`` (e.g. ``dense_kernel_slow``).

    Args:
        optimizer: the inner optimizer: a ``keras.optimizers.Optimizer`` (built-in or zoo) or a name
            ``keras.optimizers.get`` resolves (``"adam"``, ``"zoo_radam"``).
        sync_period: int >= 1, the number of inner steps between synchronisations (k). Default 6.
        slow_step_size: float in [0, 1], the slow weights' step (alpha). Default 0.5.
        name: optional name.

    Example:
        >>> from keras_optim_zoo.wrappers import Lookahead
        >>> model.compile(optimizer=Lookahead("zoo_adam", sync_period=5), loss="mse")
        >>> opt = Lookahead(keras.optimizers.SGD(0.1, momentum=0.9), slow_step_size=0.8)
    """

    def __init__(self, optimizer, sync_period=6, slow_step_size=0.5, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.sync_period = positive_int("sync_period", sync_period)
        self.slow_step_size = checks.in_range("slow_step_size", slow_step_size, 0.0, 1.0)

    def _wrapper_config(self):
        return {"sync_period": self.sync_period, "slow_step_size": self.slow_step_size}

    def _build_state(self, var_list):
        self._slow_weights = self.add_state_like(var_list, "slow", from_value=True)

    def slow_weight(self, variable):
        """The slow copy kept for ``variable`` (the optimizer must be built)."""
        if not self.built:
            raise ValueError("Lookahead has no slow weights yet: it is built on the first training step.")
        return self.state_for(self._slow_weights, variable)

    def _after_inner_step(self, variables, before, after):
        # Sync when the inner optimizer has just completed its k-th, 2k-th, ... step.
        advanced = ops.not_equal(after, before)
        sync = ops.logical_and(advanced, ops.equal(ops.mod(after, self.sync_period), 0))
        self.for_each_variable(self._synchronise, variables, sync)

    def _synchronise(self, variable, sync):
        slow = self.slow_weight(variable)
        dtype = compute_dtype(variable.dtype)

        def pulled_back():
            fast, old_slow = ops.cast(variable, dtype), ops.cast(slow, dtype)
            stepped = ops.add(old_slow, ops.multiply(const(self.slow_step_size, dtype), ops.subtract(fast, old_slow)))
            return [stepped, stepped]

        self.assign_if(sync, [slow, variable], pulled_back)
