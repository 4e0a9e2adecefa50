"""Gradient transforms around any optimizer: gradient centralization and adaptive gradient clipping.

Each transform is a pure function of tensors (``centralize_gradient``, ``unitwise_clip``) and a
wrapper (``GradientCentralization``, ``AdaptiveGradientClipping``) that applies it to the gradients
before handing them to the inner optimizer, a Keras built-in or a zoo optimizer, so it composes
with any of them, is saved in ``.keras`` files with its arguments, and works under ``fit`` (with and
without ``jit_compile``), in ``GradientTape`` loops and under ``tf.distribute`` (there the transform
sees the gradient summed over the replicas, as the inner optimizer does). Wrappers nest, the
outermost transforming first: ``AdaptiveGradientClipping(GradientCentralization(opt))`` clips, then
centralizes.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_optim_zoo import checks
from keras_optim_zoo import sparse
from keras_optim_zoo.keras_adapter import matches_any
from keras_optim_zoo.registry import PACKAGE
from keras_optim_zoo.wrappers.base import OptimizerWrapper, compute_dtype, const

__all__ = [
    "centralize_gradient",
    "unitwise_norm",
    "unitwise_clip",
    "GradientTransform",
    "GradientCentralization",
    "AdaptiveGradientClipping",
]

#: The denominator guard of the official NFNets code, ``max(||g_i||, 1e-6)`` (distinct from ``eps``).
_GRADIENT_NORM_FLOOR = 1e-6


# --------------------------------------------------------------------------- pure transforms
def centralize_gradient(gradient, conv_only=False):
    """Gradient centralization: subtract the mean over every axis but the last (output) one.

    For a weight tensor of rank >= 2 (rank >= 3 with ``conv_only=True``)::

        g <- g - mean(g, axis=(0, ..., rank - 2), keepdims=True)

    so that, for every output unit (the last axis in Keras: a ``Dense`` kernel is
    ``(inputs, units)``, a ``Conv2D`` kernel ``(height, width, in_channels, filters)``), the
    gradient of its weight vector has zero mean. This is the paper's operator
    ``Phi_GC(grad w_i) = grad w_i - mean(grad w_i)`` on the weight vector ``w_i`` of each output
    neuron / filter, for fully-connected and convolutional layers alike (the official PyTorch
    code averages over every axis but the first, PyTorch's output axis). Tensors of rank <= 1
    (biases, normalization scales; ``conv_only=True``: also ``Dense`` kernels, as the official
    ``*_GCC`` optimizers) are returned unchanged.

    Reference: H. Yong, J. Huang, X. Hua & L. Zhang, "Gradient Centralization: A New Optimization
    Technique for Deep Neural Networks", ECCV 2020, arXiv:2004.01461 (eq. 4).

    ``gradient`` is a dense tensor; ``tf.IndexedSlices`` must be made dense first (the wrapper
    does). Rank-3 kernels (``Conv1D``; also ``MultiHeadAttention``/``EinsumDense`` kernels, whose
    output may span several axes) are centralized over their first two axes.
    """
    rank = len(gradient.shape)
    if rank < (3 if conv_only else 2):
        return gradient
    mean = ops.mean(gradient, axis=tuple(range(rank - 1)), keepdims=True)
    return ops.subtract(gradient, mean)


def unitwise_norm(x):
    """The 2-norm of each output unit: over every axis but the last for rank >= 2 (keeping dims, so
    it broadcasts against ``x``), over the whole tensor for rank <= 1 (a scalar)."""
    rank = len(x.shape)
    if rank <= 1:
        return ops.sqrt(ops.sum(ops.square(x)))
    return ops.sqrt(ops.sum(ops.square(x), axis=tuple(range(rank - 1)), keepdims=True))


def _clip_factor(gradient, variable, clipping, eps):
    """``min(1, clipping * max(||w_i||, eps) / ||g_i||)`` per unit (1 where ||g_i|| is not above)."""
    dtype = gradient.dtype
    max_norm = ops.multiply(ops.maximum(unitwise_norm(variable), const(eps, dtype)), const(clipping, dtype))
    grad_norm = unitwise_norm(gradient)
    scale = ops.divide(max_norm, ops.maximum(grad_norm, const(_GRADIENT_NORM_FLOOR, dtype)))
    return ops.where(ops.greater(grad_norm, max_norm), scale, ops.ones_like(scale))


def unitwise_clip(gradient, variable, clipping=0.01, eps=1e-3):
    """Adaptive gradient clipping (AGC), unit-wise::

        g_i <- g_i * clipping * max(||w_i||, eps) / ||g_i||      if ||g_i|| > clipping * max(||w_i||, eps)
        g_i <- g_i                                                otherwise

    with ``g_i``, ``w_i`` the gradient and the weights of output unit ``i`` (``unitwise_norm``:
    norms over every axis but the last for rank >= 2, over the whole tensor for rank <= 1), i.e.
    ``||g_i|| / max(||w_i||, eps) <= clipping`` afterwards. The division is guarded as in the
    official code, ``max(||g_i||, 1e-6)``.

    Reference: A. Brock, S. De, S. L. Smith & K. Simonyan, "High-Performance Large-Scale Image
    Recognition Without Normalization", ICML 2021, arXiv:2102.06171 (Section 4.1, eq. 3);
    official code ``deepmind-research/nfnets`` (``optim.py``).

    Units: the official code reduces axis 0 of rank-2 and rank-3 tensors and axes 0-2 of rank-4
    ones (Haiku's ``(in, out)`` and HWIO layouts) and treats a tensor that squeezes to rank 1 as
    one vector; here every axis but the last is reduced, which is the same for ``Dense`` and
    ``Conv2D`` kernels, and the output channels for ``Conv1D``/``Conv3D`` kernels (which the
    official code leaves unsupported or reduces over axis 0 only); a ``(1, n)`` kernel has ``n``
    units here.
    """
    dtype = compute_dtype(gradient.dtype)
    g = ops.cast(gradient, dtype)
    factor = _clip_factor(g, ops.cast(variable, dtype), clipping, eps)
    return ops.cast(ops.multiply(g, factor), gradient.dtype)


# --------------------------------------------------------------------------- wrappers
class GradientTransform(OptimizerWrapper):
    """Base of the gradient-transform wrappers: transform the gradients, then step the inner
    optimizer with them.

    * ``exclude``: regular expressions; a variable whose path (``variable.path``, e.g.
      ``"dense_1/kernel"``; the name for plain variables) matches one (``re.search``) keeps its
      gradient unchanged.
    * Sparse gradients (``tf.IndexedSlices``) of a transformed variable are made dense (both
      transforms need whole-tensor statistics).
    * The transforms see the gradient the inner optimizer would see: summed over replicas under
      ``tf.distribute`` (a transform that is not linear all-reduces the gradients to compute its
      statistics), unscaled when the inner optimizer has a ``loss_scale_factor``
      (``LossScaleOptimizer`` around the wrapper unscales before it, as always).
    * They act before everything the inner optimizer does: its ``clipnorm``/``clipvalue``/
      ``global_clipnorm``, weight decay, and its gradient accumulation (with
      ``gradient_accumulation_steps`` each micro-batch gradient is transformed).
    * Nested wrappers transform outermost first: ``AdaptiveGradientClipping(GradientCentralization(
      opt))`` clips, then centralizes.

    A subclass implements ``_transform(gradient, variable, total)`` (``total``: the gradient summed
    over replicas, unscaled; ``gradient`` is what this replica passes on) and sets
    ``_needs_total = True`` if ``total`` differs from ``gradient`` in meaning (non-linear transforms).
    """

    _needs_total = False

    def __init__(self, optimizer, exclude=None, name=None, **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.exclude = checks.patterns("exclude", exclude) or []

    def _wrapper_config(self):
        return {"exclude": list(self.exclude) or None}

    def transforms(self, variable):
        """Whether ``variable``'s gradient is transformed (its path matches no ``exclude`` pattern)."""
        return not matches_any(variable, self.exclude)

    def _apply_wrapped(self, grads, trainable_variables=None):
        grads = list(grads)
        variables = list(trainable_variables) if trainable_variables is not None else None
        if variables is None and self.built:
            variables = self._built_variables()
        if variables is not None and grads:
            grads = self.transform_gradients(grads, variables)
        return super()._apply_wrapped(grads, variables if trainable_variables is not None else None)

    def transform_gradients(self, grads, variables):
        """The transformed gradients (``None`` and excluded ones passed through)."""
        if len(grads) != len(variables):
            raise ValueError(f"Got {len(grads)} gradients for {len(variables)} variables.")
        chosen = [
            i
            for i, (g, v) in enumerate(zip(grads, variables))
            if g is not None and 0 not in tuple(v.shape) and self.transforms(v)
        ]
        if not chosen:
            return grads
        dense = []
        for i in chosen:
            g = grads[i]
            if sparse.is_indexed_slices(g):
                g = sparse.to_dense(g, ops.shape(variables[i])[0])
            dense.append(ops.convert_to_tensor(g))
        totals = self._totals(dense) if self._needs_total else dense
        scale = self.inner_optimizer.loss_scale_factor
        out = list(grads)
        for i, g, total in zip(chosen, dense, totals):
            if scale is not None and self._needs_total:
                total = ops.divide(total, ops.cast(scale, total.dtype))
            out[i] = self._transform(g, variables[i], total)
        return out

    @staticmethod
    def _totals(gradients):
        """The gradients summed over the replicas (the gradients themselves outside tf.distribute)."""
        if keras.backend.backend() != "tensorflow":
            return gradients
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync <= 1:
            return gradients
        return context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)

    def _transform(self, gradient, variable, total):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientCentralization(GradientTransform):
    """Gradient centralization around any optimizer: zero-mean gradients per output unit.

    Before every step of the inner optimizer, the gradient of each weight tensor of rank >= 2
    (``Dense`` and convolution kernels; rank >= 3 with ``conv_only=True``) is replaced by
    ``centralize_gradient(g)``: its mean over every axis but the last (output) axis is
    subtracted. Biases and normalization parameters (rank <= 1) are left alone.

    Reference: H. Yong, J. Huang, X. Hua & L. Zhang, "Gradient Centralization: A New Optimization
    Technique for Deep Neural Networks", ECCV 2020, arXiv:2004.01461. The official code applies GC
    to convolution and fully-connected weights by default (``SGD_GC``, ``Adam_GC``), to
    convolutions only in its ``*_GCC`` variants (``conv_only=True``). It centralizes the gradient
    after adding L2 weight decay to it; Keras's (decoupled) ``weight_decay`` is not part of the
    gradient, so it is not centralized. Ranger's 2020 version and pytorch_optimizer's ``Ranger``
    centralize by default; ``keras_optim_zoo.ZooRanger`` (the original 2019 Ranger) does not:
    ``GradientCentralization("zoo_ranger")`` is Ranger with GC.

    Conventions: see ``GradientTransform`` (``exclude`` patterns, sparse gradients made dense, the
    gradient summed over replicas, before the inner optimizer's clipping). Centralization is
    linear, so under ``tf.distribute`` each replica centralizes its own part (no extra all-reduce).

    Args:
        optimizer: the inner optimizer (instance or a name ``keras.optimizers.get`` resolves).
        conv_only: bool; centralize rank >= 3 tensors only. Default False.
        exclude: ``None``, a regular expression or a list of them; variables whose path matches
            keep their gradient (e.g. ``["embedding"]``). Default None.
        name: optional name.

    Example:
        >>> opt = GradientCentralization(keras.optimizers.SGD(0.1, momentum=0.9))
        >>> model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        >>> opt = GradientCentralization("zoo_adamw", exclude=["embedding"])
    """

    def __init__(self, optimizer, conv_only=False, exclude=None, name=None, **kwargs):
        super().__init__(optimizer, exclude=exclude, name=name, **kwargs)
        self.conv_only = checks.boolean("conv_only", conv_only)

    def _wrapper_config(self):
        return {"conv_only": self.conv_only, **super()._wrapper_config()}

    def _transform(self, gradient, variable, total):
        return centralize_gradient(gradient, self.conv_only)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaptiveGradientClipping(GradientTransform):
    """Adaptive gradient clipping (AGC) around any optimizer: unit-wise ``||g_i|| / ||w_i|| <= lambda``.

    Before every step of the inner optimizer each gradient is clipped unit-wise
    (``unitwise_clip``): for every output unit ``i`` (every axis but the last of a kernel; the
    whole tensor for biases and scales)::

        g_i <- g_i * lambda * max(||w_i||, eps) / ||g_i||     if ||g_i|| > lambda * max(||w_i||, eps)

    with ``lambda = clipping`` and ``w`` the weights before the step.

    Reference: A. Brock, S. De, S. L. Smith & K. Simonyan, "High-Performance Large-Scale Image
    Recognition Without Normalization", ICML 2021, arXiv:2102.06171 (Section 4.1); official code
    ``deepmind-research/nfnets``. Defaults: ``clipping=0.01`` (the paper's value for batch size
    4096; it recommends smaller values for larger batches), ``eps=1e-3``. The paper does not clip
    the final linear layer: pass its name, e.g. ``exclude=["predictions"]`` (patterns are
    ``re.search``-ed in the variable paths, e.g. ``"predictions/kernel"``).

    Conventions: units as in ``unitwise_clip`` (every axis but the last; the official code differs
    for rank-3 and ``(1, n)`` tensors). Under ``tf.distribute`` the norms are those of the gradient
    summed over the replicas, i.e. the gradient of the global batch, as in the official code (which
    clips after the cross-replica mean): the factors are computed from the all-reduced gradient
    and applied to each replica's part. With a ``loss_scale_factor`` on the inner optimizer the
    norms are those of the unscaled gradient. See also ``GradientTransform``.

    Args:
        optimizer: the inner optimizer (instance or a name ``keras.optimizers.get`` resolves).
        clipping: float > 0, lambda. Default 0.01.
        eps: float >= 0, the floor of ``||w_i||`` (so zero-initialized weights can move). Default 1e-3.
        exclude: ``None``, a regular expression or a list of them; variables whose path matches
            are not clipped. Default None.
        name: optional name.

    Example:
        >>> opt = AdaptiveGradientClipping(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        ...                                clipping=0.01, exclude=["predictions"])
    """

    _needs_total = True

    def __init__(self, optimizer, clipping=0.01, eps=1e-3, exclude=None, name=None, **kwargs):
        super().__init__(optimizer, exclude=exclude, name=name, **kwargs)
        self.clipping = checks.in_range("clipping", clipping, 0.0, float("inf"), low_open=True)
        self.eps = checks.non_negative("eps", eps)

    def _wrapper_config(self):
        return {"clipping": self.clipping, "eps": self.eps, **super()._wrapper_config()}

    def _transform(self, gradient, variable, total):
        dtype = compute_dtype(gradient.dtype)
        factor = _clip_factor(ops.cast(total, dtype), ops.cast(variable, dtype), self.clipping, self.eps)
        return ops.cast(ops.multiply(ops.cast(gradient, dtype), factor), gradient.dtype)
