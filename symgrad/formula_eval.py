"""Evaluating a formula tree numerically, in matrix style or in index style.

Matrix style follows NumPy (broadcasting, ``@``, ``.T``, slices, ``.sum``) plus
``diag(v)`` and ``ones(r, c)`` as the notes use them. Index style gives every
value its index labels: an entry ``X1[j, c]`` is ``X1`` with axes labelled
``j, c``; products line labels up; ``sum(c, ...)`` sums over ``c``, whose
range is read off the first axis it indexes. Errors name the operation, the
shapes and the column.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formula_tree import Binary, Call, FormulaError, Method, Name, Num, Slice, Subscript, Sum, Unary
from .rules import TABLE, numeric

_OPS = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power, "@": np.matmul,
    "&": np.logical_and, "|": np.logical_or, "<": np.less, "<=": np.less_equal, ">": np.greater,
    ">=": np.greater_equal, "==": np.equal,
}


def _function(name: str):
    if name in TABLE:
        return numeric(name)
    if name == "sqrt":
        return np.sqrt
    raise KeyError(name)


def _int(value, what, pos) -> int:
    if np.ndim(value) != 0 or float(value) != int(value):
        raise FormulaError(f"{what} must be a whole number", pos)
    return int(value)


def evaluate_matrix(node, env: dict):
    """The value of a NumPy-style formula; ``env`` maps names to arrays, floats and sizes."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        if node.name not in env:
            raise FormulaError(f"unknown name {node.name!r}; known: {', '.join(sorted(env))}", node.pos)
        return env[node.name]
    if isinstance(node, Unary):
        value = evaluate_matrix(node.operand, env)
        return np.negative(value) if node.op == "-" else np.logical_not(value)
    if isinstance(node, Binary):
        left, right = evaluate_matrix(node.left, env), evaluate_matrix(node.right, env)
        op = node.op
        if op == "@?":   # LaTeX's \cdot: the matrix product, unless one side is a scalar
            op = "*" if np.ndim(left) == 0 or np.ndim(right) == 0 else "@"
        try:
            with np.errstate(all="ignore"):
                return _OPS[op](left, right)
        except ValueError:
            raise FormulaError(f"operation '{op}': shapes {np.shape(left)} and {np.shape(right)} "
                               "do not fit", node.pos) from None
    if isinstance(node, Method):
        value = np.asarray(evaluate_matrix(node.target, env))
        if node.method == "T":
            return value.T
        keywords = dict(node.keywords)
        try:
            return value.sum(axis=keywords.get("axis"), keepdims=bool(keywords.get("keepdims", False)))
        except (ValueError, np.exceptions.AxisError) as error:
            raise FormulaError(f".sum: {error}", node.pos) from None
    if isinstance(node, Subscript):
        value = np.asarray(evaluate_matrix(node.target, env))
        key = tuple(_key(item, env) for item in node.items)
        try:
            return value[key]
        except (IndexError, TypeError) as error:
            raise FormulaError(f"indexing an array of shape {value.shape}: {error}", node.pos) from None
    if isinstance(node, Call):
        args = [evaluate_matrix(a, env) for a in node.args]
        if node.function == "diag":
            _arity(node, args, 1)
            return np.diag(np.ravel(args[0]))
        if node.function == "ones":
            if len(args) not in (1, 2):
                raise FormulaError("ones takes 1 or 2 sizes: ones(rows) is a column", node.pos)
            return np.ones((_int(args[0], "a size", node.pos), _int(args[1], "a size", node.pos)
                            if len(args) == 2 else 1))
        function = _function(node.function)
        _arity(node, args, TABLE[node.function].arity if node.function in TABLE else 1)
        with np.errstate(all="ignore"):
            return function(*args)
    if isinstance(node, Sum):
        raise FormulaError("sum(index, ...) is index notation: use --syntax index", node.pos)
    raise FormulaError(f"cannot evaluate {type(node).__name__}")


def _arity(node, args, count):
    if len(args) != count:
        raise FormulaError(f"{node.function} takes {count} argument(s), got {len(args)}", node.pos)


