"""Array nodes -> code over a leading batch axis: the Hessian's tangents, all at once.

``hessian()`` evaluates the Hessian-vector product along every basis tangent in one pass: each
tangent value carries a leading axis of length ``BATCH`` (one entry per basis tangent) in
front of its two matrix axes, and a scalar tangent is ``(BATCH, 1, 1)``. Forward values and
adjoints stay unbatched and broadcast against them. Every tangent statement is linear in the
tangents (each term holds exactly one tangent), so every value it computes is batched.

``BatchedPrinting`` overrides the print methods of the nodes and statements whose plain form
would act on the wrong axes of a batched array (everything else, products, matrix products and
elementwise bodies, broadcasts as it is):
transposes and slices name the last two axes (``.mT``, ``X[..., :M, :]``), whole sums and dot
products reduce the last two (keeping them, so a scalar stays ``(BATCH, 1, 1)``), an einsum
gets ``...`` in front of every operand (a number's two axes of size 1 dropped), zeros have the
batch axis, blocks are stacked along the matrix axes with the batch broadcast (``_stacked``, a
helper of the generated module), a value on the diagonal is added to the diagonal of every
matrix of the batch. It is a mixin: it comes before a backend's printer (NumPy's here; torch's
and JAX's in ``batched_frameworks``), whose spellings it reads from a few names (``library``,
``axis_keywords``, ``_vector``, ``_add_at``, ``_arange``, ``_broadcast``) and whose own methods
print every node it leaves alone.
"""
from __future__ import annotations

import sympy as sp

from symgrad.lower.elementwise_code import MUL, POSTFIX, print_scalar
from symgrad.errors import LoweringError
from symgrad.lower.nodes import Entry, Zeros
from symgrad.lower.numpy_printer import NumPyPrinter, block_slices, einsum_order, shape_code, slice_text
from symgrad.lower.statements import Assign, BlockAdd, DiagonalAdd

BATCH = "_count"            # the generated hessian()'s number of basis tangents
STACK_HELPER = "_stacked"   # the generated helper stacking blocks over a broadcast batch


