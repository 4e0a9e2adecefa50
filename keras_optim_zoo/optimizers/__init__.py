"""One module per algorithm (or family). Importing this package registers every optimizer."""

from keras_optim_zoo.optimizers.sgd import ZooSGD
from keras_optim_zoo.optimizers.rmsprop import ZooRMSprop
from keras_optim_zoo.optimizers.adagrad import ZooAdagrad
from keras_optim_zoo.optimizers.adadelta import ZooAdadelta
from keras_optim_zoo.optimizers.adam import ZooAdam
from keras_optim_zoo.optimizers.adamax import ZooAdamax
from keras_optim_zoo.optimizers.nadam import ZooNadam

__all__ = ["ZooSGD", "ZooRMSprop", "ZooAdagrad", "ZooAdadelta", "ZooAdam", "ZooAdamax", "ZooNadam"]

from keras_optim_zoo.optimizers.adamw import ZooAdamW
from keras_optim_zoo.optimizers.lazy_adam import ZooLazyAdam
from keras_optim_zoo.optimizers.radam import ZooRAdam
from keras_optim_zoo.optimizers.adabelief import ZooAdaBelief
from keras_optim_zoo.optimizers.yogi import ZooYogi
from keras_optim_zoo.optimizers.lamb import ZooLamb

__all__ += ["ZooAdamW", "ZooLazyAdam", "ZooRAdam", "ZooAdaBelief", "ZooYogi", "ZooLamb"]

# <adam-family imports: add here>

from keras_optim_zoo.optimizers.sgdw import ZooSGDW
from keras_optim_zoo.optimizers.novograd import ZooNovoGrad
from keras_optim_zoo.optimizers.proximal_adagrad import ZooProximalAdagrad
from keras_optim_zoo.optimizers.conditional_gradient import ZooConditionalGradient
from keras_optim_zoo.optimizers.cocob import ZooCOCOB

__all__ += ["ZooSGDW", "ZooNovoGrad", "ZooProximalAdagrad", "ZooConditionalGradient", "ZooCOCOB"]

# <other tfa imports: add here>

from keras_optim_zoo.optimizers.ranger import ZooRanger

__all__ += ["ZooRanger"]

# <wrapper-built optimizer imports: add here>

from keras_optim_zoo.optimizers.lion import ZooLion
from keras_optim_zoo.optimizers.signsgd import ZooSignSGD
from keras_optim_zoo.optimizers.tiger import ZooTiger
from keras_optim_zoo.optimizers.lars import ZooLARS
from keras_optim_zoo.optimizers.prodigy import ZooProdigy
from keras_optim_zoo.optimizers.dadapt_adam import ZooDAdaptAdam

__all__ += ["ZooLion", "ZooSignSGD", "ZooTiger", "ZooLARS", "ZooProdigy", "ZooDAdaptAdam"]

# <sign/large-batch/lr-free imports: add here>

from keras_optim_zoo.optimizers.ademamix import ZooAdEMAMix
from keras_optim_zoo.optimizers.adan import ZooAdan

__all__ += ["ZooAdan", "ZooAdEMAMix"]

# <modern adam imports: add here>

from keras_optim_zoo.optimizers.adopt import ZooADOPT
from keras_optim_zoo.optimizers.qhadam import ZooQHAdam

__all__ += ["ZooADOPT", "ZooQHAdam"]

# <adopt/qhadam imports: add here>

from keras_optim_zoo.optimizers.adabound import ZooAdaBound
from keras_optim_zoo.optimizers.madgrad import ZooMADGRAD

__all__ += ["ZooAdaBound", "ZooMADGRAD"]

# <bound/madgrad imports: add here>

from keras_optim_zoo.optimizers.schedule_free import (
    ScheduleFreeEvalCallback,
    ZooScheduleFreeAdamW,
    ZooScheduleFreeSGD,
)

__all__ += ["ZooScheduleFreeSGD", "ZooScheduleFreeAdamW", "ScheduleFreeEvalCallback"]

# <schedule-free imports: add here>

from keras_optim_zoo.optimizers.shampoo import ZooShampoo
from keras_optim_zoo.optimizers.soap import ZooSOAP

__all__ += ["ZooShampoo", "ZooSOAP"]

# <preconditioned imports: add here>

from keras_optim_zoo.optimizers.sophia import (
    SophiaHessianCallback,
    ZooSophia,
    hutchinson_estimate,
    sophia_gnb_estimate,
)

__all__ += ["ZooSophia", "sophia_gnb_estimate", "hutchinson_estimate", "SophiaHessianCallback"]

# <sophia imports: add here>
