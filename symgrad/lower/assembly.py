r"""A whole collapsed index expression -> the array node of the tensor it defines.

The terms without conditions are added (``Add``); the unsummed ones among
them are merged into one elementwise expression for the code (one pass,
``2*(yhat - y)``), while the matrix view keeps them as derived. A sum that
does not span every output axis is broadcast to the tensor's shape; a 1 x 1
tensor is reshaped from its number.

A term restricted to a block of rows or columns (``[M <= k <= 2M - 1]``)
writes that block: the blocks are concatenated (``Concat``) when they alone
tile an axis, and otherwise added into a zeroed array or into the sum of the
other terms (``BlockSum``). A term ``delta(p, q) * f`` over the two output axes (the adjoint of a
diagonal or a trace) is ``f`` written into the diagonal (a ``DiagonalWrite`` of ``f[p]``). A term
``delta(j, a) * f`` that pins an output index to an entry ``a`` (an index typed as a number,
``G[i, 0]``, whose adjoint is nonzero in column 0 alone) is the block ``[a <= j <= a]`` of
``f`` with ``j = a``: the same term, its delta read as the condition it is. No dense ``diag``
and no Jacobian is ever formed.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symgrad.index.deltas import term_ranges
from symgrad.errors import LoweringError
from symgrad.index.terms import IndexExpr, Term, index_symbols, linear_form
from symgrad.lower.lowering import lower_term
from symgrad.lower.nodes import (Add, BlockSum, BlockWrite, BroadcastTo, Concat, DiagonalWrite, Node, Reshape, Zeros, same_shape)
from symgrad.lower.placement import same


@dataclass(frozen=True)
class Lowering:
    """The value of a tensor as array nodes: ``code`` is what the generated statements compute,
    ``view`` the same value as the matrix view shows it (its unsummed terms kept apart)."""

    code: Node
    view: Node


def lower_expression(expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> Lowering:
    """The array nodes of the tensor of ``shape`` whose entries are ``expr``.

    ``shapes`` gives every tensor's shape, ``free`` the range of each free index.
    """
    frame, shape = tuple(i if i != 0 else None for i in expr.indices), tuple(shape)
    if not expr.terms:
        return Lowering(Zeros(shape), Zeros(shape))
    all_terms = [_pinned(t, frame) for t in expr.terms]
    on_diagonal = [t for t in all_terms if _off_diagonal_delta(t, frame) is not None]
    terms = [t for t in all_terms if t not in on_diagonal]
    full = [t for t in terms if not t.conditions]
    blocked = [t for t in terms if t.conditions]
    if on_diagonal:
        writes = tuple(_block(t, frame, free, shapes, shape) for t in blocked)
        writes += (_diagonal_write(on_diagonal, frame, free, shapes),)
        if not full:
            return Lowering(BlockSum(None, writes, shape), BlockSum(None, writes, shape))
        code, view = _sum(full, frame, shape, shapes, free, blocked=True)
        return Lowering(BlockSum(code, writes, shape), BlockSum(view, writes, shape))
    if not blocked:
        code, view = _sum(full, frame, shape, shapes, free, blocked=False)
        return Lowering(_checked(code, shape), view)
    writes = tuple(_block(t, frame, free, shapes, shape) for t in blocked)
    if not full:
        tiling = _tiling(writes, shape)
        if tiling is not None:
            axis, ordered = tiling
            spans = tuple(w.bounds[axis] for w in ordered)
            concat = Concat(tuple(w.value for w in ordered), spans, axis, shape)
            return Lowering(concat, concat)
        return Lowering(BlockSum(None, writes, shape), BlockSum(None, writes, shape))
    code, view = _sum(full, frame, shape, shapes, free, blocked=True)
    return Lowering(BlockSum(code, writes, shape), BlockSum(view, writes, shape))


def _sum(terms, frame, shape, shapes, free, blocked: bool):
    """(code, view) of the sum of the unconditioned terms."""
    view_terms = {t: lower_term(t, frame, free, shapes) for t in terms}
    view = Add(tuple(view_terms[t] for t in terms))
    # the code's terms are the view's, but for the unsummed ones merged into one: lowered once
    code = Add(tuple(view_terms[t] if t in view_terms else lower_term(t, frame, free, shapes)
                     for t in _merged_pointwise(terms)))
    return _fitted(code, frame, shape, blocked), view


def _checked(code: Node, shape) -> Node:
    """``code``, once its shape is the tensor's (an index range that does not match its axis
    would otherwise give an array of the wrong shape, silently)."""
    if not same_shape(code.shape, tuple(shape)):
        raise LoweringError(f"the lowered value has shape {code.shape}, not the tensor's {tuple(shape)}")
    return code


def _merged_pointwise(terms: list[Term]) -> list[Term]:
    """The unsummed terms as one: the code computes them in one elementwise expression."""
    pointwise = [t for t in terms if not t.bound]
    if len(pointwise) < 2:
        return terms
    return [t for t in terms if t.bound] + [Term(sp.Add(*(t.factor for t in pointwise)))]


def _fitted(total: Add, frame, shape: tuple, blocked: bool) -> Node:
    """``total`` as an array of ``shape``: a 1 x 1 tensor from its number, and broadcast where
    the sum does not span every axis or where blocks are added into it."""
    if shape and all(label is None for label in frame):
        return Reshape(total, shape)
    if shape and (blocked or not same_shape(total.shape, shape)):
        return BroadcastTo(total, shape)
    return total


def _block(term: Term, frame, free, shapes, shape) -> BlockWrite:
    ranges = term_ranges(Term(sp.Integer(1), (), term.conditions), free)
    for e, lo, hi in term.conditions:
        if not (set(index_symbols(e)) <= set(frame)):
            raise LoweringError(f"condition {lo} <= {e} <= {hi} is not a block of the output")
    bounds = tuple(None if label is None else (ranges[label][0], ranges[label][1] + 1) for label in frame)
    value = lower_term(Term(term.factor, term.bound, ()), frame,
                       {**free, **{k: v for k, v in ranges.items() if k in free}}, shapes)
    block_shape = tuple(sp.Integer(1) if b is None else sp.expand(b[1] - b[0]) for b in bounds)
    if not same_shape(value.shape, block_shape):
        value = BroadcastTo(value, block_shape, copy=False)
    return BlockWrite(bounds, value)


def _pinned(term: Term, frame) -> Term:
    """``term`` with each ``delta(j, a)`` between an output index ``j`` and an expression ``a``
    of no index read as the condition ``a <= j <= a``, ``j`` set to ``a`` in the factor."""
    labels = {label for label in frame if label is not None}
    for factor in sp.Mul.make_args(term.factor):
        if not isinstance(factor, sp.KroneckerDelta):
            continue
        difference = sp.expand(factor.args[0] - factor.args[1])
        form = linear_form(difference, labels)
        if form is None or index_symbols(form[0]) or len(form[1]) != 1:
            continue
        (label, coefficient), = form[1].items()
        if coefficient not in (1, -1):
            continue
        value = sp.expand(-form[0] / coefficient)
        pinned = Term(term.factor.xreplace({factor: sp.Integer(1)}).xreplace({label: value}), term.bound,
                      tuple((e.xreplace({label: value}), lo, hi) for e, lo, hi in term.conditions)
                      + ((label, value, value),))
        return _pinned(pinned, frame)
    return term


def _off_diagonal_delta(term: Term, frame):
    """The ``delta(p, q)`` between the two output axes that ``term`` is a multiple of, or None."""
    if len(frame) != 2 or None in frame:
        return None
    for factor in sp.Mul.make_args(term.factor):
        if isinstance(factor, sp.KroneckerDelta) and set(factor.args) == set(frame):
            return factor
    return None


def _diagonal_write(terms, frame, free, shapes) -> DiagonalWrite:
    """The terms ``delta(p, q) * f[p, q]`` as ``f[p, p]``, a column written into the diagonal."""
    row, col = frame
    rest = []
    for term in terms:
        if term.conditions:
            raise LoweringError(f"a value on the diagonal restricted to a block: {term.factor}")
        factor = term.factor.xreplace({_off_diagonal_delta(term, frame): sp.Integer(1)}).xreplace({col: row})
        rest.append(Term(factor, term.bound))
    value = Add(tuple(lower_term(t, (row, None), free, shapes) for t in _merged_pointwise(rest)))
    return DiagonalWrite(value)


def _whole(bound, size) -> bool:
    return bound is None or (same(bound[0], 0) and same(bound[1], size))


def _tiling(writes, shape):
    """(axis, writes in order) when the blocks stack along one axis and cover it exactly."""
    for axis in range(len(shape)):
        if any(not _whole(w.bounds[1 - axis], shape[1 - axis]) for w in writes):
            continue
        if any(w.bounds[axis] is None for w in writes):
            continue
        remaining = sorted(writes, key=lambda w: sp.default_sort_key(w.bounds[axis][0]))
        ordered, position = [], sp.Integer(0)
        while remaining:
            following = [w for w in remaining if same(w.bounds[axis][0], position)]
            if not following:
                return None
            remaining.remove(following[0])
            ordered.append(following[0])
            position = following[0].bounds[axis][1]
        if same(position, shape[axis]):
            return axis, ordered
    return None
