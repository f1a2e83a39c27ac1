r"""One term of a collapsed index expression -> array nodes, in the frame of its output axes.

The frame gives one label (index symbol) or None per output axis; an axis
the term does not span keeps size 1 and broadcasts. The decisions:

* every factor that mentions no index is part of the scalar coefficient;
  every other factor is an ``Elementwise`` node over its placed entries;
* a term with no summed index is a broadcasting ``Product``;
* a sum over one index ``c`` splits the factors that mention ``c`` into a
  left side (indices ``(row, c)``) and a right side (``(c, col)``): both sides
  give a matrix product (an inner product when the output is a scalar), one
  side an axis sum (a full sum, or a squared norm for ``x[c]**2``, when the
  output is a scalar; a trace for ``A[c, c]``); factors without ``c`` multiply the result;
* a scalar that sums a product over two indices, every factor indexed by both,
  is a full sum (a squared norm for ``X[a, b]**2``); with a factor indexed by one
  of them (``y[c] X[c, k] w[k]``) it is an einsum, whose contraction is matrix products;
* anything else is an ``Einsum``; a factor spanning three or more indices is
  a ``LoweringError``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symgrad.errors import LoweringError
from symgrad.index.terms import Term, atoms_of, common_product, free_symbols_of, sort_key
from symgrad.lower.nodes import (AxisSum, Diagonal, Einsum, Elementwise, MatMul, Node, Product, SquaredNorm, SumAll, Trace, VDot)
from symgrad.lower.placement import Frame, place

EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyz"
ONE = sp.Integer(1)


def labels_of(expr: sp.Expr, ranges: dict) -> frozenset:
    """The index symbols of ``expr`` that range over an axis here."""
    return _index_like(expr).intersection(ranges)


@lru_cache(maxsize=1 << 14)
def _index_like(expr: sp.Expr) -> frozenset:
    """The integer, not positive symbols of ``expr`` (remembered: a term's factors are asked
    again for every decision below, and each asking walks the whole factor)."""
    return frozenset(s for s in free_symbols_of(expr) if isinstance(s, sp.Symbol) and s.is_integer and not s.is_positive)


@lru_cache(maxsize=1 << 12)
def _size(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    return sp.expand(hi - lo + 1)


def frame_shape(frame: Frame, labels, ranges: dict) -> tuple:
    """The shape, in ``frame``, of a value that spans the axes of ``labels``."""
    return tuple(_size(*ranges[label]) if label is not None and label in labels
                 else sp.Integer(1) for label in frame)


def elementwise(factor: sp.Expr, frame: Frame, ranges: dict, shapes: dict) -> Elementwise:
    """A pointwise factor, each of its entries placed in ``frame``."""
    deltas = atoms_of(factor, sp.KroneckerDelta)
    if deltas:
        raise LoweringError(f"a Kronecker delta between free indices is left in {min(deltas, key=str)}: "
                            "that is a Jacobian, which symgrad never materializes")
    accesses = sorted(atoms_of(factor, sp.Indexed), key=sort_key)
    operands = tuple((access, place(access, frame, ranges, shapes)) for access in accesses)
    return Elementwise(factor, operands)


def pointwise(factors, frame: Frame, ranges: dict, shapes: dict) -> list[Elementwise]:
    """The factors as nodes, those indexed by fewer axes first (a product in that order
    broadcasts the small operands into the large one once)."""
    ordered = sorted(factors, key=lambda f: len(labels_of(f, ranges)))
    return [elementwise(f, frame, ranges, shapes) for f in ordered]


def lower_term(term: Term, frame: Frame, ranges: dict, shapes: dict) -> Product:
    """One term as an array expression in ``frame`` (which may broadcast)."""
    ranges = {**ranges, **{s: (lo, hi) for s, lo, hi in term.bound}}
    coefficient, arrays = _coefficient_and_arrays(term.factor, ranges)
    bound = list(term.bound_symbols)
    if not bound:
        return Product(coefficient, tuple(pointwise(arrays, frame, ranges, shapes)))
    if len(bound) == 1:
        sides = _sides(arrays, bound[0], frame, ranges)
        if sides is not None:
            outer, left, right = sides
            core = _contraction(left, right, bound[0], frame, ranges, shapes)
            return Product(coefficient, (*pointwise(outer, frame, ranges, shapes), core))
    scalar_out = all(label is None for label in frame)
    if scalar_out and len(bound) == 2 and all(labels_of(a, ranges) == set(bound) for a in arrays):
        return Product(coefficient, (_full_sum(arrays, tuple(bound), ranges, shapes),))
    return Product(coefficient, (_einsum(arrays, bound, frame, ranges, shapes),))


def _coefficient_and_arrays(factor: sp.Expr, ranges: dict):
    args = _separated(sp.Mul.make_args(factor), ranges)
    scalars = [a for a in args if not labels_of(a, ranges) and not atoms_of(a, sp.Indexed)]
    return sp.Mul(*scalars), [a for a in args if a not in scalars]


def _separated(args, ranges) -> list:
    """Factors spanning more than two indices split where they factor: SymPy may have merged
    1/C1[a, b] * 1/(1 + P0[b, c]**2) into 1/(C1[a, b]*P0[b, c]**2 + C1[a, b]), which no matrix
    operation computes (found by fuzzing)."""
    out = []
    for arg in args:
        out.extend(sp.Mul.make_args(common_product(arg)) if len(labels_of(arg, ranges)) > 2 else (arg,))
    return out


def _sides(arrays, c, frame, ranges):
    """(outer, left, right) for a sum over ``c``: the factors without ``c``, those indexed
    ``(row, c)`` and those indexed ``(c, col)``; None when some factor fits neither side."""
    row, col = frame if len(frame) == 2 else (None, None)
    outer, left, right = [], [], []
    for a in arrays:
        labels = labels_of(a, ranges)
        if c not in labels:
            outer.append(a)
        elif labels <= {row, c}:
            left.append(a)
        elif labels <= {c, col}:
            right.append(a)
        else:
            return None
    return (outer, *_balanced(left, right, c, ranges))


def _balanced(left, right, c, ranges):
    """With one side empty, the factors indexed by ``c`` alone make the other side:
    ``W[i, c] x[c]`` is a matrix-vector product, not an axis sum of a product."""
    only_c = [a for a in left + right if labels_of(a, ranges) == {c}]
    if not right and len(left) > len(only_c) > 0:
        return [a for a in left if a not in only_c], only_c
    if not left and len(right) > len(only_c) > 0:
        return only_c, [a for a in right if a not in only_c]
    return left, right


def _is_square_of_entry(factors) -> bool:
    return len(factors) == 1 and isinstance(factors[0], sp.Pow) and factors[0].exp == 2 \
        and isinstance(factors[0].base, sp.Indexed)


def _contraction(left, right, c, frame, ranges, shapes) -> Node:
    """The sum over ``c`` of the product of both sides (either may be empty)."""
    row, col = frame if len(frame) == 2 else (None, None)
    left_frame, right_frame = (row, c), (c, col)
    lhs = Product(ONE, tuple(pointwise(left, left_frame, ranges, shapes)))
    rhs = Product(ONE, tuple(pointwise(right, right_frame, ranges, shapes)))
    scalar_out = row is None and col is None
    if left and right:
        return VDot(lhs, rhs) if scalar_out else MatMul(lhs, rhs)
    side, side_frame, node = (left, left_frame, lhs) if left else (right, right_frame, rhs)
    if not scalar_out:
        return AxisSum(node, axis=1 if left else 0)
    if _is_square_of_entry(side):
        return SquaredNorm(place(side[0].base, side_frame, ranges, shapes))
    if len(side) == 1 and isinstance(side[0], sp.Indexed):
        entry = place(side[0], side_frame, ranges, shapes)
        if isinstance(entry, Diagonal):      # sum_c A[c, c]
            return Trace(entry.base)
    return SumAll(node)


def _full_sum(arrays, bound: tuple, ranges, shapes) -> Node:
    if _is_square_of_entry(arrays):
        return SquaredNorm(place(arrays[0].base, bound, ranges, shapes))
    return SumAll(Product(ONE, tuple(pointwise(arrays, bound, ranges, shapes))))


def _einsum(arrays, bound, frame, ranges, shapes) -> Einsum:
    letters = {}
    for label in [l for l in frame if l is not None] + list(bound):
        letters[label] = EINSUM_LETTERS[len(letters)]
    inputs = []
    for arg in arrays:
        labels = sorted(labels_of(arg, ranges), key=list(letters).index)
        if len(labels) > 2:
            raise LoweringError(f"factor {arg} spans {len(labels)} indices: not vectorizable")
        sub_frame = tuple(labels) + (None,) * (2 - len(labels))
        inputs.append(("".join(letters[l] for l in labels), elementwise(arg, sub_frame, ranges, shapes)))
    used = frozenset().union(*(labels_of(a, ranges) for a in arrays))
    present = [l for l in frame if l is not None and l in used]   # an index nothing mentions broadcasts
    return Einsum(tuple(inputs), "".join(letters[l] for l in present), frame_shape(frame, present, ranges))
