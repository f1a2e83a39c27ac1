"""Operations on a square matrix as a whole: ``trace``, ``diagonal``.

``trace(A)`` is the scalar ``sum_k A[k, k]`` and ``diagonal(A)`` the column ``D[i, 0] = A[i, i]``
(shape ``(n, 1)``), both plain index notation with a repeated index of a named tensor (an
argument that is not one is named first). Their derivatives come out of
``sympy.diff`` as Kronecker deltas between the two indices of the entry
(``d A[k, k] / d A[p, q] = delta(k, p) delta(k, q)``), which collapse to an adjoint written on the
diagonal, ``grad_A[p, q] = v[p] delta(p, q)``: the lowering writes ``v`` into the diagonal of the
array (``np.diag_indices``), never a dense ``diag`` in a product.
"""
from __future__ import annotations

import sympy as sp

from symgrad.model.dsl import Tensor, TensorExpr, bound_terms, as_tensor, same_size, show_shape
from symgrad.errors import ShapeError


def square_matrix(op: str, a: TensorExpr) -> sp.Expr:
    if len(a.shape) != 2 or not same_size(a.shape[0], a.shape[1]):
        raise ShapeError(f"operation '{op}': needs a square matrix, got shape {show_shape(a.shape)}")
    return a.shape[0]


def _named(a: TensorExpr, ctx):
    """The argument as a named tensor: its diagonal is then one ``np.diagonal`` (that of a
    concatenation would run through several blocks, at offsets)."""
    return a if isinstance(a, Tensor) else ctx.hoist(a)


class Trace(TensorExpr):
    """``sum_k A[k, k]``: a scalar."""

    def __init__(self, a: TensorExpr):
        self.size, self.a, self.shape = square_matrix("trace", a), a, ()

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        a = _named(self.a, ctx)
        k = ctx.space.fresh(self.size)
        return bound_terms(a.build((k, k), ctx), k, self.size)


class Diagonal(TensorExpr):
    """``D[i, 0] = A[i, i]``: the diagonal of a square matrix as a column ``(n, 1)``."""

    def __init__(self, a: TensorExpr):
        size = square_matrix("diagonal", a)
        self.a, self.shape = a, (size, sp.Integer(1))

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        a = _named(self.a, ctx)
        i = indices[0]
        return a.build((i, i), ctx)


def trace(a) -> Trace:
    """The trace ``sum_k A[k, k]`` of a square matrix (``np.trace``)."""
    return Trace(as_tensor(a))


def diagonal(a) -> Diagonal:
    """The diagonal of a square matrix as a column ``(n, 1)``: ``D[i, 0] = A[i, i]`` (``np.diagonal``)."""
    return Diagonal(as_tensor(a))
