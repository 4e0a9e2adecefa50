"""The one place where optimizers are registered.

``@register`` on a class with a ``spec`` (``spec.OptimizerSpec``) does three things, under the
spec's name (e.g. ``"zoo_adam"``):

* registers the class as Keras-serializable (key ``"keras_optim_zoo>ZooAdam"``), so a ``.keras``
  file that uses it reloads once ``keras_optim_zoo`` is imported;
* adds the alias ``"zoo_adam"`` to Keras's custom objects, so ``keras.optimizers.get("zoo_adam")``
  and ``model.compile(optimizer="zoo_adam")`` work next to the built-ins (registration alone does
  not make a string identifier work);
* records the name for ``list_optimizers()`` (with the spec's summary, which must be the first line
  of the class docstring).
"""

from __future__ import annotations

import difflib

import keras

PACKAGE = "keras_optim_zoo"

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator registering an optimizer under its ``spec.name`` (see the module docstring)."""
    spec = cls.__dict__.get("spec")
    if spec is None:
        raise TypeError(f"{cls.__name__} has no `spec` of its own (keras_optim_zoo.spec.OptimizerSpec) to register.")
    name = spec.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"{name!r} is already registered to {_REGISTRY[name].__name__}.")
    first_line = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    if first_line != spec.summary:
        raise ValueError(
            f"{cls.__name__}'s docstring must start with its spec's summary {spec.summary!r}; it starts "
            f"with {first_line!r}."
        )
    cls = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
    keras.saving.get_custom_objects()[name] = cls
    cls.registered_name = name
    _REGISTRY[name] = cls
    return cls


def summary(cls):
    """The one-line summary of a registered class (its spec's)."""
    return cls.spec.summary


def registered():
    """``{name: class}`` of every registered optimizer, in registration order."""
    return dict(_REGISTRY)


def list_optimizers():
    """``{name: one-line summary}`` for every registered optimizer, in registration order."""
    return {name: summary(cls) for name, cls in _REGISTRY.items()}


def markdown_table():
    """README's table of the registered optimizers (name, class, summary), from the registry:
    ``python -m keras_optim_zoo list --markdown`` prints it, and a test keeps README equal to it."""
    lines = ["| name | class | summary |", "|---|---|---|"]
    for name, cls in _REGISTRY.items():
        lines.append(f"| `{name}` | `{cls.__name__}` | {summary(cls)} |")
    return "\n".join(lines)


def optimizer_class(name):
    """The class registered as ``name``; ``ValueError`` with close matches if there is none."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    candidates = list(_REGISTRY)
    key = str(name).lower()
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    close += [c for c in difflib.get_close_matches("zoo_" + key, candidates, n=3) if c not in close]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"Unknown optimizer {name!r}.{hint} Registered: {', '.join(candidates)} "
        "(keras_optim_zoo.list_optimizers() lists them with summaries)."
    )


def get(name, **kwargs):
    """A new optimizer registered as ``name``, built with ``kwargs``."""
    return optimizer_class(name)(**kwargs)


def parse_spec(spec):
    """``"zoo_adam:state_dtype=bfloat16:amsgrad=True"`` -> ``("zoo_adam", {...})``.

    The command line's way to name an optimizer with arguments (``compare``, ``bench``). Values are
    Python literals where they parse as one (``True``, ``0.9``, ``None``), else strings.
    """
    import ast

    name, *assignments = str(spec).split(":")
    kwargs = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"Cannot read {assignment!r} in optimizer spec {spec!r}: "
                "write name:argument=value[:argument=value...], e.g. zoo_adam:state_dtype=bfloat16."
            )
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        kwargs[key.strip()] = value
    return name.strip(), kwargs
