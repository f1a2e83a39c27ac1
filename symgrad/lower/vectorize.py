"""Index expression -> IR statements and the matrix view, from one lowering.

A thin front to ``symgrad.lower``: the expression is lowered once to array
nodes; callers get the statements that assign the value (``statements``,
printed by whichever backend's printer at the very end), the nodes
themselves and the same value as LaTeX. The LaTeX (``Lowered.latex``,
``MatrixView.latex``) is printed when first read: only the derivation
documents read it, and generating a module never does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from symgrad.lower.assembly import lower_expression
from symgrad.lower.elementwise_code import print_scalar
from symgrad.lower.latex_printer import LatexArrayPrinter
from symgrad.lower.nodes import Add, Concat, Node
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.statements import Statement, value_statements
from symgrad.index.terms import IndexExpr

__all__ = ["Lowered", "MatrixView", "lower", "lower_both", "matrix_view", "print_scalar"]


@dataclass(frozen=True)
class Lowered:
    """Statements assigning ``target``, and the same value as a LaTeX expression (``latex``).

    ``value`` is the node the statements compute, ``view`` the node the matrix view prints.
    """

    statements: tuple[Statement, ...]
    value: Node
    view: Node

    @cached_property
    def latex(self) -> str:
        """The value as the matrix view writes it, printed at the first reading."""
        return LatexArrayPrinter().doprint(self.view)

    @property
    def lines(self) -> tuple[str, ...]:
        """The statements as NumPy code."""
        return tuple(NumPyPrinter().print_statement(s) for s in self.statements)

    @property
    def tiles(self) -> tuple:
        """(bounds, block) per block when the value stacks blocks along an axis (bounds: per
        axis ``(start, stop)``, or None for the whole axis)."""
        if not isinstance(self.value, Concat):
            return ()
        axis = self.value.axis
        return tuple((tuple(span if k == axis else None for k in range(len(self.value.shape))), block)
                     for span, block in zip(self.value.spans, self.value.blocks))

    @property
    def parts(self) -> tuple:
        """The terms of a plain sum of an array (computed inside an existing array: the block
        of the array it is stacked into, instead of being copied there afterwards)."""
        return self.value.terms if isinstance(self.value, Add) and self.value.shape else ()


def lower(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> list[str]:
    """NumPy statements assigning the array (or scalar) ``target`` its value."""
    return list(lower_both(target, expr, shape, shapes, free).lines)


def lower_both(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> Lowered:
    """The statements and the matrix view of ``target``, from one lowering."""
    lowering = lower_expression(expr, shape, shapes, free)
    return Lowered(tuple(value_statements(target, lowering.code)), lowering.code, lowering.view)


@dataclass(frozen=True, eq=False)
class MatrixView:
    """The matrix view alone of the tensor of ``shape`` whose entries are ``expr`` (``latex``),
    lowered and printed at the first reading (``shapes`` and ``free`` as for ``lower_both``, and
    not changed after)."""

    expr: IndexExpr
    shape: tuple
    shapes: dict
    free: dict

    @cached_property
    def latex(self) -> str:
        return LatexArrayPrinter().doprint(lower_expression(self.expr, self.shape, self.shapes, self.free).view)


def matrix_view(expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> MatrixView:
    """``MatrixView`` of a copy of ``shapes`` and ``free`` as they are now."""
    return MatrixView(expr, tuple(shape), dict(shapes), dict(free))
