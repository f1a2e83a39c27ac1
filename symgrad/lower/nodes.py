"""The array IR: typed nodes between lowering and printing.

Each node is one array operation and knows its shape, a tuple of SymPy
dimensions in the frame of the output it is computed for (an axis the value
does not span has size 1 and broadcasts; a scalar has shape ``()``). Nodes
are frozen dataclasses, compared by value, and say what is computed, never
how it is spelled: every spelling (NumPy, the LaTeX matrix view) is a printer
with one method per node type. A shape computed from the children's is computed once per node
(``cached_property``; nodes never change), since every level above asks it again.

Leaves are a whole named tensor, a slice of one (a block of a
concatenation) and the number a 1 x 1 tensor holds. An ``Elementwise`` node is a pointwise map: a scalar SymPy body
whose ``Indexed`` entries are the placed array operands (the body is what a
fused-loop printer would print per element). Above them sit products with a
scalar coefficient, sums of terms, contractions (matrix product, inner
product, axis and full sums, einsum), broadcasting and block assembly.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property, lru_cache

import sympy as sp

from symgrad.model.functions import is_mask

Shape = tuple  # SymPy dimensions, one per axis


def broadcast_shape(shapes) -> Shape:
    """The shape of an entrywise combination: per axis, the first size that is not 1."""
    return _broadcast(tuple(shapes))


@lru_cache(maxsize=1 << 12)
def _broadcast(shapes: tuple) -> Shape:
    """``broadcast_shape``, remembered: a model combines few distinct shapes, and the passes
    rebuild nodes, each asking again."""
    shapes = [s for s in shapes if s]
    if not shapes:
        return ()
    rank = len(shapes[0])
    return tuple(next((s[axis] for s in shapes if s[axis] != 1), sp.Integer(1)) for axis in range(rank))


def same_shape(a: Shape, b: Shape) -> bool:
    """Whether two shapes are identically equal, whatever the dimensions."""
    return len(a) == len(b) and all(_same_size(x, y) for x, y in zip(a, b))


@lru_cache(maxsize=1 << 12)
def _same_size(x: sp.Expr, y: sp.Expr) -> bool:
    """Whether two sizes are identically equal (remembered: a model has few distinct sizes)."""
    return sp.expand(x - y) == 0


class Node:
    """Base class of every array node. Its hash is the one the dataclass would compute (of the
    tuple of its fields), computed once per node: nodes never change, and the passes put the
    same deep trees into dicts and sets again and again, which rehashed every level each time."""

    shape: Shape

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__hash__ = Node._remembered_hash     # a class's own __hash__: @dataclass keeps it

    def _remembered_hash(self) -> int:
        remembered = self.__dict__.get("_hash")
        if remembered is None:
            remembered = hash(tuple(getattr(self, name) for name in _hashed_fields(type(self))))
            self.__dict__["_hash"] = remembered      # as cached_property stores, past the frozen __setattr__
        return remembered

    @property
    def boolean(self) -> bool:
        """A mask (NumPy holds it as booleans): only an elementwise node can be one (``Elementwise.boolean``)."""
        return False

    def __getstate__(self) -> dict:
        """A copy or pickle leaves the remembered hash behind (a string's hash differs between
        processes)."""
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}


@lru_cache(maxsize=1 << 14)
def node_repr(node: Node) -> str:
    """``repr(node)``, remembered: the passes order and size nodes by it again and again, and it
    prints the node's whole tree (each SymPy size and body with a new printer)."""
    return repr(node)


@lru_cache(maxsize=None)
def _hashed_fields(cls) -> tuple[str, ...]:
    """The fields a dataclass's generated ``__hash__`` hashes, in order."""
    return tuple(f.name for f in fields(cls) if (f.compare if f.hash is None else f.hash))


