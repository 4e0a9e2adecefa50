"""One module per algorithm (or family). Importing this package registers every optimizer."""

from keras_optim_zoo.optimizers.sgd import ZooSGD
from keras_optim_zoo.optimizers.rmsprop import ZooRMSprop
from keras_optim_zoo.optimizers.adagrad import ZooAdagrad
from keras_optim_zoo.optimizers.adadelta import ZooAdadelta
from keras_optim_zoo.optimizers.adam import ZooAdam
from keras_optim_zoo.optimizers.adamax import ZooAdamax
from keras_optim_zoo.optimizers.nadam import ZooNadam

__all__ = ["ZooSGD", "ZooRMSprop", "ZooAdagrad", "ZooAdadelta", "ZooAdam", "ZooAdamax", "ZooNadam"]

# <adam-family imports: add here>

# <other tfa imports: add here>

# <wrapper-built optimizer imports: add here>
