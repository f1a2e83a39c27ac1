"""Array nodes -> NumPy code that HIPS autograd can differentiate: the reference loss of a check.

``symgrad verify --hvp`` compares the Hessian-vector products symgrad derives with autograd's
``hessian_vector_product`` of the model's loss. That loss is the model's forward statements,
lowered as for the generated module and printed here with the spellings autograd traces (it
has no derivative of ``np.vdot``, none of ``np.diagonal`` it can differentiate again): a diagonal
and a trace are sums of a product with the identity, dot products and squared norms are sums of products, and
broadcasts are not copied. Autograd then differentiates the forward twice by itself; nothing of symgrad's derivation enters. A forward
value written in blocks (``T[a:b] += ...``: autograd's arrays take no assignment) fails under
autograd; ``hvpcheck`` then reports no autograd comparison for that model.
"""
from __future__ import annotations

from symgrad.lower.elementwise_code import print_scalar
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

    def _print_Diagonal(self, node):     # autograd's np.diagonal has no second derivative here
        size = print_scalar(node.base.shape[0])
        return f"np.sum({node.base.name} * np.eye({size}), axis={1 - node.axis}, keepdims=True)"

    def _print_Trace(self, node):
        return f"np.sum({node.base.name} * np.eye({print_scalar(node.base.shape[0])}))"

    def gradient(self, adjoint, shape) -> str:
        return adjoint or "0.0"
