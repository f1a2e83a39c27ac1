"""A sum of squares as an inner product: ``(E**2).sum()`` -> ``np.vdot(E, E)``.

The lowering writes the loss ``sum (Ystar - Y)**2`` as a sum of an elementwise
square: a temporary of squares, then a sum. ``SquaredNorm`` is the same value
in one pass and no temporary. Only an entrywise square summed whole is
rewritten, and never of a mask (NumPy's inner product of booleans is a
boolean).
"""
from __future__ import annotations

import sympy as sp

from symgrad.lower.nodes import Elementwise, Node, SquaredNorm, SumAll
from symgrad.lower.statements import unwrapped
from symgrad.lower.passes.entries import part


def as_squared_norm(node: Node) -> Node:
    """A whole sum of an entrywise square as an inner product (a node-level rewrite)."""
    if not isinstance(node, SumAll):
        return node
    inner = unwrapped(node.operand)
    if isinstance(inner, Elementwise) and inner.body.is_Pow and inner.body.exp == 2 \
            and inner.body.base.atoms(sp.Indexed) and not part(inner, inner.body.base).boolean:
        return SquaredNorm(part(inner, inner.body.base))
    return node
