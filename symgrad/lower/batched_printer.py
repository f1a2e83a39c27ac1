"""Array nodes -> NumPy code over a leading batch axis: the Hessian's tangents, all at once.

``hessian()`` evaluates the Hessian-vector product along every basis tangent in one pass: each
tangent value carries a leading axis of length ``BATCH`` (one entry per basis tangent) in
front of its two matrix axes, and a scalar tangent is ``(BATCH, 1, 1)``. Forward values and
adjoints stay unbatched and broadcast against them. Every tangent statement is linear in the
tangents (each term holds exactly one tangent), so every value it computes is batched.

This printer overrides the print methods of the nodes and statements whose NumPy form would
act on the wrong axes of a batched array (everything else, products, matrix products and
elementwise bodies, broadcasts as it is):
transposes and slices name the last two axes (``.mT``, ``X[..., :M, :]``), whole sums and dot
products reduce the last two (keeping them, so a scalar stays ``(BATCH, 1, 1)``), an einsum
gets ``...`` in front of every operand, zeros have the batch axis, blocks are stacked along the
matrix axes with the batch broadcast (``_stacked``, a helper of the generated module), a value on
the diagonal is added to the diagonal of every matrix of the batch.
"""
from __future__ import annotations

from symgrad.lower.elementwise_code import MUL, POSTFIX, print_scalar
from symgrad.errors import LoweringError
from symgrad.lower.numpy_printer import NumPyPrinter, block_slices, einsum_order, shape_code, slice_text
from symgrad.lower.statements import Assign, BlockAdd, DiagonalAdd

BATCH = "_count"            # the generated hessian()'s number of basis tangents
STACK_HELPER = "_stacked"   # the generated helper stacking blocks over a broadcast batch
_LAST_TWO = "axis=(-2, -1), keepdims=True"


class BatchedNumPyPrinter(NumPyPrinter):
    """``NumPyPrinter`` for values with a leading batch axis (see the module's docstring)."""

    def _print_Entry(self, node):
        return f"{node.name}[..., :1, :1]"

    def _print_Slice(self, node):
        slices = [":" if b is None else slice_text(b[0], b[1], size)
                  for b, size in zip(node.bounds, node.base.shape)]
        return f"{node.base.name}[..., {', '.join(slices)}]"

    def _print_Transpose(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + ".mT"

    def _print_Diagonal(self, node):
        diagonal = f"np.diagonal({node.base.name}, axis1=-2, axis2=-1)"
        return diagonal + ("[..., :, None]" if node.axis == 0 else "[..., None, :]")

    def _print_Trace(self, node):
        return f"np.trace({node.base.name}, axis1=-2, axis2=-1)[..., None, None]"

    def _print_VDot(self, node):
        return f"np.multiply({self.doprint(node.left)}, {self.doprint(node.right)}).sum({_LAST_TWO})"

    def _print_SquaredNorm(self, node):
        return f"np.square({self.doprint(node.operand)}).sum({_LAST_TWO})"

    def _print_SumAll(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + f".sum({_LAST_TWO})"

    def _print_Einsum(self, node):
        operands = []
        for letters, operand in node.inputs:
            code = f"1.0 * {self.parenthesize(operand, MUL)}" if operand.boolean else self.doprint(operand)
            if len(letters) == 1:    # a row or column as a vector: drop its axis of size 1
                code = f"np.reshape({code}, np.shape({code})[:-2] + (-1,))"
            operands.append(code)
        spec = ",".join("..." + letters for letters, _ in node.inputs)
        call = f"np.einsum('{spec}->...{node.output}', {', '.join(operands)}{einsum_order(node)})"
        if len(node.shape) == 2 and len(node.output) == 1:
            call += "[..., None, :]" if node.shape[0] == 1 else "[..., :, None]"
        elif not node.output:      # a number: (BATCH, 1, 1), as every batched scalar
            call += "[..., None, None]"
        return call

    def _print_Reshape(self, node):
        return f"np.reshape({self.doprint(node.operand)}, (-1, 1, 1))"

    def _print_BroadcastTo(self, node):
        value = self.doprint(node.operand)
        call = f"np.broadcast_to({value}, np.shape({value})[:-2] + {shape_code(node.shape)})"
        return call + ".astype(float)" if node.copy else call

    def _print_Zeros(self, node):
        shape = node.shape or (1, 1)
        return f"np.zeros(({BATCH}, {', '.join(print_scalar(n) for n in shape)}))"

    def _print_Concat(self, node):
        blocks = ", ".join(self.doprint(block) for block in node.blocks)
        return f"{STACK_HELPER}(({blocks}), {node.axis - 2})"

    # statements: a tangent's value is assigned, then its blocks added in over the batch axis

    def _print_BlockAdd(self, statement):
        return (f"{statement.target}[..., {', '.join(block_slices(statement.bounds, statement.shape))}] += "
                f"{self.doprint(statement.value)}")

    def _print_DiagonalAdd(self, statement):
        """Added to the diagonal of every matrix of the batch (also into zeros: ``np.fill_diagonal``
        would fill one diagonal of the whole batch)."""
        value, diagonal = self.doprint(statement.value), f"np.arange({print_scalar(statement.size)})"
        return (f"{statement.target}[..., {diagonal}, {diagonal}] += "
                f"np.reshape({value}, np.shape({value})[:-2] + (-1,))")

    def print_statement(self, statement):
        """As ``NumPyPrinter.print_statement``, for the statements a lowering gives (``Assign``,
        ``BlockAdd``, ``DiagonalAdd``); the passes' in-place statements know no batch axis."""
        if not isinstance(statement, (Assign, BlockAdd, DiagonalAdd)):
            raise LoweringError(f"no batched printing for statement {type(statement).__name__}")
        return super().print_statement(statement)
