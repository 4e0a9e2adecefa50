"""Per-variable Python decisions (by variable name) read by an algorithm's update: whether a
variable takes weight decay, whether its step is adapted by a trust ratio."""

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.keras_adapter import matches_any


class PerVariableChoices(ZooOptimizer):
    """Python decisions made per variable (by its name) and read by ``_update`` while it runs.

    ``_choices(keras_variable)`` returns a hashable tuple (default: ``(decays,)``); the engine
    gives it to ``_update`` as ``context.choices``. The per-variable fused kernel is
    traced once per shape and dtype and reused across variables, so it is used only when the
    choices are the same for every variable (as ``ZooLamb`` does).
    """

    def _choices(self, variable):
        """``(decays,)`` by default: whether ``variable`` takes weight decay."""
        return (self._decays(variable),)

    def _keras_variable(self, variable):
        return self._built_variables()[self._index_of(variable)]

    def _decays(self, variable):
        """Whether ``variable`` takes weight decay (``exclude_from_weight_decay`` honoured)."""
        return bool(self.weight_decay) and self._use_weight_decay(self._keras_variable(variable))

    def _adapts(self, variable):
        """Whether ``variable``'s step is scaled by the trust ratio (LARS, LAMB): not matched by
        ``exclude_from_layer_adaptation``; ``None`` means the weight-decay exclusions (as TFA's
        LAMB and tensorflow/models)."""
        keras_variable = self._keras_variable(variable)
        if self.exclude_from_layer_adaptation is None:
            return self._use_weight_decay(keras_variable)
        return not matches_any(keras_variable, self.exclude_from_layer_adaptation)

    def _fuses(self, variable):
        uniform = len({self._choices(v) for v in self._built_variables()}) <= 1
        return uniform and super()._fuses(variable)

    def _decoupled_decay(self):
        return False  # the decay is part of the algorithm's own step, in `_update`

    @staticmethod
    def _reject_unscaled_decay(name, weight_decay_scaling):
        if weight_decay_scaling == "none":
            raise ValueError(
                f"`weight_decay_scaling='none'` is not supported by {name}: its weight decay is part "
                "of its own step (see the docstring); leave weight_decay_scaling='learning_rate'."
            )
