"""``amax(x, axis)`` and ``amin(x, axis)``: the largest (smallest) entry along an axis, kept with
size 1 like ``.sum(axis)``; at a tie each tied entry gets an equal share of the gradient, as
``torch.amax`` gives it.

The value is built from the row (column) maximum that ``logsumexp`` already hoists (a named
intermediate, ``<name>_max``, computed by ``.max(axis, keepdims=True)``) and the number of
entries that reach it (``<name>_ties``):

    amax(x)[i, 0] = sum_k [x[i, k] == x_max[i, 0]] * x[i, k] / x_ties[i, 0]

the mean of the tied entries, which is the maximum. The indicator and the count have zero
derivative, so ``sympy.diff`` gives ``d amax[i, 0] / d x[i, k] = [x[i, k] == x_max[i, 0]] /
x_ties[i, 0]``: ties split evenly, and away from ties (random points never tie) the gradient of
the one largest entry. ``amin(x) = -amax(-x)``.
"""
from __future__ import annotations

from symgrad.model.dsl import AlongAxis, ApplyPair, TensorExpr, as_tensor, check_axis


class AMax(AlongAxis):
    """The maximum along ``axis`` (0 or 1), kept with size 1; ties split the gradient evenly."""

    def __init__(self, a: TensorExpr, axis: int):
        super().__init__("amax", a, axis)

    def build(self, indices, ctx):
        source = self.named_argument(ctx)
        top = ctx.hoist_max(source, self.axis, "max")
        tied = ApplyPair("equal", source, top)
        ties = ctx.hoist(tied.sum(axis=self.axis), "ties")
        return ((tied * source).sum(axis=self.axis) / ties).build(indices, ctx)


def amax(x, axis: int) -> AMax:
    """The largest entry along ``axis``, kept with size 1 (``x.max(axis, keepdims=True)``); at a
    tie each tied entry gets an equal share of the gradient (``torch.amax``)."""
    return AMax(as_tensor(x), axis)


def amin(x, axis: int) -> TensorExpr:
    """The smallest entry along ``axis``, kept with size 1: ``-amax(-x, axis)``, ties split evenly."""
    x = as_tensor(x)
    return -AMax(-x, check_axis("amin", x, axis))