@dataclass(frozen=True)
class Tensor(Node):
    """A named tensor, whole."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Entry(Node):
    """The number held by a 1 x 1 tensor."""

    name: str

    @property
    def shape(self) -> Shape:
        return ()


@dataclass(frozen=True)
class Slice(Node):
    """A block of ``base``: per axis ``(start, stop)`` (stop excluded), or None for the whole axis."""

    base: Tensor
    bounds: tuple

    @cached_property
    def shape(self) -> Shape:
        return tuple(size if b is None else sp.expand(b[1] - b[0])
                     for b, size in zip(self.bounds, self.base.shape))


@dataclass(frozen=True)
class Diagonal(Node):
    """The diagonal of a square tensor: a column ``(n, 1)`` (``axis`` 0) or a row ``(1, n)`` (1)."""

    base: Tensor
    axis: int

    @property
    def shape(self) -> Shape:
        n = self.base.shape[0]
        return (n, sp.Integer(1)) if self.axis == 0 else (sp.Integer(1), n)


@dataclass(frozen=True)
class Trace(Node):
    """The sum of the diagonal of a square tensor."""

    base: Tensor

    @property
    def shape(self) -> Shape:
        return ()


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node

    @property
    def shape(self) -> Shape:
        return tuple(reversed(self.operand.shape))


@dataclass(frozen=True)
class Elementwise(Node):
    """A pointwise map: ``body`` is a scalar SymPy expression (arithmetic and table functions)
    whose ``Indexed`` entries stand for the array operands, each paired with its node."""

    body: sp.Expr
    operands: tuple  # ((sp.Indexed, Node), ...)

    @cached_property
    def shape(self) -> Shape:
        return broadcast_shape(node.shape for _, node in self.operands)

    def operand(self, access: sp.Indexed) -> Node:
        return dict(self.operands)[access]

    @property
    def boolean(self) -> bool:
        """A mask: NumPy holds it as booleans, which are neither negated nor summed as numbers."""
        return is_mask(self.body)


@dataclass(frozen=True)
class Product(Node):
    """``coefficient * factor * factor ...``, entrywise with broadcasting, smallest factors first."""

    coefficient: sp.Expr
    factors: tuple

    @cached_property
    def shape(self) -> Shape:
        return broadcast_shape(f.shape for f in self.factors)


@dataclass(frozen=True)
class Add(Node):
    """A sum of terms, broadcasting."""

    terms: tuple

    @cached_property
    def shape(self) -> Shape:
        return broadcast_shape(t.shape for t in self.terms)


@dataclass(frozen=True)
class MatMul(Node):
    """``left @ right``: a sum over the index the two sides share."""

    left: Node
    right: Node

    @property
    def shape(self) -> Shape:
        return (self.left.shape[0], self.right.shape[1])


@dataclass(frozen=True)
class VDot(Node):
    """The sum of the entrywise product of two arrays of one shape: a scalar."""

    left: Node
    right: Node

    @property
    def shape(self) -> Shape:
        return ()


@dataclass(frozen=True)
class RowDot(Node):
    """The sum along the last axis of the entrywise product of ``left`` and ``right``, which
    share that axis (and broadcast against each other along the first): a column, each row's
    inner product."""

    left: Node
    right: Node

    @cached_property
    def shape(self) -> Shape:
        return (broadcast_shape((self.left.shape, self.right.shape))[0], sp.Integer(1))


@dataclass(frozen=True)
class SquaredNorm(Node):
    """The sum of squares of the entries of ``operand``."""

    operand: Node

    @property
    def shape(self) -> Shape:
        return ()


@dataclass(frozen=True)
class SumAll(Node):
    """The sum of every entry of ``operand``."""

    operand: Node

    @property
    def shape(self) -> Shape:
        return ()


@dataclass(frozen=True)
class AxisSum(Node):
    """The sum of ``operand`` over ``axis``, which keeps size 1."""

    operand: Node
    axis: int

    @property
    def size(self) -> sp.Expr:
        return self.operand.shape[self.axis]

    @property
    def shape(self) -> Shape:
        return tuple(sp.Integer(1) if k == self.axis else n for k, n in enumerate(self.operand.shape))


@dataclass(frozen=True)
class Einsum(Node):
    """A contraction over several indices: ``inputs`` names each operand's axes by letters;
    the result has the axes ``output``, placed in ``shape`` (a one-letter result in a
    two-axis frame keeps size 1 along the other axis)."""

    inputs: tuple     # (letters, operand node) per operand
    output: str
    shape: Shape


@dataclass(frozen=True)
class Reshape(Node):
    """``operand``'s single value as an array of ``shape`` (a 1 x 1 tensor)."""

    operand: Node
    shape: Shape


@dataclass(frozen=True)
class BroadcastTo(Node):
    """``operand`` repeated along its size-1 axes to ``shape``; ``copy``: as a new float array."""

    operand: Node
    shape: Shape
    copy: bool = True


@dataclass(frozen=True)
class Zeros(Node):
    shape: Shape


@dataclass(frozen=True)
class Concat(Node):
    """``blocks`` stacked along ``axis``, each with its ``(start, stop)`` span there."""

    blocks: tuple
    spans: tuple
    axis: int
    shape: Shape


@dataclass(frozen=True)
class BlockWrite:
    """``value`` added into the block ``bounds`` (per axis ``(start, stop)`` or None) of the target."""

    bounds: tuple
    value: Node


@dataclass(frozen=True)
class DiagonalWrite:
    """``value`` (a column ``(n, 1)`` or a scalar) added into the diagonal of a square target."""

    value: Node


@dataclass(frozen=True)
class BlockSum(Node):
    """``base`` (zeros when None) with each ``BlockWrite`` added into its block (each
    ``DiagonalWrite`` into the diagonal)."""

    base: Node | None
    writes: tuple
    shape: Shape


@dataclass(frozen=True)
class Ones(Node):
    """An array of ones (the vector an axis sum is a matrix product with), or of one other number
    ``value`` (a scalar: the vector a mean is a matrix product with); ``kept``: made once per
    shape and number and kept, read-only, between calls (``passes.kept_constants``)."""

    shape: Shape
    value: sp.Expr = sp.Integer(1)
    kept: bool = False


@dataclass(frozen=True)
class AxisMax(Node):
    """The largest entry of the tensor ``base`` along ``axis``, which keeps size 1."""

    base: Tensor
    axis: int

    @property
    def shape(self) -> Shape:
        return tuple(sp.Integer(1) if k == self.axis else n for k, n in enumerate(self.base.shape))


@dataclass(frozen=True)
class MatrixFunction(Node):
    """An opaque function (``linalg.Opaque``: inv, det, logdet) of the whole matrix ``source``."""

    opaque: object
    source: Tensor
    shape: Shape