def _key(item, env):
    if isinstance(item, Slice):
        start = None if item.start is None else _int(evaluate_matrix(item.start, env), "a slice bound", item.pos)
        stop = None if item.stop is None else _int(evaluate_matrix(item.stop, env), "a slice bound", item.pos)
        return slice(start, stop)
    return _int(evaluate_matrix(item, env), "an index", getattr(item, "pos", None))


# index style ---------------------------------------------------------------

@dataclass(frozen=True)
class Labelled:
    """An array whose axes are named by indices."""

    array: np.ndarray
    labels: tuple[str, ...]


def _align(value: Labelled, labels: tuple[str, ...]) -> np.ndarray:
    array = np.asarray(value.array, dtype=float) if value.array.dtype != bool else value.array
    order = [value.labels.index(l) for l in labels if l in value.labels]
    array = np.transpose(array, order) if order else array
    shape = [array.shape[order.index(value.labels.index(l))] if l in value.labels else 1 for l in labels]
    return array.reshape(shape)


def _combine(op, left: Labelled, right: Labelled) -> Labelled:
    labels = tuple(dict.fromkeys(left.labels + right.labels))
    with np.errstate(all="ignore"):
        return Labelled(_OPS[op](_align(left, labels), _align(right, labels)), labels)


class IndexEvaluator:
    """Evaluates index notation; ``ranges`` gives each free index's size (and 0-based start)."""

    def __init__(self, env: dict, ranges: dict[str, int], one_based: bool = False):
        self.env, self.ranges, self.one_based = env, dict(ranges), one_based

    def run(self, node, free: tuple[str, ...]) -> np.ndarray:
        value = self.eval(node)
        extra = set(value.labels) - set(free)
        if extra:
            raise FormulaError(f"index {sorted(extra)[0]} is neither a free index ({', '.join(free)}) "
                               "nor summed")
        array = _align(value, free)
        return np.broadcast_to(array, tuple(self.ranges[f] for f in free)).astype(float)

    def eval(self, node) -> Labelled:
        if isinstance(node, Num):
            return Labelled(np.asarray(node.value), ())
        if isinstance(node, Name):
            if node.name in self.ranges:   # an index's own values, as in a condition 1_{k > M}
                return Labelled(np.arange(self.ranges[node.name]) + int(self.one_based), (node.name,))
            value = self.env.get(node.name)
            if value is None:
                raise FormulaError(f"unknown name {node.name!r}", node.pos)
            if np.ndim(value) != 0:
                raise FormulaError(f"{node.name} is a matrix: write its entry, e.g. {node.name}[i, j]",
                                   node.pos)
            return Labelled(np.asarray(float(value)), ())
        if isinstance(node, Unary):
            value = self.eval(node.operand)
            return Labelled(-np.asarray(value.array, dtype=float) if node.op == "-" else ~value.array,
                            value.labels)
        if isinstance(node, Binary):
            if node.op == "@":
                raise FormulaError("'@' is matrix notation: use --syntax numpy", node.pos)
            op = "*" if node.op == "@?" else node.op
            return _combine(op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, Call):
            if node.function == "delta":
                return self._delta(node)
            if node.function not in TABLE and node.function != "sqrt":
                raise FormulaError(f"{node.function} is not an elementwise function", node.pos)
            args = [self.eval(a) for a in node.args]
            _arity(node, args, TABLE[node.function].arity if node.function in TABLE else 1)
            if node.function == "sqrt":
                return Labelled(np.sqrt(args[0].array), args[0].labels)
            labels = tuple(dict.fromkeys(l for a in args for l in a.labels))
            with np.errstate(all="ignore"):
                return Labelled(numeric(node.function)(*(_align(a, labels) for a in args)), labels)
        if isinstance(node, Sum):
            if node.index in self.ranges:
                raise FormulaError(f"summation index {node.index} is already an index here", node.pos)
            size = _int(evaluate_matrix(node.size, self.env), "a summation limit", node.pos) \
                if node.size is not None else self._range_of(node.index, node.body)
            self.ranges[node.index] = size
            try:
                body = self.eval(node.body)
            finally:
                del self.ranges[node.index]
            if node.index not in body.labels:
                return Labelled(body.array * size, body.labels)
            axis = body.labels.index(node.index)
            return Labelled(body.array.sum(axis=axis), body.labels[:axis] + body.labels[axis + 1:])
        if isinstance(node, Subscript):
            return self._entry(node)
        raise FormulaError(f"{type(node).__name__} is not index notation", getattr(node, "pos", None))

    def _delta(self, node) -> Labelled:
        """A Kronecker delta of two index expressions: 1 where their values agree."""
        if len(node.args) != 2:
            raise FormulaError("a Kronecker delta takes two indices", node.pos)
        values = []
        for item in node.args:
            label, offset = self._offset(item, "delta")
            if label is None:
                values.append(Labelled(np.asarray(offset), ()))
            else:
                values.append(Labelled(np.arange(self.ranges[label]) + offset, (label,)))
        equal = _combine("==", *values)
        return Labelled(equal.array.astype(float), equal.labels)

    def _offset(self, item, where) -> tuple[str | None, int]:
        """An index item as (index name or None, integer offset)."""
        if isinstance(item, Name) and item.name in self.ranges:
            return item.name, 0
        if isinstance(item, Binary) and item.op in "+-":
            left, right = item.left, item.right
            if isinstance(left, Name) and left.name in self.ranges:
                offset = evaluate_matrix(right, self.env)
                return left.name, _int(offset if item.op == "+" else -offset, "an offset", item.pos)
            if isinstance(right, Name) and right.name in self.ranges and item.op == "+":
                return right.name, _int(evaluate_matrix(left, self.env), "an offset", item.pos)
        if isinstance(item, Slice):
            raise FormulaError(f"{where}: slices are matrix notation", item.pos)
        return None, _int(evaluate_matrix(item, self.env), "an index", getattr(item, "pos", None))

    def _entry(self, node: Subscript) -> Labelled:
        if not isinstance(node.target, Name) or node.target.name not in self.env:
            raise FormulaError("only entries of the model's tensors can be indexed", node.pos)
        name = node.target.name
        array = np.asarray(self.env[name])
        items = _vector_items(array, node.items)
        if array.ndim != len(items):
            raise FormulaError(f"{name} has {array.ndim} axes, indexed with {len(node.items)}", node.pos)
        key, labels = [], []
        for axis, item in enumerate(items):
            label, offset = self._offset(item, name)
            if label is None:
                key.append(offset)
                continue
            stop = offset + self.ranges[label]
            if offset < 0 or stop > array.shape[axis]:
                raise FormulaError(f"{name}: index {label}{offset:+d} runs past axis {axis} of size "
                                   f"{array.shape[axis]}", node.pos)
            key.append(slice(offset, stop))
            labels.append(label)
        if len(set(labels)) != len(labels):
            raise FormulaError(f"{name}: the same index on two axes (a diagonal) is not supported", node.pos)
        return Labelled(array[tuple(key)], tuple(labels))

    def _range_of(self, index: str, body) -> int:
        """The size of a summed index: the size of the first axis it indexes, less its offset."""
        for node in _walk(body):
            if isinstance(node, Subscript) and isinstance(node.target, Name) and node.target.name in self.env:
                array = np.asarray(self.env[node.target.name])
                for axis, item in enumerate(_vector_items(array, node.items)):
                    if isinstance(item, Name) and item.name == index and axis < array.ndim:
                        return array.shape[axis]
        raise FormulaError(f"cannot tell the range of summation index {index}: it indexes no tensor axis")


def _vector_items(array, items):
    """A vector written with one index (the notes' C_i, Delta_c): that index is its long axis."""
    if len(items) == 1 and array.ndim == 2 and 1 in array.shape:
        return (Num(0.0), items[0]) if array.shape[0] == 1 else (items[0], Num(0.0))
    return items


def _walk(node):
    yield node
    for value in vars(node).values():
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if hasattr(child, "__dataclass_fields__"):
                yield from _walk(child)
