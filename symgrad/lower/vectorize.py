"""Index expression -> IR statements and the matrix view, from one lowering.

A thin front to ``symgrad.lower``: the expression is lowered once to array
nodes; callers get the statements that assign the value (``statements``,
printed by whichever backend's printer at the very end), the nodes
themselves and the same value as LaTeX.
"""
from __future__ import annotations

from dataclasses import dataclass

from symgrad.lower.assembly import lower_expression
from symgrad.lower.elementwise_code import print_scalar
from symgrad.lower.latex_printer import LatexArrayPrinter
from symgrad.lower.nodes import Add, Concat, Node
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.statements import Statement, value_statements
from symgrad.index.terms import IndexExpr

__all__ = ["Lowered", "lower", "lower_both", "print_scalar"]


@dataclass(frozen=True)
class Lowered:
    """Statements assigning ``target``, and the same value as a LaTeX expression.

    ``value`` is the node the statements compute.
    """

    statements: tuple[Statement, ...]
    latex: str
    value: Node

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
    return Lowered(tuple(value_statements(target, lowering.code)), LatexArrayPrinter().doprint(lowering.view),
                   lowering.code)
