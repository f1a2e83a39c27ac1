"""A matrix product's operand that is an entrywise map of transposes, as the transpose of the map.

The backward of ``Uh @ (r * h)`` (a GRU's candidate state) multiplies by ``(r * h).T``, which the
lowering spells as the map of the transposes, ``h.T * sigmoid(a.T)``; spelled as the transpose of
the map, ``(h * sigmoid(a)).T``, it is the forward's value, which ``shared_values`` then computes
once instead of twice (a second pass that reads two arrays across their rows and writes a third).
Safe: entry (i, j) of either is the body at the operands' entries (j, i), and broadcasting is the
same on both sides (every operand is a transpose, so a broadcast row of one is a broadcast column
of the other). Only a matrix product's operand is rewritten: inside an entrywise chain the map of
transposes is fused into the chain's loop, where a transpose of a map would be an array of its own.
"""
from __future__ import annotations

from symgrad.lower.nodes import Add, Elementwise, MatMul, Node, Product, Transpose
from symgrad.lower.passes.entries import canonical


def _untransposed(node: Node) -> Node | None:
    """The entrywise chain ``node`` (maps, products, sums) over the bases of its leaves, where
    every leaf that is an array is a transpose; else None."""
    if isinstance(node, Transpose):
        return node.operand
    if not node.shape:                  # a number: the same on both sides
        return node
    if isinstance(node, Elementwise):
        operands = [(access, _untransposed(operand)) for access, operand in node.operands]
        return None if any(o is None for _, o in operands) else canonical(Elementwise(node.body, tuple(operands)))
    if isinstance(node, (Product, Add)):
        parts = [_untransposed(p) for p in (node.factors if isinstance(node, Product) else node.terms)]
        if any(p is None for p in parts):
            return None
        return Product(node.coefficient, tuple(parts)) if isinstance(node, Product) else Add(tuple(parts))
    return None


def _outside(node: Node) -> Node:
    inner = _untransposed(node) if isinstance(node, (Elementwise, Product, Add)) else None
    return node if inner is None else Transpose(inner)


def with_transposes_outside(node: Node) -> Node:
    """``node`` (a node-level rewrite, its children already rewritten) with a matrix product's map
    of transposes as the transpose of the map."""
    if isinstance(node, MatMul):
        return MatMul(_outside(node.left), _outside(node.right))
    return node