class BatchedPrinting:
    """The batched forms of a backend's printer (see the module's docstring); NumPy's spellings
    by default."""

    library = "np"
    axis_keywords = ("axis", "keepdims")      # how a reduction names its axes and keeps them

    @property
    def _last_two(self) -> str:
        axis, keep = self.axis_keywords
        return f"{axis}=(-2, -1), {keep}=True"

    @property
    def _matrix_axes(self) -> str:
        return f"{self.axis_keywords[0]}1=-2, {self.axis_keywords[0]}2=-1"

    def _einsum_options(self, node) -> str:
        """NumPy's: a contraction order fixed when the code is written (never a search per call)."""
        return einsum_order(node)

    def _vector(self, code: str) -> str:
        """A batch of rows or columns as a batch of vectors (their axis of size 1 dropped)."""
        return f"{self.library}.reshape({code}, {self.library}.shape({code})[:-2] + (-1,))"

    def _number(self, operand, code: str) -> str:
        """A batch of numbers without their two axes of size 1: as an einsum operand, ``(BATCH, 1,
        1)`` would put those axes in the ellipsis, where they broadcast against the batch axis of
        every other operand."""
        if isinstance(operand, Entry):
            return f"{operand.name}[..., 0, 0]"
        return f"({code})[..., 0, 0]"

    def _numeric(self, operand) -> str:
        """An operand as numbers (NumPy holds a mask as booleans)."""
        boolean = operand.boolean
        return f"1.0 * {self.parenthesize(operand, MUL)}" if boolean else self.doprint(operand)

    def _add_at(self, target: str, index: str, value: str) -> str:
        return f"{target}[{index}] += {value}"

    def _arange(self, size) -> str:
        return f"{self.library}.arange({print_scalar(size)})"

    def _broadcast(self, call: str, node) -> str:
        """A broadcast view, or (``node.copy``) a new array of numbers."""
        return call + ".astype(float)" if node.copy else call

    def _print_Entry(self, node):
        return f"{node.name}[..., :1, :1]"

    def _print_Slice(self, node):
        slices = [":" if b is None else slice_text(b[0], b[1], size)
                  for b, size in zip(node.bounds, node.base.shape)]
        return f"{node.base.name}[..., {', '.join(slices)}]"

    def _print_Transpose(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + ".mT"

    def _print_Diagonal(self, node):
        diagonal = f"{self.library}.diagonal({node.base.name}, {self._matrix_axes})"
        return diagonal + ("[..., :, None]" if node.axis == 0 else "[..., None, :]")

    def _print_Trace(self, node):
        return f"{self.library}.trace({node.base.name}, {self._matrix_axes})[..., None, None]"

    def _print_VDot(self, node):
        return f"{self.library}.multiply({self.doprint(node.left)}, {self.doprint(node.right)}).sum({self._last_two})"

    def _print_SquaredNorm(self, node):
        return f"{self.library}.square({self.doprint(node.operand)}).sum({self._last_two})"

    def _print_SumAll(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + f".sum({self._last_two})"

    def _print_Einsum(self, node):
        operands = []
        for letters, operand in node.inputs:
            code = self._numeric(operand)
            if len(letters) == 1:      # a row or column as a vector
                code = self._vector(code)
            elif not letters:          # a number: the ellipsis must hold the batch axis alone
                code = self._number(operand, code)
            operands.append(code)
        spec = ",".join("..." + letters for letters, _ in node.inputs)
        call = f"{self.library}.einsum('{spec}->...{node.output}', {', '.join(operands)}{self._einsum_options(node)})"
        if len(node.shape) == 2 and len(node.output) == 1:
            call += "[..., None, :]" if node.shape[0] == 1 else "[..., :, None]"
        elif not node.output:      # a number: (BATCH, 1, 1), as every batched scalar
            call += "[..., None, None]"
        return call

    def _print_Reshape(self, node):
        return f"{self.library}.reshape({self.doprint(node.operand)}, (-1, 1, 1))"

    def _print_BroadcastTo(self, node):
        value = self.doprint(node.operand)
        return self._broadcast(f"{self.library}.broadcast_to({value}, {self.library}.shape({value})[:-2] + "
                               f"{shape_code(node.shape)})", node)

    def _print_Zeros(self, node):
        return super()._print_Zeros(Zeros((sp.Symbol(BATCH), *(node.shape or (1, 1)))))

    def _print_Concat(self, node):
        blocks = ", ".join(self.doprint(block) for block in node.blocks)
        return f"{STACK_HELPER}(({blocks}), {node.axis - 2})"

    # statements: a tangent's value is assigned, then its blocks added in over the batch axis

    def _print_BlockAdd(self, statement):
        return self._add_at(statement.target, f"..., {', '.join(block_slices(statement.bounds, statement.shape))}",
                            self.doprint(statement.value))

    def _print_DiagonalAdd(self, statement):
        """Added to the diagonal of every matrix of the batch (also into zeros: ``np.fill_diagonal``
        would fill one diagonal of the whole batch)."""
        diagonal = self._arange(statement.size)
        return self._add_at(statement.target, f"..., {diagonal}, {diagonal}", self._vector(self.doprint(statement.value)))

    def print_statement(self, statement):
        """As ``NumPyPrinter.print_statement``, for the statements a lowering gives (``Assign``,
        ``BlockAdd``, ``DiagonalAdd``); the passes' in-place statements know no batch axis."""
        if not isinstance(statement, (Assign, BlockAdd, DiagonalAdd)):
            raise LoweringError(f"no batched printing for statement {type(statement).__name__}")
        return super().print_statement(statement)


class BatchedNumPyPrinter(BatchedPrinting, NumPyPrinter):
    """``NumPyPrinter`` for values with a leading batch axis."""
