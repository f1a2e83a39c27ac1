"""One tensor entry ``T[k, q]`` -> the array node that lines it up with a frame.

A frame gives one label (an index symbol) or None per axis of the value being
computed. An entry becomes the whole tensor, its transpose when its indices
come in the other order, a slice when an index carries an offset or ranges
over part of an axis (a block of a concatenation), or the number a 1 x 1
tensor holds. An index that is not a label plus an offset, a repeated index
gives the tensor's ``Diagonal``, a column or a row as the frame places its index. An index that
is not a label plus an offset, a repeated index on part of an axis (or with an offset) or an index
with no axis in the frame is a ``LoweringError``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symgrad.errors import LoweringError
from symgrad.index.terms import linear_form
from symgrad.lower.nodes import (Diagonal, Entry, Node, Slice, Tensor, Transpose)

Frame = tuple  # one label (index symbol) or None per output axis


@lru_cache(maxsize=1 << 14)
def same(a, b) -> bool:
    """Whether two expressions in dimensions are identically equal (remembered: lowering and
    printing ask it of the same few sizes and offsets again and again)."""
    return sp.expand(a - b) == 0


@lru_cache(maxsize=1 << 14)
def _whole_axis(constant, lo, hi, size) -> bool:
    """Whether ``constant + lo .. constant + hi`` is the whole of an axis of ``size``."""
    return same(constant + lo, 0) and same(constant + hi + 1, size)


def place(access: sp.Indexed, frame: Frame, ranges: dict, shapes: dict) -> Node:
    """The node for ``access`` as an array whose axes line up with ``frame``."""
    name = access.base.name
    shape = tuple(shapes[name])
    labels, bounds = [], []
    for index, size in zip(access.indices, shape):
        label, bound = _axis(access, index, size, ranges)
        labels.append(label)
        bounds.append(bound)
    if len(labels) == 2 and labels[0] is not None and labels[0] == labels[1]:
        return _diagonal(access, labels[0], bounds, frame, shape)
    transposed = _transposed(access, labels, frame)
    if all(n == 1 for n in shape):
        return Entry(name)
    node: Node = Tensor(name, shape)
    if any(b is not None for b in bounds):
        node = Slice(node, tuple(bounds))
    return Transpose(node) if transposed else node


def _axis(access, index, size, ranges):
    """(label or None, (start, stop) or None for the whole axis) for one index of ``access``."""
    form = linear_form(index, set(ranges))
    if form is None:
        raise LoweringError(f"index {index} of {access} is not an index plus an offset")
    constant, coefficients = form
    if not coefficients:
        return None, None if size == 1 else (constant, constant + 1)
    if len(coefficients) != 1 or list(coefficients.values())[0] != 1:
        raise LoweringError(f"index {index} of {access} is not an index plus an offset")
    (label,) = coefficients
    lo, hi = ranges[label]
    whole = _whole_axis(constant, lo, hi, size)
    return label, None if whole else (constant + lo, constant + hi + 1)


def _diagonal(access, label, bounds, frame, shape) -> Diagonal:
    """``A[k, k]`` as the diagonal of ``A``, along the frame's axis of ``k``."""
    if any(b is not None for b in bounds) or not same(shape[0], shape[1]) \
            or sp.expand(access.indices[0] - access.indices[1]) != 0:
        raise LoweringError(f"{access} reads part of a diagonal (an offset or a slice): not vectorizable")
    if label not in frame:
        raise LoweringError(f"{access}: index {label} has no axis in this expression")
    return Diagonal(Tensor(access.base.name, shape), frame.index(label))


def _transposed(access, labels, frame) -> bool:
    positions = {label: k for k, label in enumerate(frame) if label is not None}
    present = [label for label in labels if label is not None]
    if len(present) != len(set(present)):
        raise LoweringError(f"{access} repeats an index (a diagonal): not vectorizable")
    for label in present:
        if label not in positions:
            raise LoweringError(f"{access}: index {label} has no axis in this expression")
    return any(label is not None and positions[label] != axis for axis, label in enumerate(labels))
