"""Array nodes -> PyTorch code: the NumPy printer's structure, torch's spellings.

Precedence and parentheses are the NumPy printer's; what differs is spelled
here, one method per node: ``.mT`` for a transpose, sums with ``dim`` and
``keepdim``, ``torch.sum(a * b)`` for an inner product, ``torch.einsum``,
``torch.cat``, zeros of the values' dtype and device. Table functions are
spelled by the rows' ``torch`` field; masks are comparisons cast to
``_dtype``, the dtype of the generated function's values, and ``_device`` is
their device: every generated function that needs them defines both, so the
same code runs on any float dtype and device. A square root is ``torch.sqrt``
of a tensor and ``x ** 0.5`` of a number (dimensions, scalar inputs).
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from symgrad.lower.elementwise_code import MUL, POSTFIX, ElementwiseCodePrinter, print_scalar
from symgrad.lower.nodes import MatMul, Zeros
from symgrad.model.functions import row_of
from symgrad.lower.numpy_printer import NumPyPrinter


class TorchElementwisePrinter(ElementwiseCodePrinter):
    """A scalar body with torch's spellings."""

    spelling = "torch"
    library = "torch"
    cubes_as_products = False

    def _module_format(self, fqn, register=True):
        """A scalar function of numbers and dimensions (``log(2*pi)``, ``sqrt(dk)``) is Python's
        ``math`` one: torch's need tensors."""
        module, _, name = fqn.rpartition(".")
        return f"math.{name}" if module == "math" else super()._module_format(fqn, register)

    # a table function of a value that is no tensor entry (a scalar input given as a number, an
    # intermediate of dimensions: ``sigmoid(n*d)``) gets it as a tensor: torch's functions take no
    # Python number, jax's no integer
    scalar_argument = "torch.as_tensor({}, dtype=_dtype, device=_device)"

    def _print_Function(self, expr):
        if row_of(expr) is None or any(arg.atoms(sp.Indexed) for arg in expr.args):
            return super()._print_Function(expr)
        template = self.template(row_of(expr))
        return template.format(*(self.scalar_argument.format(self._print(arg)) for arg in expr.args))

    def _print_Pow(self, expr, rational=False):
        if expr.exp in (sp.S.Half, -sp.S.Half):
            base = self._print(expr.base)
            if expr.base.atoms(sp.Indexed):
                root = f"{self.library}.sqrt({base})"
            else:
                root = f"({self.parenthesize(expr.base, PRECEDENCE['Pow'])} ** 0.5)"
            return root if expr.exp > 0 else f"1/{root}"
        return super()._print_Pow(expr, rational)


def shape_tuple(shape) -> str:
    return "(" + ", ".join(print_scalar(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


class TorchPrinter(NumPyPrinter):
    """Prints array nodes as torch expressions and a tensor's value as statements."""

    body_printer = TorchElementwisePrinter
    library = "torch"

    _wrapped = frozenset()   # the matrix products that are factors of the product being printed

    def _print_Product(self, node):
        """A matrix product that a scalar or another factor multiplies is parenthesized,
        ``2 * (X.mT @ r)``: the result is scaled, not the (often larger) left operand, which
        left-to-right evaluation would scale first (measured: 2x at N=4096, D=256)."""
        outer = self._wrapped
        scaled = node.coefficient != 1 or len(node.factors) > 1
        self._wrapped = frozenset(id(f) for f in node.factors if isinstance(f, MatMul)) if scaled else frozenset()
        try:
            return super()._print_Product(node)
        finally:
            self._wrapped = outer

    def parenthesize(self, node, level, strict=False):
        if id(node) in self._wrapped:
            inner, self._wrapped = self._wrapped, frozenset()
            try:
                return f"({self._print(node)})"
            finally:
                self._wrapped = inner
        return super().parenthesize(node, level, strict)

    def _print_Transpose(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + ".mT"

    def _print_AxisSum(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + f".sum(dim={node.axis}, keepdim=True)"

    def _print_VDot(self, node):
        left, right = self.parenthesize(node.left, MUL, strict=True), self.parenthesize(node.right, MUL)
        return f"torch.sum({left} * {right})"

    def _print_SquaredNorm(self, node):
        return f"torch.sum(torch.square({self.doprint(node.operand)}))"

    def _print_Einsum(self, node):
        operands = []
        for letters, operand in node.inputs:
            code = self.doprint(operand)
            operands.append(f"({code}).reshape(-1)" if len(letters) == 1 else code)
        spec = ",".join(letters for letters, _ in node.inputs)
        call = f"{self.library}.einsum('{spec}->{node.output}', {', '.join(operands)})"
        if len(node.shape) == 2 and len(node.output) == 1:
            call += "[None, :]" if node.shape[0] == 1 else "[:, None]"
        return call

    def _print_Reshape(self, node):
        return f"{self.library}.reshape({self.doprint(node.operand)}, {shape_tuple(node.shape)})"

    def _print_BroadcastTo(self, node):   # a new array, whether the value is a number or a tensor
        return f"{self._print_Zeros(Zeros(node.shape))} + {self.parenthesize(node.operand, MUL, strict=True)}"

    def _print_Zeros(self, node):
        return f"torch.zeros({shape_tuple(node.shape)}, dtype=_dtype, device=_device)" if node.shape else "0.0"

    def _print_Concat(self, node):
        blocks = ", ".join(self.doprint(block) for block in node.blocks)
        return f"torch.cat(({blocks}), dim={node.axis})"

    def _print_DiagonalAdd(self, statement):     # into the diagonal's view: no dense diag
        value = self.doprint(statement.value)
        return (f"{statement.target}.diagonal().add_({value})" if not statement.value.shape
                else f"{statement.target}.diagonal().add_(({value}).reshape(-1))")

    def _print_Diagonal(self, node):
        return f"torch.diagonal({node.base.name})" + ("[:, None]" if node.axis == 0 else "[None, :]")

    def _print_Trace(self, node):
        return f"torch.trace({node.base.name})"

    # what the module plan asks of a backend beyond the nodes

    def _print_AxisMax(self, node):
        return f"{node.base.name}.amax(dim={node.axis}, keepdim=True)"

    def gradient(self, adjoint: str | None, shape) -> str:
        """A parameter's gradient: its adjoint, or zeros where the loss does not depend on it."""
        if adjoint is None:
            return self._print_Zeros(Zeros(shape)) if shape else "torch.zeros((), dtype=_dtype, device=_device)"
        return adjoint
