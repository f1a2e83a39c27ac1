"""The errors symgrad raises: each names what is wrong and where; and how a message counts
(``counted(1, "index")`` is ``1 index``, ``counted(3, "index")`` is ``3 indices``)."""
from __future__ import annotations


class SymgradError(ValueError):
    """Base class: a problem in a model, a derivation or a formula, told in one line."""


class ModelError(SymgradError):
    """A model is malformed: an unknown name, a wrong rank, a duplicate definition."""


class ShapeError(ModelError):
    """An operation was given tensors whose shapes do not fit together."""


class LoweringError(SymgradError):
    """An index expression has no vectorized NumPy form symgrad knows how to write."""


class SymgradWarning(UserWarning):
    """Something in a model that is allowed but probably not meant, such as a parameter that does
    not affect the loss (its gradient is zero); the command line prints it as one line."""


IRREGULAR_PLURALS = {"index": "indices", "axis": "axes"}


def plural(count: int | str, noun: str) -> str:
    """``noun`` as it goes after ``count``: singular for exactly one, plural otherwise."""
    return noun if str(count) == "1" else IRREGULAR_PLURALS.get(noun, noun + "s")


def counted(count: int, noun: str) -> str:
    return f"{count} {plural(count, noun)}"
