"""LazyAdam: Adam whose sparse updates touch only the rows present in the gradient."""

from keras_optim_zoo.optimizers.adam import ZooAdam
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec


@register
class ZooLazyAdam(ZooAdam):
    """LazyAdam: Adam that updates only the rows of a sparse gradient, and their moments.

    Dense gradients: exactly ``ZooAdam`` (and ``keras.optimizers.Adam``). A sparse gradient
    (``tf.IndexedSlices``, e.g. from an ``Embedding``) has the rows of a repeated index summed first;
    then, for the rows ``i`` present only (``t`` the 1-based *global* step)::

        m[i] <- m[i] + (g[i] - m[i]) * (1 - beta_1)
        v[i] <- v[i] + (g[i]^2 - v[i]) * (1 - beta_2)
        amsgrad:  v_hat[i] <- max(v_hat[i], v[i]) ; v[i] = v_hat[i]
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w[i] <- w[i] - alpha * m[i] / (sqrt(v[i]) + epsilon)

    The rows absent from the gradient keep their weights *and* their moments: their moments do not
    decay (Adam would shrink ``m`` and ``v`` of every row and keep moving every row by its old
    momentum). This is the successor of ``tfa.optimizers.LazyAdam`` with the same semantics: lazy
    moments, bias correction with the global step, duplicates summed (TF's
    ``_resource_apply_sparse_duplicate_indices``), epsilon "hat" as in Keras's Adam. It costs work
    proportional to the rows present instead of the whole table (Keras issue 19992); the results
    differ from Adam's on sparse gradients, which is the point.

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014);
    the lazy sparse update of TensorFlow's ``LazyAdamOptimizer`` / TensorFlow Addons' ``LazyAdam``.

    Differences from TFA: AMSGrad is supported (lazily, per row; TFA's LazyAdam accepted only
    ``amsgrad=False``); decoupled ``weight_decay`` (the shared base mechanism) decays every row
    before the step, as Keras does, not only the touched rows.

    Example:
        >>> model.compile(optimizer="zoo_lazy_adam", ...)   # a model with a large Embedding
        >>> keras_optim_zoo.ZooLazyAdam(learning_rate=1e-3)
    """

    spec = OptimizerSpec(
        name="zoo_lazy_adam",
        summary='LazyAdam: Adam that updates only the rows of a sparse gradient, and their moments.',
        family="adam",
        paper='Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980 (2014)',
        builtin="Adam",
        keras2="Adam",
        sparse="lazy",
        learning_rate=0.001,
        hyperparameters=ZooAdam.spec.hyperparameters,
    )

    def _lazy_sparse(self):
        return True
