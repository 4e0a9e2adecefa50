"""Stochastic gradient descent with optional (Nesterov) momentum."""

from keras import ops

from keras_optim_zoo.base import ZooOptimizer
from keras_optim_zoo.registry import register
from keras_optim_zoo.spec import OptimizerSpec, boolean, real


@register
class ZooSGD(ZooOptimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Update (Keras form; ``g`` gradient, ``lr`` learning rate)::

        momentum == 0:  w <- w - lr * g
        momentum  > 0:  m <- momentum * m - lr * g
                        w <- w + m                          (nesterov=False, heavy ball)
                        w <- w + momentum * m - lr * g      (nesterov=True, with the new m)

    References: Robbins & Monro (1951); Polyak (1964) for momentum; Nesterov (1983) and
    Sutskever et al., "On the importance of initialization and momentum in deep learning",
    ICML 2013, for the Nesterov form used here.

    Conventions: the learning rate is inside the velocity (Keras, TF 1 ``MomentumOptimizer``),
    whereas ``torch.optim.SGD`` keeps ``m <- momentum * m + g`` and multiplies by ``lr`` afterwards;
    the two agree while ``lr`` is constant and differ after a learning-rate change.
    Defaults equal ``keras.optimizers.SGD``; results equal it step for step.

    Sparse gradients: with ``momentum == 0`` only the touched rows change (exactly the dense
    result); with momentum every row's velocity decays, so the gradient is made dense first.

    Example:
        >>> model.compile(optimizer=keras_optim_zoo.ZooSGD(0.1, momentum=0.9, nesterov=True), ...)
        >>> model.compile(optimizer="zoo_sgd", ...)
    """

    spec = OptimizerSpec(
        name="zoo_sgd",
        summary='Stochastic gradient descent with optional (Nesterov) momentum.',
        family="sgd",
        paper='Robbins & Monro (1951)',
        builtin="SGD",
        builtin_arguments={'momentum': 0.9},
        keras2="SGD",
        learning_rate=0.01,
        hyperparameters=(
            real("momentum", 0.0, 0.0, 1.0, doc="heavy-ball momentum, Keras's form m = momentum * m - lr * g"),
            boolean("nesterov", False, "Nesterov's look-ahead"),
        ),
    )

    def _slot_specs(self):
        return [("momentum", "zeros")] if self.momentum else []

    def _lazy_sparse(self):
        return not self.momentum

    def _update(self, context, gradient, variable, slots):
        learning_rate = context.learning_rate
        step = ops.multiply(gradient, learning_rate)
        if not self.momentum:
            return step, {}
        m = ops.subtract(ops.multiply(slots["momentum"], self.momentum), step)
        if self.nesterov:
            return ops.negative(ops.subtract(ops.multiply(m, self.momentum), step)), {"momentum": m}
        return ops.negative(m), {"momentum": m}
