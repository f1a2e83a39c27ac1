r"""``inv``, ``det`` and ``logdet`` of a square matrix: opaque functions of the whole matrix.

Their entries are no index expression of the matrix's entries, so each is a named intermediate
whose definition is one opaque entry (``inv(A)[i, j]``, ``det(A)``) and whose local partial is a
rule from ``RULES``, read like the math (``A^{-1}`` is the named inverse, never a Jacobian):

    d inv(A)[i, j] / d A[k, l] = -inv(A)[i, k] * inv(A)[l, j]
    d det(A)       / d A[k, l] =  det(A) * inv(A)[l, k]
    d logdet(A)    / d A[k, l] =  inv(A)[l, k]

The chain rule then contracts the rule with the adjoint like any other partial (``grad_A =
-A^{-T} grad_Ainv A^{-T}``, as an einsum over the two summed indices). Forward values are
``np.linalg.inv``, ``np.linalg.det`` and ``np.linalg.slogdet(A)[1]``: ``logdet(A)`` is
``log |det A|`` (the log-determinant of a positive-definite matrix, a covariance; for any
invertible matrix the log of the determinant's absolute value, whose derivative is the same
``inv(A)^T``). ``det`` and ``logdet`` reuse a named inverse of the same matrix, or name one
(``<name>_inv``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from symgrad.model.dsl import TensorExpr, as_tensor
from symgrad.model.matrix_ops import square_matrix
from symgrad.index.terms import Term
from symgrad.lower.latex_names import base_latex


@dataclass(frozen=True)
class MatrixFunction:
    """One function of a whole square matrix: its value in NumPy and LaTeX, and its local partial."""

    name: str
    scalar: bool                     # det, logdet: a scalar; inv: a matrix of the argument's shape
    numpy: str                       # ``{0}``: the argument's name; one spelling per backend
    torch: str
    jax: str
    latex: str
    convention: str
    # (result entry, inverse entry as a function of two indices, out indices, at indices) -> partial
    partial: Callable[..., sp.Expr]


RULES = {f.name: f for f in (
    MatrixFunction("inv", False, "np.linalg.inv({0})", "torch.linalg.inv({0})", "jnp.linalg.inv({0})",
                   r"{0}^{{-1}}", "for an invertible matrix",
                   lambda value, inverse, out, at: -inverse(out[0], at[0]) * inverse(at[1], out[1])),
    MatrixFunction("det", True, "np.linalg.det({0})", "torch.linalg.det({0})", "jnp.linalg.det({0})",
                   r"\det\left({0}\right)", "the determinant",
                   lambda value, inverse, out, at: value * inverse(at[1], at[0])),
    MatrixFunction("logdet", True, "np.linalg.slogdet({0})[1]", "torch.linalg.slogdet({0})[1]",
                   "jnp.linalg.slogdet({0})[1]", r"\log\left|\det {0}\right|",
                   "log |det A| (numpy.linalg.slogdet): the log-determinant of a positive-definite matrix",
                   lambda value, inverse, out, at: inverse(at[1], at[0])),
)}


class MatrixEntry(sp.Function):
    """``inv(A)[i, j]`` (args: the function's name, A's name, i, j) or ``det(A)`` (no indices): opaque."""

    is_real = True

    def _sympystr(self, printer):
        name, source, *indices = self.args
        text = f"{name}({source})"
        return text + (f"[{', '.join(printer._print(i) for i in indices)}]" if indices else "")

    def _latex(self, printer, exp=None):
        name, source, *indices = self.args
        text = RULES[str(name)].latex.format(base_latex(str(source)))
        if indices:
            text = rf"\left({text}\right)_{{{' '.join(printer._print(i) for i in indices)}}}"
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"


@dataclass(frozen=True)
class Opaque:
    """What a definition by a matrix function needs: the function, its argument and the named inverse."""

    function: MatrixFunction
    source: str
    inverse: str     # the tensor holding inv(source): the definition itself for ``inv``

    def local_partial(self, value: sp.Expr, model, out: tuple, at: tuple) -> tuple[Term, ...]:
        inverse = model.tensors[self.inverse]
        return (Term(self.function.partial(value, lambda a, b: inverse.entry((a, b)), out, at)),)

    def code(self, spelling: str = "numpy") -> str:
        """The value in a backend's spelling (``numpy``, ``torch``, ``jax``)."""
        return getattr(self.function, spelling).format(self.source)

    def latex(self) -> str:
        return self.function.latex.format(base_latex(self.source))


def entry(function: str, source: str, indices: tuple) -> sp.Expr:
    """The opaque entry of ``function(source)`` at ``indices`` (none for a scalar)."""
    return MatrixEntry(sp.Symbol(function), sp.Symbol(source, real=True), *indices)


class MatrixFunctionOf(TensorExpr):
    """``inv(A)``, ``det(A)`` or ``logdet(A)`` in the DSL: always a named intermediate of its own."""

    def __init__(self, name: str, a: TensorExpr):
        size = square_matrix(name, a)
        self.function, self.a = RULES[name], a
        self.shape = () if self.function.scalar else (size, size)

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        return ctx.model._hoist_matrix_function(self, None).build(indices, ctx)


def inv(a) -> MatrixFunctionOf:
    """The inverse of a square matrix (``np.linalg.inv``); ``d inv(A) = -inv(A) dA inv(A)``."""
    return MatrixFunctionOf("inv", as_tensor(a))


def det(a) -> MatrixFunctionOf:
    """The determinant of a square matrix (``np.linalg.det``); ``d det(A) = det(A) tr(inv(A) dA)``."""
    return MatrixFunctionOf("det", as_tensor(a))


def logdet(a) -> MatrixFunctionOf:
    """``log |det A|`` of a square matrix (``np.linalg.slogdet(A)[1]``), the log-determinant of a
    positive-definite one; ``d logdet(A) = tr(inv(A) dA)``."""
    return MatrixFunctionOf("logdet", as_tensor(a))
