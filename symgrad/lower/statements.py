"""The statement level of the array IR: a function body is a list of these, printed last.

Each statement names the array it writes (``target``) and holds array nodes
(``nodes``) for what it reads. ``Assign`` makes a new name (a new array, or a
name for a view of one); every other statement writes into an array that
exists already: its entries computed there (``ComputeInto``, ``Allocate``
makes the array for that), a ufunc evaluated into it (``UfuncInto``: the
in-place steps, ``t += x``, ``np.tanh(t, out=t)``), a block or the diagonal
added into it; ``Release`` drops a name nothing reads any more. Passes rewrite these lists; printers print each statement with
one ``_print_<Statement>`` method, as they print nodes.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache

import sympy as sp

from symgrad.index.rebuild import replaced
from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import (Add, BlockSum, BlockWrite, DiagonalWrite, Elementwise, MatMul, Node, Product, Shape,
                                 Slice, Tensor, Transpose, Zeros, broadcast_shape, same_shape)


class Statement:
    """Base class of every statement."""

    target: str


@dataclass(frozen=True)
class Assign(Statement):
    """``target = value``."""

    target: str
    value: Node


@dataclass(frozen=True)
class Allocate(Statement):
    """``target`` made as an array of ``shape`` whose entries are all written before they are read."""

    target: str
    shape: Shape


@dataclass(frozen=True)
class ComputeInto(Statement):
    """``value`` computed into the existing array ``target`` (of the value's shape)."""

    target: str
    value: Node


@dataclass(frozen=True)
class UfuncInto(Statement):
    """``target`` set to the NumPy ufunc ``ufunc`` of ``arguments`` (nodes, or SymPy numbers and
    scalars), computed into it: ``Tensor(target)`` among them reads its value so far."""

    target: str
    ufunc: str
    arguments: tuple


@dataclass(frozen=True)
class BlockAssign(Statement):
    """``value`` written into the block ``bounds`` (per axis ``(start, stop)`` or None) of
    ``target``, an array of ``shape``."""

    target: str
    bounds: tuple
    shape: Shape
    value: Node


@dataclass(frozen=True)
class BlockAdd(Statement):
    """``value`` added into the block ``bounds`` of ``target``, an array of ``shape``."""

    target: str
    bounds: tuple
    shape: Shape
    value: Node


@dataclass(frozen=True)
class DiagonalAdd(Statement):
    """``value`` (a column or a scalar) added into the diagonal of the square ``target`` of
    ``size`` rows; ``into_zeros``: nothing but zeros was written to ``target`` yet."""

    target: str
    size: sp.Expr
    value: Node
    into_zeros: bool


@dataclass(frozen=True)
class WorkspaceTake(Statement):
    """The arrays ``slots`` (``(name, shape)`` pairs) taken from the function's workspace, the
    buffers its last call kept for the same dimensions ``key``, or made anew; ``target``: the
    first slot's name."""

    target: str
    key: tuple
    slots: tuple
    prefix: str = ""     # the workspace's functions: ``_workspace``, ``_keep`` after the prefix (``_hvp``)


@dataclass(frozen=True)
class WorkspaceKeep(Statement):
    """The arrays ``slots`` kept in the function's workspace for the next call of dimensions
    ``key`` (in place of whatever it held); ``target``: the first slot's name."""

    target: str
    key: tuple
    slots: tuple
    prefix: str = ""     # the workspace's functions: ``_workspace``, ``_keep`` after the prefix (``_hvp``)


@dataclass(frozen=True)
class Release(Statement):
    """The name ``target`` dropped (``del``): nothing after reads it, so its array is freed, or
    left to the next allocation of its size, as soon as no other name holds it."""

    target: str


def value_statements(target: str, node: Node) -> list[Statement]:
    """The statements giving ``target`` the value ``node``: one assignment, or for a sum of
    blocks its base (zeros where none) and then each block added into it."""
    if not isinstance(node, BlockSum):
        return [Assign(target, node)]
    out: list[Statement] = [Assign(target, node.base if node.base is not None else Zeros(node.shape))]
    for write in node.writes:
        if isinstance(write, DiagonalWrite):
            out.append(DiagonalAdd(target, node.shape[0], write.value, len(out) == 1 and node.base is None))
        else:
            out.append(BlockAdd(target, write.bounds, node.shape, write.value))
    return out


def statements_into(target: str, total: Add) -> list[Statement]:
    """Statements computing the sum ``total`` inside the existing array ``target``: a matrix
    product of the sum's whole shape straight into it (one that is broadcast against the other
    terms, ``P @ c - q``, is not), then every other term added or subtracted."""
    shape = broadcast_shape(t.shape for t in total.terms)

    def into_view(term):
        return plain_matmul(term) and same_shape(term.shape, shape)
    terms = sorted(total.terms, key=lambda t: not into_view(t))
    first = terms[0].factors[0] if into_view(terms[0]) else terms[0]
    return [ComputeInto(target, first), *(added_into(target, shape, term) for term in terms[1:])]


def added_into(target: str, shape: Shape, term: Node) -> UfuncInto:
    """``term`` added into the existing array ``target`` of ``shape`` (subtracted where it is
    printed with a minus)."""
    buffer = Tensor(target, shape)
    if printed_negative(term):
        return UfuncInto(target, "subtract", (buffer, Product(-term.coefficient, term.factors)))
    return UfuncInto(target, "add", (buffer, term))


def printed_negative(term: Node) -> bool:
    """A product printed with a leading minus: its coefficient is -1 or a negative number."""
    return isinstance(term, Product) and (
        term.coefficient == -1 or (term.coefficient.is_Atom and term.coefficient.is_negative is True))


def plain_matmul(term: Node) -> bool:
    """A term that is one matrix product and nothing else."""
    return isinstance(term, Product) and term.coefficient == 1 and len(term.factors) == 1 \
        and isinstance(term.factors[0], MatMul)


def nodes_of(statement: Statement) -> list[Node]:
    """The array nodes a statement reads (its arguments; for a ufunc, the numbers left out)."""
    if isinstance(statement, UfuncInto):
        return [a for a in statement.arguments if isinstance(a, Node)]
    return [getattr(statement, name) for name in field_names(type(statement))
            if isinstance(getattr(statement, name), Node)]


@lru_cache(maxsize=None)
def field_names(cls) -> tuple[str, ...]:
    """The field names of a node or statement class (``dataclasses.fields`` builds its answer anew
    at every call, and the walks below ask it of every node they meet)."""
    return tuple(f.name for f in fields(cls))


def subnodes(node: Node):
    """``node`` and every node inside it, parents before children."""
    yield node
    for child in children(node):
        yield from subnodes(child)


def subnodes_of(node: Node, kind) -> list[Node]:
    """The nodes of class ``kind`` (a class or a tuple of them) among ``subnodes(node)``, each
    occurrence, in the same order; subtrees that hold none (``kinds_in``) are not walked."""
    out: list[Node] = []
    wanted = kind if isinstance(kind, tuple) else (kind,)

    def walk(sub: Node) -> None:
        if kinds_in(sub).isdisjoint(wanted):
            return
        if isinstance(sub, kind):
            out.append(sub)
        for child in children(sub):
            walk(child)
    walk(node)
    return out


@lru_cache(maxsize=1 << 16)
def kinds_in(node: Node) -> frozenset[type]:
    """The classes of ``node`` and of every node inside it (``children``, which lists every node a
    node holds). Remembered, and built from its children's: nodes are immutable, and every pass
    asks it of the same subtrees to skip those it cannot change."""
    return frozenset((type(node),)).union(*(kinds_in(child) for child in children(node)))


def holding(*classes):
    """A ``touches`` test for ``transformed`` and ``with_nodes``: whether a subtree holds a node
    of one of ``classes`` (for a rewrite that changes nodes of those classes alone)."""
    wanted = frozenset(classes)
    return lambda node: not wanted.isdisjoint(kinds_in(node))


_LEAVES = (sp.Basic, str, int, type(None))     # values that never hold a node


@lru_cache(maxsize=None)
def _holding_nodes(cls) -> tuple[str, ...]:
    """The fields of a node class that may hold nodes: all but its shape (SymPy sizes only)."""
    return tuple(name for name in field_names(cls) if name != "shape")


def children(node: Node) -> list[Node]:
    """The nodes ``node`` is computed from."""
    if isinstance(node, Elementwise):
        return [operand for _, operand in node.operands]
    out = []
    for name in _holding_nodes(type(node)):
        value = getattr(node, name)
        if isinstance(value, _LEAVES):
            continue
        for item in (value if isinstance(value, tuple) else (value,)):
            if isinstance(item, Node):
                out.append(item)
            elif isinstance(item, tuple):          # an Einsum's (letters, operand)
                out += [x for x in item if isinstance(x, Node)]
            elif hasattr(item, "value") and isinstance(item.value, Node):   # a block or diagonal write
                out.append(item.value)
    return out


def scalar_names(expr) -> frozenset[str]:
    """The scalars (dimensions, scalar inputs) a SymPy body or coefficient reads, its entries aside."""
    return frozenset(s.name for s in scalar_symbols(expr)) if isinstance(expr, sp.Basic) else frozenset()


@lru_cache(maxsize=1 << 14)
def scalar_symbols(expr: sp.Basic) -> frozenset:
    """The symbols of the scalars a SymPy expression reads, its entries aside; remembered: every
    pass asks it of the same bodies. Each entry stands in as a symbol of its own while they are
    read, never as a number, which could cancel the terms a scalar multiplies
    (``a*Z[i, j] - a`` at ``Z[i, j] = 1`` is 0, and reads no ``a``)."""
    entries = {a: sp.Dummy() for a in atoms_of(expr, sp.Indexed)}
    return frozenset(replaced(expr, entries).free_symbols - set(entries.values()))


@lru_cache(maxsize=1 << 14)
def node_reads(node: Node) -> frozenset[str]:
    """Every name ``node`` reads: its tensors, and the scalars in its bodies and coefficients
    (the dimensions in its shapes are left out: they are never arrays). Remembered, and built
    from its children's: nodes are immutable, and the passes ask it of the same subtrees again."""
    out = set()
    name = getattr(node, "name", None)
    if isinstance(name, str):
        out.add(name)
    for field in field_names(type(node)):
        out |= scalar_names(getattr(node, field))
    for child in children(node):
        out |= node_reads(child)
    return frozenset(out)


def reads(statement: Statement) -> set[str]:
    """Every name ``statement`` reads (an in-place statement reads its target too)."""
    out = set().union(*(node_reads(n) for n in nodes_of(statement)), set())
    if isinstance(statement, UfuncInto):
        out |= set().union(*(scalar_names(a) for a in statement.arguments if not isinstance(a, Node)), set())
    if isinstance(statement, (WorkspaceTake, WorkspaceKeep)):
        out |= {str(d) for d in statement.key}
        return out | ({name for name, _ in statement.slots} if isinstance(statement, WorkspaceKeep) else set())
    if not isinstance(statement, (Assign, Allocate)):
        out.add(statement.target)
    return out


def transformed(node: Node, rewrite, touches=None) -> Node:
    """``node`` rebuilt bottom-up, ``rewrite`` applied to every node once its children are. A
    node none of whose fields changed is kept as it is, not rebuilt (a tuple field whose items
    all came back unchanged is the same tuple: nodes are immutable values). ``touches``: a test
    of a subtree that is False only where ``rewrite`` returns each node inside it as it is
    (``holding``); such a subtree is kept whole, unvisited: by induction from its leaves, each
    of its nodes would come back as it is."""
    def visit(value):
        if isinstance(value, Node):
            if touches is not None and not touches(value):
                return value
            return rewrite(rebuilt(value))
        if isinstance(value, _LEAVES):
            return value
        if isinstance(value, tuple):
            items = tuple(visit(v) for v in value)
            return value if all(new is old for new, old in zip(items, value)) else items
        if isinstance(value, (BlockWrite, DiagonalWrite)):
            new = visit(value.value)
            return value if new is value.value else replace(value, value=new)
        return value

    def rebuilt(node: Node) -> Node:
        changes = {name: visit(getattr(node, name)) for name in _holding_nodes(type(node))}
        return replace(node, **changes) if any(changes[k] is not getattr(node, k) for k in changes) else node
    return visit(node)


def with_nodes(statement: Statement, rewrite, touches=None) -> Statement:
    """``statement`` with every node it reads rebuilt by ``transformed(node, rewrite, touches)``;
    the statement itself where no node changed."""
    if isinstance(statement, UfuncInto):
        arguments = tuple(transformed(a, rewrite, touches) if isinstance(a, Node) else a
                          for a in statement.arguments)
        unchanged = all(new is old for new, old in zip(arguments, statement.arguments))
        return statement if unchanged else replace(statement, arguments=arguments)
    changes = {name: transformed(getattr(statement, name), rewrite, touches)
               for name in field_names(type(statement)) if isinstance(getattr(statement, name), Node)}
    if all(new is getattr(statement, name) for name, new in changes.items()):
        return statement
    return replace(statement, **changes)


def unwrapped(node: Node) -> Node:
    """The node a sum of one term or a bare product of one factor prints as."""
    while True:
        if isinstance(node, Add) and len(node.terms) == 1:
            node = node.terms[0]
        elif isinstance(node, Product) and node.coefficient == 1 and len(node.factors) == 1 \
                and not (isinstance(node.factors[0], Elementwise) and node.factors[0].boolean):
            node = node.factors[0]
        else:
            return node


def named_array(value: Node) -> str | None:
    """The name of the array ``value`` is another name or a view of (``grad_Z1 = grad_H``,
    ``G1 = G[:M]``, ``X.T``), or None for a new array."""
    value = unwrapped(value)
    if isinstance(value, Elementwise) and isinstance(value.body, sp.Indexed):
        value = value.operand(value.body)
    if isinstance(value, Transpose):
        value = value.operand
    if isinstance(value, Slice):
        value = value.base
    return value.name if isinstance(value, Tensor) else None
