"""One module per algorithm. Importing this package imports every module in it, which registers
every optimizer; nothing here lists them by hand.

The package's public names are each module's registered optimizer classes, plus the names a module
lists in its own ``__all__`` (e.g. ``sophia.py``'s Hessian estimators and callback).
"""

import importlib as _importlib
import pkgutil as _pkgutil

__all__ = []

#: The classic seven of the Keras tutorials are registered (and listed) first, the rest by name.
_CLASSICS = ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam")


def _order(info):
    return (_CLASSICS.index(info.name), "") if info.name in _CLASSICS else (len(_CLASSICS), info.name)


for _info in sorted(_pkgutil.iter_modules(__path__), key=_order):
    _module = _importlib.import_module(f"{__name__}.{_info.name}")
    _names = getattr(_module, "__all__", None) or [
        name
        for name, value in vars(_module).items()
        if isinstance(value, type) and value.__module__ == _module.__name__ and "registered_name" in vars(value)
    ]
    for _name in _names:
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)

del _info, _module, _names, _name
