"""Array nodes -> torch and JAX code over a leading batch axis (the Hessian's tangents).

``BatchedPrinting`` (``lower/batched_printer.py``) holds the batched form of every node whose
plain form acts on the wrong axes of a batched array; these printers put it in front of the
torch and JAX printers and give it their spellings. What differs from NumPy's batched code:

- an axis sum is a reduction over that axis counted from the end (``.sum(dim=-1, keepdim=True)``;
  NumPy's product with a ones vector broadcasts over the batch as it is);
- a mask is already a number (the table's ``torch`` and ``jax`` fields cast it to ``_dtype``);
- torch: ``dim``/``keepdim`` keywords, ``.flatten(-2)`` for a batch of rows as vectors, no batched
  ``torch.trace`` (the diagonal's sum instead), ``torch.arange`` on the values' ``_device``, and
  broadcasting as the torch printer does it (zeros plus the value: the batch axis broadcasts);
- JAX: immutable arrays, so a block or a diagonal is added with ``T = T.at[...].add(value)``;
  a broadcast array takes ``_dtype``, as the JAX printer's.
"""
from __future__ import annotations

from symgrad.lower.batched_printer import BatchedPrinting
from symgrad.lower.elementwise_code import POSTFIX, print_scalar
from symgrad.lower.jax_printer import JaxPrinter
from symgrad.lower.torch_printer import TorchPrinter


class BatchedFrameworkPrinting(BatchedPrinting):
    """What torch's and JAX's batched printers share: axis sums from the end, masks as numbers."""

    einsum_options = ""

    def _numeric(self, operand) -> str:
        return self.doprint(operand)

    def _print_AxisSum(self, node):
        axis, keep = self.axis_keywords
        return self.parenthesize(node.operand, POSTFIX, strict=True) + f".sum({axis}={node.axis - 2}, {keep}=True)"


class BatchedTorchPrinter(BatchedFrameworkPrinting, TorchPrinter):
    """``TorchPrinter`` for values with a leading batch axis."""

    library = "torch"
    axis_keywords = ("dim", "keepdim")

    _print_BroadcastTo = TorchPrinter._print_BroadcastTo     # zeros of the shape plus the value: batches broadcast

    def _vector(self, code: str) -> str:
        return f"({code}).flatten(-2)"

    def _arange(self, size) -> str:
        return f"torch.arange({print_scalar(size)}, device=_device)"

    def _print_Trace(self, node):
        return f"torch.diagonal({node.base.name}, {self._matrix_axes}).sum(-1)[..., None, None]"


class BatchedJaxPrinter(BatchedFrameworkPrinting, JaxPrinter):
    """``JaxPrinter`` for values with a leading batch axis."""

    library = "jnp"

    def _add_at(self, target: str, index: str, value: str) -> str:
        return f"{target} = {target}.at[{index}].add({value})"

    def _broadcast(self, call: str, node) -> str:
        return call + ".astype(_dtype)"
