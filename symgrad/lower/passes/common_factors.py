"""Common factors: the terms of an elementwise sum that share factors are grouped around them.

The chain rule gives expanded sums: the focal loss's ``dL/dP`` is
``1.5*P*s - 1.5*P*Y*s - 0.5*(1 - P)*t*Y``, each term a pass per factor over the array.
Grouped, ``P*s*1.5*(1 - Y) - 0.5*(1 - P)*t*Y``, ``P`` and ``s`` are multiplied in once. The
printers already take out a factor common to *every* term (``2*(yhat - y)``); this finds the
factors that only some terms share, greedily: the group of terms whose shared factors save the
most products (its size less one, times how many it shares) is written ``shared * (the sum of
the rest of each term)``, the inner sum grouped the same way (and where the other terms hold a
multiple of that sum, ``t*(a + b) - a - b``, it is taken in: ``(t - 1)*(a + b)``), and the search
repeats over the terms left and the new one, until no two terms share a factor. Each round leaves fewer terms,
so it ends. The value is the same sum, up to rounding (a product distributed over a sum).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import Elementwise, Node


def _factors(term: sp.Expr) -> dict:
    """The factors of ``term`` other than its number, each base with its power: ``{base: exponent}``
    (``s**2*z`` is ``{s: 2, z: 1}``, so it shares ``s`` with ``s*z``)."""
    factors: dict = {}
    for factor in sp.Mul.make_args(term):
        if factor.is_Number:
            continue
        base, exponent = factor.as_base_exp()
        if not (exponent.is_Integer and exponent > 0):
            base, exponent = factor, 1
        factors[base] = factors.get(base, 0) + int(exponent)
    return factors


def _best_group(terms: tuple):
    """(the terms of the group, the factors they share as ``{base: exponent}``) saving the most
    products, or None."""
    factors = [_factors(t) for t in terms]
    candidates = sorted({f for fs in factors for f in fs if atoms_of(f, sp.Indexed)}, key=sp.default_sort_key)
    best, best_key = None, None
    for candidate in candidates:
        members = [k for k, fs in enumerate(factors) if candidate in fs]
        if len(members) < 2:
            continue
        shared = {b: min(factors[k][b] for k in members)
                  for b in factors[members[0]] if all(b in factors[k] for k in members)}
        key = ((len(members) - 1) * len(shared), len(members))
        if best_key is None or key > best_key:
            best, best_key = (members, shared), key
    return best


def _multiple_among(inner: sp.Expr, terms: list):
    """A number ``c`` such that ``c`` times every term of the sum ``inner`` is among ``terms``."""
    if not inner.is_Add:
        return None
    first, present = inner.args[0], set(terms)
    for term in terms:
        number = term / first
        if number.is_Number and all(number * a in present for a in inner.args):
            return number
    return None


@lru_cache(maxsize=1 << 12)
def grouped(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the terms of its top-level sum grouped around their shared factors."""
    if not expr.is_Add:
        return expr
    terms = expr.args
    while True:
        found = _best_group(terms)
        if found is None:
            return sp.Add(*terms)
        members, shared = found
        factor = sp.Mul(*(b ** shared[b] for b in sorted(shared, key=sp.default_sort_key)))
        inner = grouped(sp.Add(*(terms[k] / factor for k in members)))
        rest = [t for k, t in enumerate(terms) if k not in members]
        number = _multiple_among(inner, rest)
        if number is not None:      # t2*(-a - b) + a + b: (t2 - 1)*(-a - b)
            taken = {number * a for a in inner.args}
            rest, factor = [t for t in rest if t not in taken], factor + number
        terms = (*rest, factor * inner)


def with_common_factors(node: Node) -> Node:
    """An elementwise node with its sum grouped around shared factors (a node-level rewrite)."""
    if not isinstance(node, Elementwise) or not node.body.is_Add:
        return node
    body = grouped(node.body)
    return node if body == node.body else Elementwise(body, node.operands)
