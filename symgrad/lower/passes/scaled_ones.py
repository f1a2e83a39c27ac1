"""Scaled ones: a number times row or column sums, as sums against a vector of that number.

``mu = (X @ ones) * (1/D)`` and ``var = (Xc**2 @ ones) * (1/D)`` are two products and two
multiplications; with ``w = np.full((D, 1), 1/D)`` made once they are ``X @ w`` and
``Xc**2 @ w``, two products (a mean is a sum against a vector of ``1/D``). Only where two or
more sums in the function take the same number over the same axis size, so the one vector made
costs less than the multiplications it saves (the shared-values pass makes it once); not a sum
the function also reads unscaled (computed once, it is scaled where it is read); and a sign
alone only where the negated sum is a statement's whole value (``grad_mu = -(G @ ones)``: in a
sum it is subtracted, at no cost). Each entry is multiplied by the number before it is added
instead of after: the same value, up to rounding.
"""
from __future__ import annotations

from collections import Counter

from symgrad.lower.nodes import MatMul, Node, Ones, Product
from symgrad.lower.statements import Assign, holding, nodes_of, subnodes_of, unwrapped, with_nodes
from symgrad.model.functions import is_mask


def _scaled_sum(node: Node):
    """(number, shape of the ones vector) of ``number * (X @ ones)`` or ``number * (ones @ X)``."""
    if not isinstance(node, Product) or len(node.factors) != 1 or node.coefficient == 1 \
            or is_mask(node.coefficient):
        return None
    product = node.factors[0]
    if not isinstance(product, MatMul):
        return None
    ones = product.left if isinstance(product.left, Ones) else product.right
    if not isinstance(ones, Ones) or ones.value != 1:
        return None
    return node.coefficient, ones.shape


def with_scaled_ones(statements: list) -> list:
    """``statements`` (one function's; None for one left alone) with every number times a sum
    against ones that two or more sums share as a sum against a vector of that number."""
    products = Counter(sub for s in statements if s is not None for node in nodes_of(s)
                       for sub in subnodes_of(node, MatMul))

    def key_of(node: Node, whole: Node | None):
        key = _scaled_sum(node)
        if key is None or products[node.factors[0]] > 1 or (key[0] == -1 and node is not whole):
            return None
        return key

    def whole_of(statement) -> Node | None:
        return unwrapped(statement.value) if isinstance(statement, Assign) else None
    counts = Counter(key for s in statements if s is not None for node in nodes_of(s)
                     for sub in subnodes_of(node, Product) if (key := key_of(sub, whole_of(s))) is not None)
    in_products = holding(Product)

    def rewritten(statement):
        whole = whole_of(statement)

        def rewrite(node: Node) -> Node:
            key = key_of(node, whole)
            if key is None or counts[key] < 2:
                return node
            product, filled = node.factors[0], Ones(key[1], key[0])
            return MatMul(filled, product.right) if isinstance(product.left, Ones) else MatMul(product.left, filled)
        return with_nodes(statement, rewrite, in_products)
    return [None if s is None else rewritten(s) for s in statements]
