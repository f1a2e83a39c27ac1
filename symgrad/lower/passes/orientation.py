"""Whole sums read their arrays the way the other statements do: ``np.vdot(A.T, B.T)`` ->
``np.vdot(A, B)``, ``A.T.sum()`` -> ``A.sum()``.

The lowering lines every entry up with the frame of the value it computes; a sum over
every index has no output axes to line up with, so its frame is whichever order the indices
came in, and the loss ``sum_c (1 - pt[c, 0])**2 log(pt[c, 0])`` reads ``(1 - pt.T)`` where
the adjoint of ``pt`` reads ``(1 - pt)``. The two are different nodes, so
``shared_values`` computes each on its own. A sum of every entry, an inner product and a
sum of squares are the same number when every array they read is transposed, so the
operands of such a node are transposed together (pushed into entrywise maps and products,
``_transposed`` of ``contractions``) when that leaves fewer transposes than it found. Only
these three reductions are rewritten; a matrix product or an axis sum keeps its orientation.
"""
from __future__ import annotations

from functools import lru_cache

from symgrad.lower.nodes import Node, SquaredNorm, SumAll, Transpose, VDot
from symgrad.lower.passes.contractions import transposed
from symgrad.lower.statements import children


@lru_cache(maxsize=1 << 14)
def _transposes(node: Node) -> int:
    """How many ``Transpose`` nodes ``node`` holds (remembered: nodes are immutable values)."""
    return isinstance(node, Transpose) + sum(_transposes(child) for child in children(node))


def untransposed_sums(node: Node) -> Node:
    """A whole sum, inner product or sum of squares over transposed arrays read untransposed
    (a node-level rewrite)."""
    if isinstance(node, VDot):
        flipped = VDot(transposed(node.left), transposed(node.right))
    elif isinstance(node, (SumAll, SquaredNorm)):
        flipped = type(node)(transposed(node.operand))
    else:
        return node
    return flipped if _transposes(flipped) < _transposes(node) else node
