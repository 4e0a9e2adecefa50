"""Plain-NumPy reference implementations of the classic optimizers.

Each module holds one optax-style factory taking every hyperparameter of the
matching Keras 3 built-in except the learning rate (same names, same defaults)
and returning ``(init, update)``:

* ``init(w) -> state``: ``w`` is a float64 ndarray, ``state`` a dict of float64
  ndarrays (the slot names follow Keras 3's optimizer-variable names).
* ``update(g, state, w, t, lr) -> (new_w, new_state)``: ``g`` is the dense
  float64 gradient, ``t`` the 1-based step number (Keras' ``iterations + 1``),
  ``lr`` the learning rate of this step.  Inputs are never mutated.

The math follows Keras 3.15.1 (``keras/src/optimizers/*.py``) exactly; the
tests in ``tests/test_reference.py`` check this against the built-ins.
No Keras or TensorFlow is imported here on purpose.
"""

from .adadelta import adadelta
from .adagrad import adagrad
from .adam import adam
from .adamax import adamax
from .nadam import nadam
from .rmsprop import rmsprop
from .sgd import sgd

from .adabelief import adabelief
from .adamw import adamw
from .lamb import lamb
from .lazy_adam import lazy_adam
from .radam import radam
from .yogi import yogi

# <adam-family reference imports: add here>

from .cocob import cocob
from .conditional_gradient import conditional_gradient
from .novograd import novograd
from .proximal_adagrad import proximal_adagrad
from .sgdw import sgdw

# <other tfa reference imports: add here>

from .lookahead import lookahead
from .ranger import ranger

# <wrapper reference imports: add here>

from .dadapt_adam import dadapt_adam
from .lars import lars
from .lion import lion
from .prodigy import prodigy
from .signsgd import signsgd
from .tiger import tiger

# <sign/large-batch/lr-free reference imports: add here>

from .ademamix import ademamix
from .adan import adan

# <modern adam reference imports: add here>

from .adopt import adopt
from .qhadam import qhadam

# <adopt/qhadam reference imports: add here>

from .adabound import adabound
from .madgrad import madgrad

# <bound/madgrad reference imports: add here>

from .schedule_free_adamw import schedule_free_adamw
from .schedule_free_sgd import schedule_free_sgd

# <schedule-free reference imports: add here>

from .shampoo import shampoo

from .soap import soap

# <preconditioned reference imports: add here>

from .sophia import sophia

# <sophia reference imports: add here>

REFERENCES = {
    "sgd": sgd,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adadelta": adadelta,
    "adam": adam,
    "adamax": adamax,
    "nadam": nadam,
    "adamw": adamw,
    "lazy_adam": lazy_adam,
    "radam": radam,
    "adabelief": adabelief,
    "yogi": yogi,
    "lamb": lamb,
    # <adam-family references: add here>
    "sgdw": sgdw,
    "novograd": novograd,
    "proximal_adagrad": proximal_adagrad,
    "conditional_gradient": conditional_gradient,
    "cocob": cocob,
    # <other tfa references: add here>
    "ranger": ranger,
    # <wrapper references: add here>
    "lion": lion,
    "signsgd": signsgd,
    "tiger": tiger,
    "lars": lars,
    "prodigy": prodigy,
    "dadapt_adam": dadapt_adam,
    # <sign/large-batch/lr-free references: add here>
    "adan": adan,
    "ademamix": ademamix,
    # <modern adam references: add here>
    "adopt": adopt,
    "qhadam": qhadam,
    # <adopt/qhadam references: add here>
    "adabound": adabound,
    "madgrad": madgrad,
    # <bound/madgrad references: add here>
    "schedule_free_sgd": schedule_free_sgd,
    "schedule_free_adamw": schedule_free_adamw,
    # <schedule-free references: add here>
    "shampoo": shampoo,
    "soap": soap,
    # <preconditioned references: add here>
    "sophia": sophia,
    # <sophia references: add here>
}

__all__ = ["REFERENCES", *REFERENCES]
