"""RAdam's variance rectification and TensorFlow Addons' warm-up arguments, shared by RAdam and
AdaBelief."""

from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo.families.adam import AdamFamily
from keras_optim_zoo.moments import rectification, warmup_then_decay


class RectifiedFamily(AdamFamily):
    """Adam-family optimizers with RAdam's variance rectification and TFA's warm-up arguments.

    Holds the shared arguments (``amsgrad``, ``sma_threshold``, ``degenerated_to_sgd``,
    ``total_steps``, ``warmup_proportion``, ``min_lr``) and the two shared pieces of the step:
    ``_scheduled_learning_rate`` (TFA's warm-up ramp) and ``_rectified`` (the choice between the
    rectified adaptive step and the un-rectified early step). Subclasses compute the adaptive
    direction, the only term in which RAdam and AdaBelief differ.
    """

    _config_keys = AdamFamily._config_keys + (
        "amsgrad",
        "sma_threshold",
        "degenerated_to_sgd",
        "total_steps",
        "warmup_proportion",
        "min_lr",
    )

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, amsgrad, sma_threshold, degenerated_to_sgd,
                 total_steps, warmup_proportion, min_lr, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = checks.boolean("amsgrad", amsgrad)
        # r_t is real only for rho_t >= 4 (and rho_t <= 2): a threshold below 4 would take a NaN step.
        self.sma_threshold = checks.in_range("sma_threshold", sma_threshold, 4.0, float("inf"))
        self.degenerated_to_sgd = checks.boolean("degenerated_to_sgd", degenerated_to_sgd)
        self.total_steps = checks.integer("total_steps", total_steps, 0)
        self.warmup_proportion = checks.in_range("warmup_proportion", warmup_proportion, 0.0, 1.0)
        self.min_lr = checks.non_negative("min_lr", min_lr)

    def _slot_specs(self):
        return super()._slot_specs() + ([("velocity_hat", "zeros")] if self.amsgrad else [])

    def _scheduled_learning_rate(self, learning_rate, step):
        """The learning rate of this step: TFA's warm-up then decay if ``total_steps > 0``."""
        if self.total_steps <= 0:
            return learning_rate
        return warmup_then_decay(learning_rate, step, self.total_steps, self.warmup_proportion, self.min_lr)

    def _second_moment_for_step(self, velocity, slots, new_slots):
        """``v`` itself, or (amsgrad) its running maximum, stored as ``velocity_hat``."""
        if not self.amsgrad:
            return velocity
        new_slots["velocity_hat"] = ops.maximum(slots["velocity_hat"], velocity)
        return new_slots["velocity_hat"]

    def _rectified(self, adaptive, m_hat, step):
        """``r_t * adaptive`` once ``rho_t >= sma_threshold``; before that ``m_hat`` (SGD with
        bias-corrected momentum, ``degenerated_to_sgd=True``) or no step at all."""
        rho_t, r_t = rectification(self.beta_2, step)
        early = m_hat if self.degenerated_to_sgd else ops.zeros_like(m_hat)
        return ops.where(rho_t >= self.sma_threshold, r_t * adaptive, early)
