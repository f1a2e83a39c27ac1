"""Kept constants: the vectors of ones (and of a mean's ``1/n``) made once, not at every call.

Every axis sum is a matrix product with a vector of ones (``passes.ones``) and every mean one
with a vector of ``1/n`` (``passes.scaled_ones``); the function makes each vector anew at every
call, ``np.ones((D, 1))``, about 1.5 µs here, where a small model's whole gradient is a few
dozen calls of that size. The module keeps them instead (``_constant(shape, number)``: made
at the first call of those dimensions, read-only, then a dictionary look-up).

Safe because such a vector is kept only where nothing can change it: it is read only as an
operand of matrix products (never named by a second name, viewed, written in place, returned
or handed to ``forward()``'s caller: a name in ``live_out`` or ``protected`` is left alone),
it is assigned once, and the buffers pass never takes it as a buffer (``buffers._allocates``).
The arrays are read-only besides, so a write that slipped past these rules would raise, never
change a later call's result. A vector in a statement that may not run is left as it is.
"""
from __future__ import annotations

from dataclasses import replace

from symgrad.lower.nodes import MatMul, Node, Ones, Tensor
from symgrad.lower.statements import Assign, nodes_of, subnodes, with_nodes


def _reads(statement, names: set[str]) -> tuple[dict, dict]:
    """How many times ``statement`` reads each of ``names``, in all and as a matrix product's
    operand."""
    total, as_operand = {}, {}
    for node in nodes_of(statement):
        for sub in subnodes(node):
            if isinstance(sub, Tensor) and sub.name in names:
                total[sub.name] = total.get(sub.name, 0) + 1
            if isinstance(sub, MatMul):
                for side in (sub.left, sub.right):
                    if isinstance(side, Tensor) and side.name in names:
                        as_operand[side.name] = as_operand.get(side.name, 0) + 1
    return total, as_operand


def _kept(node: Node) -> Node:
    if isinstance(node, MatMul):
        left = replace(node.left, kept=True) if isinstance(node.left, Ones) else node.left
        right = replace(node.right, kept=True) if isinstance(node.right, Ones) else node.right
        return node if left is node.left and right is node.right else MatMul(left, right)
    return node


def with_kept_constants(statements: list, live_out: set[str], protected: set[str],
                        fixed: frozenset = frozenset()) -> list:
    """``statements`` (one function's, in order) with every vector of one number that only
    matrix products read made as a kept constant (``fixed``: the indices of statements left as
    they are, whose reads count all the same)."""
    assigned: dict[str, int] = {}
    for statement in statements:
        assigned[statement.target] = assigned.get(statement.target, 0) + 1
    names = {s.target for k, s in enumerate(statements) if k not in fixed and isinstance(s, Assign)
             and isinstance(s.value, Ones) and assigned[s.target] == 1} - set(live_out) - set(protected)
    for statement in statements:
        total, as_operand = _reads(statement, names)
        names -= {n for n, count in total.items() if as_operand.get(n, 0) != count}
    out = []
    for k, statement in enumerate(statements):
        if k in fixed:
            out.append(statement)
        elif isinstance(statement, Assign) and statement.target in names:
            out.append(Assign(statement.target, replace(statement.value, kept=True)))
        else:
            out.append(with_nodes(statement, _kept))
    return out
