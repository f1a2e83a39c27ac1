"""Straight-line rewrites of generated statements that save whole array passes.

The lowering prints each named value on its own, so the loss and the first
adjoint both spell out the error (``Ystar - Y``), and a sum of squares is a
square, a temporary and a sum. Here, over the statements of one function:

- ``(E ** 2).sum()`` becomes ``np.vdot(E, E)`` (one pass, no temporary);
- ``-a + b`` becomes ``b - a`` (no negated temporary);
- an array expression written more than once becomes one statement,
  ``shared_1 = E``, placed before its first use, and is read from there on.

A subexpression is shared only when nothing between its first and last use
can change what it reads: every statement in between is a plain ``name = ...``
that assigns none of its names (no ``out=`` calls, ``+=`` or slice writes).
"""
from __future__ import annotations

import ast
from dataclasses import replace

from symgrad.emit.statements import is_plain, names, np_call
from symgrad.index.conventions import SHARED_PREFIX

SHARED = SHARED_PREFIX
_VALUE_NODES = (ast.BinOp, ast.UnaryOp, ast.Call, ast.Compare)
_FRESH_ARRAYS = {"ones"}                 # np.ones(shape): the same values every time; never np.empty


def _reads_array(node: ast.AST, arrays: set[str]) -> bool:
    return bool(names(node) & arrays) or any(np_call(n) in _FRESH_ARRAYS for n in ast.walk(node))


def _shareable(node: ast.AST, arrays: set[str]) -> bool:
    if not isinstance(node, _VALUE_NODES) or not _reads_array(node, arrays):
        return False
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    return not any(k.arg == "out" for c in calls for k in c.keywords) and not any(
        isinstance(c.func, ast.Attribute) and c.func.attr in ("empty", "empty_like") for c in calls)


class _SumOfSquares(ast.NodeTransformer):
    """``(E ** 2).sum()`` -> ``np.vdot(E, E)`` for an array ``E``."""

    def __init__(self, arrays: set[str]):
        self.arrays = arrays

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr == "sum" and not node.args and not node.keywords
                and isinstance(f.value, ast.BinOp) and isinstance(f.value.op, ast.Pow)
                and isinstance(f.value.right, ast.Constant) and f.value.right.value == 2
                and _reads_array(f.value.left, self.arrays)
                and not isinstance(f.value.left, (ast.Compare, ast.BoolOp))):   # vdot of bools is a bool
            base = f.value.left
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "vdot", ast.Load()), [base, base], [])
        return node


class _Subtract(ast.NodeTransformer):
    """``-a + b`` -> ``b - a`` and ``a + -b`` -> ``a - b``: no negated temporary."""

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        if isinstance(node.op, ast.Add):
            if isinstance(node.right, ast.UnaryOp) and isinstance(node.right.op, ast.USub):
                return ast.BinOp(node.left, ast.Sub(), node.right.operand)
            if isinstance(node.left, ast.UnaryOp) and isinstance(node.left.op, ast.USub):
                return ast.BinOp(node.right, ast.Sub(), node.left.operand)
        return node


class _Replace(ast.NodeTransformer):
    def __init__(self, key: str, name: str):
        self.key, self.name, self.count = key, name, 0

    def generic_visit(self, node):
        if ast.dump(node) == self.key:
            self.count += 1
            return ast.Name(self.name, ast.Load())
        return super().generic_visit(node)


def _occurrences(statements: list, arrays: set[str]) -> dict[str, list]:
    """ast.dump of each shareable subexpression -> (statement index, node) of every occurrence."""
    found: dict[str, list] = {}
    for k, statement in enumerate(statements):
        if statement is None or not is_plain(statement):
            continue
        for node in ast.walk(statement.value):
            if _shareable(node, arrays):
                found.setdefault(ast.dump(node), []).append((k, node))
    return found


def _undisturbed(statements: list, first: int, last: int, node: ast.AST) -> bool:
    reads = names(node)
    return all(s is not None and is_plain(s) and s.targets[0].id not in reads
               for s in statements[first:last])


def _rename(names: dict[str, str], statements: list, hoisted: dict) -> None:
    """Number the shared values in the order they are computed (they were found largest first)."""
    for node in [*statements, *(a for extra in hoisted.values() for a in extra)]:
        for leaf in ast.walk(node) if node is not None else ():
            if isinstance(leaf, ast.Name) and leaf.id in names:
                leaf.id = names[leaf.id]


def share_subexpressions(blocks: tuple, arrays: set[str], skip: frozenset = frozenset()) -> tuple:
    """``blocks`` (``codegen.Block``: the statements of one function, in order) with repeated array expressions
    computed once and sums of squares as ``np.vdot``. ``arrays``: the names holding arrays;
    blocks named in ``skip`` are left as they are (they may not run: a guarded block)."""
    where, statements = [], []
    for b, block in enumerate(blocks):
        for line in block.lines:
            where.append(b)
            tree = ast.parse(line).body[0] if block.name not in skip else None
            statements.append(_Subtract().visit(_SumOfSquares(arrays).visit(tree)) if tree is not None else None)
    arrays, hoisted, counter = set(arrays), {}, 0
    while True:
        candidates = [(key, uses) for key, uses in _occurrences(statements, arrays).items()
                      if len(uses) > 1 and _undisturbed(statements, uses[0][0], uses[-1][0], uses[0][1])
                      and sum(statements[k].value is node for k, node in uses) < 2]   # no aliased results
        if not candidates:
            break
        key, uses = max(candidates, key=lambda kv: (len(kv[0]), -kv[1][0][0]))   # the largest first
        counter += 1
        name = f"_{SHARED}_{counter}"         # renamed in order of use below
        arrays.add(name)
        first = uses[0][0]
        hoisted.setdefault(first, []).append(
            ast.Assign([ast.Name(name, ast.Store())], uses[0][1], lineno=0))
        replacer = _Replace(key, name)
        for k in sorted({k for k, _ in uses}):
            statements[k] = replacer.visit(statements[k])
    order = [a.targets[0].id for k in sorted(hoisted) for a in hoisted[k]]
    taken = set().union(*(names(s) for s in statements if s is not None)) | arrays
    prefix = SHARED
    while any(name.startswith(f"{prefix}_") for name in taken - set(order)):
        prefix = f"{prefix}_value"                    # a model's own tensor is called shared_1
    _rename({old: f"{prefix}_{n}" for n, old in enumerate(order, 1)}, statements, hoisted)
    lines: list[list[str]] = [[] for _ in blocks]
    k = 0
    for b, block in enumerate(blocks):
        for line in block.lines:
            for extra in hoisted.get(k, []):
                lines[b].append(ast.unparse(ast.fix_missing_locations(extra)))
            s = statements[k]
            changed = s is not None and ast.dump(s) != ast.dump(ast.parse(line).body[0])
            lines[b].append(ast.unparse(s) if changed else line)
            k += 1
    return tuple(replace(block, lines=tuple(new)) if tuple(new) != block.lines else block
                 for block, new in zip(blocks, lines))
