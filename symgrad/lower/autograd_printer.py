"""Array nodes -> NumPy code that HIPS autograd can differentiate: the reference loss of a check.

``symgrad verify --hvp`` compares the Hessian-vector products symgrad derives with autograd's
``hessian_vector_product`` of the model's loss. That loss is the model's forward statements,
lowered as for the generated module and printed here with the spellings autograd traces (it
has no derivative of ``np.vdot``, and its arrays take no assignment to a slice): dot products
and squared norms are sums of products, and only plain assignments are written. Autograd
then differentiates the forward twice by itself; nothing of symgrad's derivation enters.
"""
from __future__ import annotations

from symgrad.errors import LoweringError
from symgrad.lower.nodes import BlockSum
from symgrad.lower.numpy_printer import NumPyPrinter, shape_code


class AutogradPrinter(NumPyPrinter):
    """``NumPyPrinter`` with the spellings autograd can differentiate (see the module's docstring)."""

    def _print_VDot(self, node):
        return f"np.sum({self.doprint(node.left)} * {self.doprint(node.right)})"

    def _print_SquaredNorm(self, node):
        vector = self.doprint(node.operand)
        return f"np.sum({vector} * {vector})"

    def _print_BroadcastTo(self, node):
        return f"np.broadcast_to({self.doprint(node.operand)}, {shape_code(node.shape)})"

    def statements(self, target, node):
        if isinstance(node, BlockSum):
            raise LoweringError(f"{target}: a value written in blocks has no autograd spelling")
        return [f"{target} = {self.doprint(node)}"]

    def max_along(self, source: str, axis: int) -> str:
        return f"{source}.max(axis={axis}, keepdims=True)"

    def gradient(self, adjoint, shape) -> str:
        return adjoint or "0.0"
