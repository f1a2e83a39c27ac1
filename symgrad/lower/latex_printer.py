r"""Array nodes -> the matrix view in LaTeX: one ``_print_<Node>`` method per node type.

The same nodes the NumPy code is printed from, as mathematics: ``\odot`` for
the entrywise product (broadcasting), juxtaposition for the matrix product,
``^\top``, row blocks ``Z_{[M:2M,:]}``, ``\mathbf{1}_L`` for the ones vector
of an axis sum, ``\langle a, b \rangle`` and ``\lVert x \rVert^2`` for scalar
contractions, a ``bmatrix`` for a concatenation. Broadcasting and reshaping
are not shown: the view is the value. The scalar body of an ``Elementwise``
node is printed by SymPy's LaTeX printer, with names spelled by
``latex_names``.
"""
from __future__ import annotations

from typing import Callable

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from symgrad.errors import LoweringError
from symgrad.lower.latex_names import base_latex
from symgrad.lower.nodes import (DiagonalWrite, Elementwise, Node, Product)
from symgrad.lower.numpy_printer import block_slices, joined_terms

MUL = PRECEDENCE["Mul"]


def latex_scalar(expr: sp.Expr) -> str:
    """A scalar of dimensions and numbers in LaTeX."""
    return _BodyPrinter().doprint(sp.sympify(expr))


class _BodyPrinter(LatexPrinter):
    """A scalar SymPy body in LaTeX; ``print_entry`` prints each ``Indexed`` entry in it."""

    def __init__(self, print_entry: Callable[[sp.Indexed], str] | None = None):
        super().__init__({"mul_symbol": None})
        self.print_entry = print_entry

    def _print_Indexed(self, expr):
        if self.print_entry is None:
            raise LoweringError(f"entry {expr} in a scalar")
        return self.print_entry(expr)

    def _print_Symbol(self, expr, style="plain"):
        return base_latex(expr.name)

    def _helper_print_standard_power(self, expr, template: str) -> str:
        r"""SymPy's power, its base protected when it is an entry printed with a superscript
        (``\mathrm{Mu}^{\top}``, a transposed operand): SymPy does so for a Symbol only, and
        ``A^{\top}^{2}`` is a double superscript, which pdflatex refuses."""
        if isinstance(expr.base, sp.Indexed):
            return template % (self.parenthesize_super(self._print(expr.base)), self._print(expr.exp))
        return super()._helper_print_standard_power(expr, template)


def _grouped(text: str) -> str:
    return r"\left(" + text + r"\right)"


class LatexArrayPrinter:
    """Prints array nodes as the matrix view."""

    def doprint(self, node: Node) -> str:
        method = getattr(self, f"_print_{type(node).__name__}", None)
        if method is None:
            raise LoweringError(f"no LaTeX printing for array node {type(node).__name__}")
        return method(node)

    def _body(self, node: Elementwise) -> _BodyPrinter:
        return _BodyPrinter(lambda access: self.doprint(node.operand(access)))

    def _side(self, node: Node) -> str:
        """An operand of a matrix product or axis sum: a product of several factors grouped."""
        text = self.doprint(node)
        return _grouped(text) if isinstance(node, Product) and len(node.factors) > 1 else text

    # leaves

    def _print_Tensor(self, node):
        return base_latex(node.name)

    def _print_Entry(self, node):
        return base_latex(node.name)

    def _print_Slice(self, node):
        parts = [":" if b is None else f"{latex_scalar(b[0])}:{latex_scalar(b[1])}" for b in node.bounds]
        return f"{{{base_latex(node.base.name)}}}_{{[{','.join(parts)}]}}"

    def _print_Diagonal(self, node):
        text = rf"\operatorname{{diag}}\left({base_latex(node.base.name)}\right)"
        return text if node.axis == 0 else text + r"^{\top}"

    def _print_Trace(self, node):
        return rf"\operatorname{{tr}}\left({base_latex(node.base.name)}\right)"

    def _print_Transpose(self, node):
        return self.doprint(node.operand) + r"^{\top}"

    def _print_Elementwise(self, node):
        return self._body(node).doprint(node.body)

    # products and sums

    def _print_Product(self, node):
        texts = []
        for factor in node.factors:
            if isinstance(factor, Elementwise):
                texts.append(self._body(factor).parenthesize(factor.body, MUL))
            else:   # a contraction beside other factors is grouped
                text = self.doprint(factor)
                texts.append(_grouped(text) if len(node.factors) > 1 else text)
        coefficient = node.coefficient
        if not texts:
            return latex_scalar(coefficient) if coefficient != 1 else "1"
        lead = "" if coefficient == 1 else "-" if coefficient == -1 else latex_scalar(coefficient) + r" \cdot "
        return lead + r" \odot ".join(texts)

    def _print_Add(self, node):
        return joined_terms([self.doprint(term) for term in node.terms])

    # contractions

    def _print_MatMul(self, node):
        return f"{self._side(node.left)} {self._side(node.right)}"

    def _print_AxisSum(self, node):
        ones = rf"\mathbf{{1}}_{{{latex_scalar(node.size)}}}"
        body = self._side(node.operand)
        return f"{body} {ones}" if node.axis == 1 else rf"{ones}^{{\top}} {body}"

    def _print_VDot(self, node):
        return rf"\left\langle {self.doprint(node.left)},\, {self.doprint(node.right)} \right\rangle"

    def _print_SquaredNorm(self, node):
        return rf"\lVert {self.doprint(node.operand)} \rVert^{{2}}"

    def _print_SumAll(self, node):
        return rf"\operatorname{{sum}}\left({self.doprint(node.operand)}\right)"

    def _print_Einsum(self, node):
        spec = ",".join(letters for letters, _ in node.inputs)
        operands = ", ".join(self.doprint(operand) for _, operand in node.inputs)
        return rf"\operatorname{{einsum}}_{{{spec}\to {node.output}}}\left({operands}\right)"

    # shapes and blocks: the view shows the value

    def _print_Reshape(self, node):
        return self.doprint(node.operand)

    def _print_BroadcastTo(self, node):
        return self.doprint(node.operand)

    def _print_Zeros(self, node):
        return "0"

    def _print_Concat(self, node):
        joiner = r" \\ " if node.axis == 0 else " & "
        return r"\begin{bmatrix} " + joiner.join(self.doprint(b) for b in node.blocks) + r" \end{bmatrix}"

    def _print_BlockSum(self, node):
        pieces = [self.doprint(node.base)] if node.base is not None else []
        for write in node.writes:   # each block named by the slices the code writes
            if isinstance(write, DiagonalWrite):
                pieces.append(rf"\operatorname{{Diag}}\left({self.doprint(write.value)}\right)")
                continue
            pieces.append(rf"\left[{self.doprint(write.value)}\right]_{{\text{{on }}"
                          rf"[{','.join(block_slices(write.bounds, node.shape))}]}}")
        return " + ".join(pieces)
