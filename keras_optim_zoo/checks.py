"""Argument checks shared by every zoo optimizer.

Each check returns the (normalised) value or raises a ``TypeError`` (wrong kind of value) or a
``ValueError`` (right kind, outside the valid range). Messages name the argument, the valid range
and the value received, so that a typo in a hyper-parameter is caught at construction time.
"""

from __future__ import annotations

import math
import numbers
import re

__all__ = [
    "boolean",
    "number",
    "in_range",
    "beta",
    "non_negative",
    "positive_or_none",
    "non_negative_or_none",
    "integer",
    "one_of",
    "patterns",
]


def number(name, value):
    """A finite real number (bools are rejected: ``beta_1=True`` is a mistake, not 1.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Argument `{name}` must be a real number; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be finite; received {name}={value}.")
    return value


def in_range(name, value, low, high, *, low_open=False, high_open=False):
    """A number in ``[low, high]``; ``low_open`` / ``high_open`` exclude the end points."""
    value = number(name, value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(
            f"Argument `{name}` must be in {interval}; received {name}={value!r}."
        )
    return value


def beta(name, value):
    """A decay rate of a moving average: ``[0, 1)`` (1 would freeze the average forever)."""
    return in_range(name, value, 0.0, 1.0, high_open=True)


def non_negative(name, value):
    """A number ``>= 0``."""
    return in_range(name, value, 0.0, math.inf)


def non_negative_or_none(name, value):
    """``None`` or a number ``>= 0``."""
    return None if value is None else non_negative(name, value)


def positive_or_none(name, value):
    """``None`` or a number ``> 0``."""
    return None if value is None else in_range(name, value, 0.0, math.inf, low_open=True)


def boolean(name, value):
    """A real ``bool`` (``amsgrad="False"`` would otherwise be truthy)."""
    if not isinstance(value, bool):
        raise TypeError(
            f"Argument `{name}` must be True or False; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    return value


def integer(name, value, minimum=0):
    """An ``int >= minimum`` (bools and floats rejected: ``total_steps=1e4`` is a float, not a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{name}` must be an integer >= {minimum}; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be an integer >= {minimum}; received {name}={value!r}.")
    return int(value)


def one_of(name, value, choices, note=""):
    """``value`` if it is one of ``choices`` (a tuple), else a ``ValueError`` listing them."""
    try:
        valid = value in choices
    except TypeError:  # e.g. an unhashable value
        valid = False
    if not valid:
        raise ValueError(f"Argument `{name}` must be one of {choices}{note}; received {name}={value!r}.")
    return value


def patterns(name, value):
    """Regular expressions matched against variable names or paths: ``None`` (returned as is), one
    pattern (a string), or a list/tuple of them; returned as a list. Each must compile."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        raise TypeError(
            f"Argument `{name}` must be None, a string or a list of strings (regular expressions "
            f"matched against variable names); received {name}={value!r}."
        )
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"Argument `{name}` holds an invalid regular expression {pattern!r}: {error}.") from None
    return list(value)
