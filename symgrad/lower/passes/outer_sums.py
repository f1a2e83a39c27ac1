"""Sums of outer products of vectors as one matrix product: ``a b^T + c d^T`` -> ``[a c] @ [b d]^T``.

A dense layer's Hessian-vector product for one sample is such a sum:
``dot_grad_W2[i, j] = dot_grad_s2[i, 0]*z1[j, 0] + grad_s2[i, 0]*dot_z1[j, 0]``. Printed
entrywise it is an outer product into the result, a second one into a temporary of the result's
size, and their sum: three passes over an (m, n) array and one more of its size. The same
values are the product of the k columns side by side, (m, k), with the k rows stacked, (k, n):
BLAS writes the result once, and the copies are of vectors. hw1_sigmoid_mse's ``hvp()`` at
dx=256, ds=512, dy=128 spends about a quarter of its time in that sum.

Only an elementwise value of two axes neither of which is 1, whose body is a sum of two or more
terms, each a number (or scalar symbols) times exactly one entry of a column, (m, 1), and one of
a row, (1, n). A term's number goes on its column. The value is the same sum of products,
added in another order (rounding in the last bits).
"""
from __future__ import annotations

import sympy as sp

from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import Concat, Elementwise, MatMul, Node, Product
from symgrad.lower.passes.entries import part


def _column_and_row(node: Elementwise, term: sp.Expr, rows, cols):
    """(number, column node, row node) of one term ``number * column[i, 0] * row[0, j]``, or None."""
    entries = [f for f in sp.Mul.make_args(term) if atoms_of(f, sp.Indexed)]
    if len(entries) != 2 or not all(isinstance(e, sp.Indexed) for e in entries):
        return None
    number = sp.Mul(*(f for f in sp.Mul.make_args(term) if not atoms_of(f, sp.Indexed)))
    shaped = {tuple(node.operand(e).shape): e for e in entries}
    column, row = shaped.get((rows, sp.Integer(1))), shaped.get((sp.Integer(1), cols))
    if column is None or row is None or len(shaped) != 2:
        return None
    return number, part(node, column), part(node, row)


def as_outer_product_sum(node: Node) -> Node:
    """``node`` as a matrix product of stacked columns and rows where it is a sum of outer
    products of vectors (a node-level rewrite); anything else unchanged."""
    if not isinstance(node, Elementwise) or node.boolean or len(node.shape) != 2:
        return node
    rows, cols = node.shape
    if sp.Integer(1) in (rows, cols) or not isinstance(node.body, sp.Add):
        return node
    terms = [_column_and_row(node, term, rows, cols) for term in sp.Add.make_args(node.body)]
    if len(terms) < 2 or any(t is None for t in terms):
        return node
    k = len(terms)
    columns = tuple(column if number == 1 else Product(number, (column,)) for number, column, _ in terms)
    stacked_rows = tuple(row for _, _, row in terms)
    spans = tuple((sp.Integer(j), sp.Integer(j + 1)) for j in range(k))
    return MatMul(Concat(columns, spans, 1, (rows, sp.Integer(k))),
                  Concat(stacked_rows, spans, 0, (sp.Integer(k), cols)))
