"""Factored scalars: a product's number applied to its smallest factor, once.

``(-2/L) * C[:, M:].T * (G @ X.T)`` scales the whole ``M x N`` product; the
same value is ``((-2/L) * C[:, M:].T) * (G @ X.T)``, where the number scales a
column of ``M`` entries (and the shared-values pass then makes that column
once for every gradient that needs it). Only a factor that broadcasts (an axis
of size 1 where the product has more) takes the number, never a mask (a
number times a mask can be an integer array). Multiplication commutes, so the
value is the same, up to rounding.

A product none of whose factors broadcasts (``(-2/L) * C[:, M:].T * (G @ ones)``, two
columns) keeps its number, to be applied as one more step on the result, unless one of its
factors times the number is a value the function computes elsewhere anyway (the column
``(-2/L) * C[:, M:].T`` of the gradient above): then the number goes on that factor
(``on_needed_factors``), and the shared-values pass computes that column once for both.

An elementwise product evaluates left to right: ``2*Xc*grad_var/N`` makes three temporaries
of ``Xc``'s shape where ``grad_var`` is a row. ``small_factors_first`` (run on the final
statements) computes the factors that broadcast, all of one smaller shape, with the number
first, as one small value: ``(2*grad_var/N) * Xc``, one pass over the large array. Masks stay
with the large factors (a number times a mask can be an integer array). Where no factor has the
result's shape (an outer product, ``2*Delta*dot_C.T/L``: a row times a column), the numbers go on
one of the broadcast factors instead, and one pass makes the result.
"""
from __future__ import annotations

import sympy as sp

from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import Elementwise, Node, Product, same_shape
from symgrad.lower.passes.entries import part
from symgrad.lower.statements import holding, nodes_of, subnodes_of, with_nodes
from symgrad.model.functions import is_mask


def _smaller(factor: Node, shape) -> bool:
    return not same_shape(factor.shape, shape) and not factor.boolean


def on_smallest_factor(node: Node) -> Node:
    """A product's number moved onto a factor that broadcasts (a node-level rewrite)."""
    if not isinstance(node, Product) or node.coefficient == 1 or len(node.factors) < 2 \
            or is_mask(node.coefficient) or not node.shape:
        return node
    small = [k for k, f in enumerate(node.factors) if f.shape and _smaller(f, node.shape)]
    if not small:
        return node
    k = min(small, key=lambda j: sp.default_sort_key(sum(1 for n in node.factors[j].shape if n != 1)))
    factors = list(node.factors)
    factors[k] = Product(node.coefficient, (factors[k],))
    return Product(sp.Integer(1), tuple(factors))


def on_needed_factors(statements: list) -> list:
    """``statements`` (one function's; None for one left alone) with a product's number put on
    a factor where no factor broadcasts and that factor times the number occurs elsewhere."""
    scaled = {sub for s in statements if s is not None for node in nodes_of(s) for sub in subnodes_of(node, Product)
              if len(sub.factors) == 1 and sub.coefficient != 1}

    def rewrite(node: Node) -> Node:
        if not isinstance(node, Product) or node.coefficient == 1 or len(node.factors) < 2 \
                or is_mask(node.coefficient) or not node.shape \
                or any(not f.shape or _smaller(f, node.shape) for f in node.factors):
            return node
        for k, factor in enumerate(node.factors):
            moved = Product(node.coefficient, (factor,))
            if moved in scaled and not factor.boolean:
                return Product(sp.Integer(1), (*node.factors[:k], moved, *node.factors[k + 1:]))
        return node
    products = holding(Product)
    return [None if s is None else with_nodes(s, rewrite, products) for s in statements]


def small_factors_first(node: Node) -> Node:
    """An elementwise product's number and broadcast factors as one small value, multiplied into
    the large factors once (a node-level rewrite)."""
    if not isinstance(node, Elementwise) or not node.body.is_Mul or node.boolean or not node.shape:
        return node
    coefficient, rest = node.body.as_coeff_Mul()
    small, large = [], []
    for factor in sp.Mul.make_args(rest):
        value = part(node, factor) if atoms_of(factor, sp.Indexed) else None
        if value is None or (value.shape and _smaller(value, node.shape)):
            small.append(factor)
        else:
            large.append(factor)
    arrays = [f for f in small if atoms_of(f, sp.Indexed)]
    shapes = [part(node, f).shape for f in arrays]
    if not large and len(arrays) > 1:
        return _outer_product(node, coefficient, small, arrays)
    if not large or not shapes or any(not same_shape(s, shapes[0]) for s in shapes) \
            or (coefficient == 1 and len(small) < 2):
        return node
    return Product(sp.Integer(1), (part(node, coefficient * sp.Mul(*small)), part(node, sp.Mul(*large))))


def _outer_product(node: Elementwise, coefficient, small: list, arrays: list) -> Node:
    """A product of broadcast factors alone (``2*Delta*dot_C.T/L``: a row times a column, no factor
    of the result's shape) with its numbers on the factor of fewest axes longer than 1, so that
    one pass makes the result: ``Delta * ((2/L) * dot_C.T)``."""
    numbers = [f for f in small if f not in arrays]
    if coefficient == 1 and not numbers:
        return node
    smallest = min(arrays, key=lambda f: (sum(1 for n in part(node, f).shape if n != 1), sp.default_sort_key(f)))
    rest = [f for f in arrays if f is not smallest]
    return Product(sp.Integer(1), (part(node, coefficient * sp.Mul(*numbers) * smallest), part(node, sp.Mul(*rest))))
