"""Contractions: an einsum over several indices as matrix products and single reductions.

``np.einsum(..., optimize=True)`` searches for a contraction order on every call
(about 100 us here, more than a whole small gradient), and a sum that factors,
``sum_{b,c} U[a, b] V[a, c]``, is then still one contraction over three indices.
Here an ``Einsum`` whose operands span at most two indices each is rewritten, one
step at a time, into the nodes the rest of the pipeline already knows:

* an index summed that only one operand mentions is summed out of it alone
  (``AxisSum``, ``SumAll``): ``sum_{b,c} U[a, b] V[a, c]`` is the product of two row sums;
* operands over the same indices, or one over a subset of another's, are one entrywise
  ``Product`` (with broadcasting), but for a vector whose index is summed and mentioned by
  no third operand, which is left to a matrix product; two over the same indices, each summed
  and mentioned nowhere else, are one ``VDot``;
* an index summed that exactly two operands mention is their ``MatMul``
  (``sum_{c,d} P[a, c] G[c, d] P[b, d]`` is ``P @ G @ P.T``), the first such pair in the
  einsum's own operand order first.

Each step replaces operands by one whose entries are the same sums over the indices it
removes (multiplication distributes over the sum of an index the other operands do not
mention), so the value is the einsum's, up to rounding. An einsum these steps cannot finish
(an index summed over three operands that no step merges) is left as it was; the printer
gives it a fixed contraction order instead of a search.
"""
from __future__ import annotations

import sympy as sp

from symgrad.lower.nodes import AxisSum, Einsum, Elementwise, MatMul, Node, Product, SumAll, Transpose, VDot
from symgrad.lower.passes.entries import canonical

ONE = sp.Integer(1)


def transposed(node: Node) -> Node:
    """The transpose of ``node``, pushed into it where that costs nothing: an entrywise map of
    transposed operands, ``B.T @ A.T`` for ``(A @ B).T``, ``X`` for ``X.T.T``."""
    if isinstance(node, Transpose):
        return node.operand
    if isinstance(node, Product):
        return Product(node.coefficient, tuple(transposed(f) if f.shape else f for f in node.factors))
    if isinstance(node, MatMul):
        return MatMul(transposed(node.right), transposed(node.left))
    if isinstance(node, Elementwise):
        return canonical(Elementwise(node.body, tuple((a, transposed(o) if o.shape else o)
                                                      for a, o in node.operands)))
    return Transpose(node)


def _oriented(letters: str, node: Node, order: str) -> Node:
    """``node`` (axes ``letters``; one letter: a column) with its axes in ``order``."""
    return node if letters == order or len(letters) < 2 else transposed(node)


_as_row = transposed


