"""``python -m keras_optim_zoo <command>``: see :mod:`keras_optim_zoo.cli`."""

import sys

from keras_optim_zoo import cli

if __name__ == "__main__":
    sys.exit(cli.main(prog="python -m keras_optim_zoo"))
