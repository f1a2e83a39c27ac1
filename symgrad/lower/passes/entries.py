"""Elementwise bodies in one spelling, so that equal values are equal nodes.

The lowering names the entries of an ``Elementwise`` body by the index
labels of the term it came from (``Y[a1, a2]`` in one statement, ``Y[i9, i10]``
in the next), so two nodes computing the same array differ. Each entry is
renamed by the node it stands for: ``Y[k]``, ``k`` its place among the body's
distinct operand nodes in a fixed order. Entries standing for the same node
are the same entry of a pointwise body (the node fixes where it is read), so
the renaming keeps every value, and printers print entries through their
operand nodes, never through the names.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symgrad.index.rebuild import replaced
from symgrad.index.terms import atoms_of, read_name
from symgrad.lower.nodes import Elementwise, Node, node_repr


@lru_cache(maxsize=1 << 14)
def canonical(node: Elementwise) -> Elementwise:
    """``node`` with its entries named by their operand nodes (remembered: a pure function of an
    immutable node, asked again of the same bodies by every pass and every rebuild)."""
    order = sorted({operand for _, operand in node.operands}, key=node_repr)
    entry = {operand: _entry(read_name(access), order.index(operand)) for access, operand in node.operands}
    renamed = {access: entry[operand] for access, operand in node.operands}
    operands = tuple(sorted({(entry[o], o) for o in order}, key=lambda pair: order.index(pair[1])))
    return Elementwise(replaced(node.body, renamed), operands)


@lru_cache(maxsize=1 << 14)
def _entry(base: str, place: int) -> sp.Indexed:
    """``base[place]``, built once (each new ``Indexed`` deduces its assumptions anew)."""
    return sp.IndexedBase(base)[place]


def part(node: Elementwise, expr: sp.Expr) -> Elementwise:
    """The elementwise value of ``expr``, a part of ``node``'s body, in the one spelling."""
    accesses = atoms_of(expr, sp.Indexed)
    return canonical(Elementwise(expr, tuple((a, o) for a, o in node.operands if a in accesses)))


def in_one_spelling(node: Node) -> Node:
    """``node`` with its elementwise body in the one spelling (a node-level rewrite)."""
    return canonical(node) if isinstance(node, Elementwise) else node
