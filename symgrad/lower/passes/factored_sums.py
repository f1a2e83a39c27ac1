"""Factored sums: matrix products of one operand with different partners, as one product.

``grad_D = P.T @ D + P @ D`` is two products of ``D``'s size and an addition; the same value is
``(P.T + P) @ D``: one product, ``A @ C + B @ C = (A + B) @ C``, and on the other side
``C @ A + C @ B = C @ (A + B)``. Likewise ``-s * (A @ C) - s * (B @ C)``, the same factors
around products with the same operand, is ``-s * ((A + B) @ C)``: one product and one
multiplication by ``s`` instead of two of each. The partners are added where the products were:
an addition of the partners' size for a whole matrix product, fewer calls at every size and
less arithmetic. Partners of different shapes (a broadcast) are left apart.

Not for axis sums (a product with a vector of ones): there the addition costs what the product
it saves does, and the partners are usually computed products, whose sum holds two large
temporaries at once where the separate sums held one: measured at layer_norm's medium size,
``(a*b + c*d) @ ones`` made hvp() 16% slower (fresh pages), though a call fewer at small sizes.

Terms merge when everything but the partner and the number is equal: the shared operand and
the factors around the product. The number of the most terms stays outside; another term's
partner is scaled by the ratio of the numbers inside the sum (a term of the opposite sign is
subtracted): ``X.T @ G - 1/n * X.T @ Y`` is ``X.T @ (G - Y/n)``, one product and one
elementwise pass over the partners, which the buffers pass evaluates as one chain, in place of
a second product, its scaling and the addition of the two results. Products are linear, so the
value is the same, up to rounding. A product that the function computes in more than one place
is left alone: the shared-values pass computes it once, and merging it into one sum would make
it computed twice.
"""
from __future__ import annotations

from collections import Counter

import sympy as sp

from symgrad.lower.nodes import Add, MatMul, Node, Ones, Product, same_shape
from symgrad.lower.statements import holding, nodes_of, subnodes_of, with_nodes


def factored_sums(statements: list) -> list:
    """``statements`` (one function's; None for one left alone) with the terms of every sum that
    multiply one operand with different partners merged into one product."""
    counts = Counter(sub for s in statements if s is not None for node in nodes_of(s)
                     for sub in subnodes_of(node, MatMul))

    def rewrite(node: Node) -> Node:
        return _factored(node, counts) if isinstance(node, Add) and len(node.terms) > 1 else node
    sums = holding(Add)
    return [None if s is None else with_nodes(s, rewrite, sums) for s in statements]


def _split(term: Node, counts: Counter):
    """(number, factors around the product, the product) of a term with exactly one matrix
    product computed nowhere else, or None."""
    if not isinstance(term, Product):
        return None
    found = [k for k, f in enumerate(term.factors) if isinstance(f, MatMul)]
    if len(found) != 1 or counts[term.factors[found[0]]] > 1:
        return None
    k = found[0]
    return term.coefficient, term.factors[:k] + term.factors[k + 1:], term.factors[k]


def _reference(coefficients: list) -> sp.Expr:
    """The number left outside the merged product: the one that the most terms carry up to their
    sign (the first of those), so that the fewest partners are scaled inside the sum."""
    def unscaled(c):
        return sum(ratio in (1, -1) for ratio in (other / c for other in coefficients))
    return max(coefficients, key=unscaled)


def _scaled(node: Node, ratio: sp.Expr) -> Node:
    """``ratio * node``, the number on the node's own product where it has one. The merged sum
    puts the scaled partners first: a sum evaluated into a buffer starts from its first term that
    can be, so that the scaling is a step in the buffer (``np.multiply(Y, -1/n, out=t)``, then
    ``t += G``), never a temporary of its own."""
    if ratio == 1:
        return node
    if isinstance(node, Product):
        return Product(ratio * node.coefficient, node.factors)
    return Product(ratio, (node,))


def _factored(total: Add, counts: Counter) -> Node:
    """``total`` with its largest group of mergeable terms merged, again until none is left."""
    terms = list(total.terms)
    while True:
        groups: dict = {}
        for k, term in enumerate(terms):
            split = _split(term, counts)
            if split is None:
                continue
            coefficient, around, product = split
            key = tuple(sorted(around, key=repr))       # the factors around, in any order
            groups.setdefault(("left", product.left, key), []).append((k, coefficient, around, product.right))
            groups.setdefault(("right", product.right, key), []).append((k, coefficient, around, product.left))
        best = None
        for (side, kept, _), members in groups.items():
            if isinstance(kept, Ones):     # an axis sum: see the module's docstring
                continue
            _, _, around, first_partner = members[0]
            fitting = [(k, coefficient, partner) for k, coefficient, _, partner in members
                       if same_shape(partner.shape, first_partner.shape)]
            if len(fitting) > 1 and (best is None or len(fitting) > len(best[-1])):
                best = (side, kept, around, fitting)
        if best is None:
            return Add(tuple(terms)) if len(terms) != len(total.terms) else total
        side, kept, around, fitting = best
        reference = _reference([coefficient for _, coefficient, _ in fitting])
        ratios = [(coefficient / reference, partner) for _, coefficient, partner in fitting]
        ratios.sort(key=lambda pair: pair[0] in (1, -1))    # a scaled partner first: see _scaled
        partners = Add(tuple(_scaled(partner, ratio) for ratio, partner in ratios))
        merged = MatMul(kept, partners) if side == "left" else MatMul(partners, kept)
        place = {k for k, _, _ in fitting}
        first = min(place)
        terms = [Product(reference, (*around, merged)) if k == first else term
                 for k, term in enumerate(terms) if k == first or k not in place]
