"""Index expression -> NumPy statements and the matrix view, from one lowering.

A thin front to ``symgrad.lower``: the expression is lowered once to array
nodes, and the nodes are printed as NumPy statements and as LaTeX. Callers
get the printed text and the nodes themselves (for passes that need shapes).
"""
from __future__ import annotations

from dataclasses import dataclass

from symgrad.lower.assembly import lower_expression
from symgrad.lower.elementwise_code import print_scalar
from symgrad.lower.latex_printer import LatexArrayPrinter
from symgrad.lower.nodes import Add, Concat, Node
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.index.terms import IndexExpr

__all__ = ["Lowered", "lower", "lower_both", "print_scalar"]


@dataclass(frozen=True)
class Lowered:
    """Statements assigning ``target``, and the same value as a LaTeX expression.

    ``value`` is the node the statements compute. ``tiles`` lists (slice, code) when the value
    stacks blocks along an axis; ``parts`` the terms of a plain sum, so that ``into`` can compute
    it inside an existing array (a block of the array it is stacked into) instead of copying it
    there afterwards.
    """

    lines: tuple[str, ...]
    latex: str
    value: Node
    tiles: tuple = ()
    parts: tuple = ()

    def into(self, view: str) -> list[str]:
        """Statements computing this value into the existing array ``view``."""
        return NumPyPrinter().statements_into(view, Add(self.parts))


def lower(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> list[str]:
    """Statements assigning the array (or scalar) ``target`` its value."""
    return list(lower_both(target, expr, shape, shapes, free).lines)


def lower_both(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict,
               printer: NumPyPrinter | None = None) -> Lowered:
    """The statements and the matrix view of ``target``, from one lowering; ``printer`` spells
    the statements (NumPy unless given: another backend's printer over the same nodes)."""
    lowering = lower_expression(expr, shape, shapes, free)
    printer, code = printer or NumPyPrinter(), lowering.code
    tiles = printer.tiles(code) if isinstance(code, Concat) else ()
    parts = code.terms if isinstance(code, Add) and shape else ()
    return Lowered(tuple(printer.statements(target, code)), LatexArrayPrinter().doprint(lowering.view),
                   code, tiles, parts)