class _Contraction:
    """The operands still to combine, ``(letters, node)`` each, and the scalars taken out."""

    def __init__(self, einsum: Einsum):
        self.output = einsum.output
        self.operands = [(letters, Product(ONE, (node,))) for letters, node in einsum.inputs]
        self.scalars: list[Node] = []

    def mentions(self, letter: str, skip=()) -> int:
        return sum(letter in letters for k, (letters, _) in enumerate(self.operands) if k not in skip)

    def summed(self, letter: str) -> bool:
        return letter not in self.output

    def step(self) -> bool:
        """One rewrite; False when none applies."""
        return self._sum_alone() or self._merge() or self._matmul()

    def _sum_alone(self) -> bool:
        for k, (letters, node) in enumerate(self.operands):
            alone = [x for x in letters if self.summed(x) and self.mentions(x) == 1]
            if not alone:
                continue
            if len(alone) == len(letters):
                self.scalars.append(SumAll(node))
                del self.operands[k]
            else:
                kept = letters.replace(alone[0], "")
                summed = AxisSum(node, axis=letters.index(alone[0]))
                self.operands[k] = (kept, summed if letters.index(alone[0]) == 1 else _as_row(summed))
            return True
        return False

    def _merge(self) -> bool:
        for k, (a, x) in enumerate(self.operands):
            for j, (b, y) in enumerate(self.operands):
                if j == k or not set(b) <= set(a):
                    continue
                if set(a) == set(b) and all(self.summed(l) and self.mentions(l, (j, k)) == 0 for l in a):
                    self.scalars.append(VDot(x, _oriented(b, y, a)))
                    self.operands = [o for i, o in enumerate(self.operands) if i not in (j, k)]
                    return True
                if len(b) == 1 and len(a) == 2 and self.summed(b) and self.mentions(b, (j, k)) == 0:
                    continue    # a vector summed against a matrix and nothing else is their product
                                # (``_matmul``): one pass, not a matrix made entrywise and then summed
                if len(b) == 1 and len(a) == 2 and a.index(b) == 1:
                    y = _as_row(y)
                self.operands[k] = (a, Product(ONE, (y if len(b) < len(a) else _oriented(b, y, a), x)))
                del self.operands[j]
                return True
        return False

    def _matmul(self) -> bool:
        for k, (a, x) in enumerate(self.operands):
            for j in range(k + 1, len(self.operands)):
                b, y = self.operands[j]
                shared = [l for l in a if l in b and self.summed(l) and self.mentions(l, (j, k)) == 0]
                if not shared:
                    continue
                s = shared[0]
                left, right = a.replace(s, ""), b.replace(s, "")
                if left and right:
                    product, letters = MatMul(_oriented(a, x, left + s), _oriented(b, y, s + right)), left + right
                elif left:
                    product, letters = MatMul(_oriented(a, x, left + s), y), left
                else:
                    product, letters = MatMul(_oriented(b, y, right + s), x), right
                self.operands[k] = (letters, product)
                del self.operands[j]
                return True
        return False

    def result(self, shape) -> Node | None:
        """The finished value in ``shape``, or None if some index is still to be summed."""
        if any(self.summed(l) for letters, _ in self.operands for l in letters):
            return None
        placed = []
        for letters, node in self.operands:
            if len(shape) == 2 and len(self.output) == 2:
                frame = [l if l in letters else None for l in self.output]
                if None not in frame:
                    placed.append(_oriented(letters, node, self.output))
                else:
                    placed.append(node if frame[0] is not None else _as_row(node))
            elif len(shape) == 2:                       # one output letter, a column or a row
                placed.append(node if shape[1] == 1 else _as_row(node))
            elif shape:
                return None
        if bool(shape) != bool(placed):               # a value of the einsum's frame, or a number
            return None
        factors = tuple(self.scalars) + tuple(sorted(placed, key=lambda f: sum(1 for d in f.shape if d != 1)))
        return factors[0] if len(factors) == 1 and not placed else Product(ONE, factors)


def as_contractions(node: Node) -> Node:
    """An einsum as matrix products and single reductions, where it factors (a node-level rewrite)."""
    if not isinstance(node, Einsum) or any(len(letters) > 2 or not letters for letters, _ in node.inputs):
        return node
    contraction = _Contraction(node)
    while contraction.operands and contraction.step():
        pass
    result = contraction.result(node.shape)
    return node if result is None else result


def fixed_path(inputs) -> list:
    """A contraction order for ``np.einsum(..., optimize=path)`` over operands with the letters
    ``inputs``, found once when the code is written: repeatedly the first two operands that share
    an index (else the first two), each pair's result appended last, as NumPy's paths have it."""
    letters, path = [set(x) for x in inputs], ["einsum_path"]
    while len(letters) > 1:
        pair = next(((k, j) for k in range(len(letters)) for j in range(k + 1, len(letters))
                     if letters[k] & letters[j]), (0, 1))
        path.append(pair)
        merged = letters[pair[0]] | letters[pair[1]]
        letters = [x for i, x in enumerate(letters) if i not in pair] + [merged]
    return path
