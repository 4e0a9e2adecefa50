"""AdamW: Adam with decoupled weight decay (the decay itself is the shared base mechanism)."""

from keras_optim_zoo.families.adam import ADAM_HYPERPARAMETERS
from keras_optim_zoo.optimizers.adam import AMSGRAD, ZooAdam
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, keras_weight_decay


@register
class ZooAdamW(ZooAdam):
    """AdamW: Adam with decoupled weight decay, equal to keras.optimizers.AdamW at its defaults.

    Update (``g`` gradient, ``lr`` learning rate, ``t`` the 1-based step, ``wd`` weight_decay)::

        w <- w - lr * wd * w          weight_decay_scaling="learning_rate" (default: Keras, torch)
        w <- w - wd * w               weight_decay_scaling="none" (TensorFlow Addons' AdamW)
        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        amsgrad:  v_hat <- max(v_hat, v) ; v = v_hat
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)

    The decay is applied to the weights *before* the Adam step (as Keras does) and does not pass
    through ``m`` and ``v``; variables excluded with ``exclude_from_weight_decay`` are not decayed.

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
    arXiv:1711.05101 (Algorithm 2); Adam: Kingma & Ba, arXiv:1412.6980 (2014).

    Conventions and how they differ between implementations:

    * decay scaling: the paper multiplies the decay by the schedule multiplier ``eta_t`` but not by
      the base rate ``alpha``; Keras and ``torch.optim.AdamW`` use ``lr * wd`` (the default here);
      ``tfa.optimizers.AdamW`` used the raw ``wd`` (``weight_decay_scaling="none"``, where TFA users
      scheduled ``weight_decay`` alongside the learning rate themselves);
    * decay placement: before the Adam step, on the current weights (Keras); torch decays in the
      same step, also before the Adam update, so the two agree; TFA applied ``w - wd * w`` with the
      pre-step weights as well. With a sparse gradient every row decays (Keras); TFA decayed only
      the rows present in the gradient;
    * epsilon is Keras's "epsilon hat" (added to ``sqrt(v)`` before the bias correction of the step
      size; torch adds it to ``sqrt(v / (1 - beta_2^t))``); AMSGrad takes the maximum of the raw
      ``v``. Defaults (``weight_decay=0.004``, epsilon 1e-7) equal ``keras.optimizers.AdamW``;
      results equal it step for step, except that duplicate sparse indices are summed first.

    Example:
        >>> model.compile(optimizer="zoo_adamw", ...)
        >>> keras_optim_zoo.ZooAdamW(1e-3, weight_decay=1e-4, weight_decay_scaling="none")  # TFA's AdamW
    """

    spec = OptimizerSpec(
        name="zoo_adamw",
        summary='AdamW: Adam with decoupled weight decay, equal to keras.optimizers.AdamW at its defaults.',
        family="adam",
        paper='Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, arXiv:1711.05101 (Algorithm 2)',
        builtin="AdamW",
        learning_rate=0.001,
        hyperparameters=(keras_weight_decay(0.004),) + ADAM_HYPERPARAMETERS + (AMSGRAD,),
    )

