"""Evaluating a formula tree numerically, in matrix style or in index style.

Matrix style follows NumPy (broadcasting, ``@``, ``.T``, slices, ``.sum``) plus
``diag(v)`` and ``ones(r, c)`` as the notes use them. Index style gives every
value its index labels: an entry ``X1[j, c]`` is ``X1`` with axes labelled
``j, c``; products line labels up; ``sum(c, ...)`` sums over ``c``, whose
range is read off the first axis it indexes. Errors name the operation, the
shapes and the column. Every array a formula makes and every operation's cost
are checked against ``formula_limits`` before the operation runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from symgrad.errors import counted
from symgrad.formulas.limits import Budget, check_entries
from symgrad.formulas.numpy_calls import Einsum, NewAxis
from symgrad.formulas.tree import Binary, Call, FormulaError, Method, Name, Num, Slice, Subscript, Sum, Unary
from symgrad.model.callables import FUNCTIONS, CallError, call, check_call

_OPS = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power, "@": np.matmul,
    "&": np.logical_and, "|": np.logical_or, "<": np.less, "<=": np.less_equal, ">": np.greater,
    ">=": np.greater_equal, "==": np.equal,
}


def _int(value, what, pos) -> int:
    if np.ndim(value) != 0:
        raise FormulaError(f"{what} must be a whole number, not an array of shape {np.shape(value)}", pos)
    number = float(value)
    if not math.isfinite(number) or number != int(number):
        raise FormulaError(f"{what} must be a whole number, got {number:g}", pos)
    return int(number)


def _size(value, what, pos) -> int:
    size = _int(value, what, pos)
    if size < 0:
        raise FormulaError(f"{what} must not be negative, got {size}", pos)
    return size


def _matmul_shape(left: tuple, right: tuple):
    """(shape of left @ right, its cost in multiply-adds), as NumPy's matmul would have them."""
    if not left or not right:
        raise ValueError("matmul: a scalar operand")
    a = left if len(left) > 1 else (1,) + left
    b = right if len(right) > 1 else right + (1,)
    if a[-1] != b[-2]:
        raise ValueError("matmul: inner sizes differ")
    shape = np.broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
    if len(left) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(right) == 1:
        shape = shape[:-1]
    return shape, math.prod(shape) * a[-1]


def evaluate_matrix(node, env: dict, budget: Budget | None = None):
    """The value of a NumPy-style formula; ``env`` maps names to arrays, floats and sizes.
    ``budget`` counts the floating-point operations spent (a fresh one by default)."""
    budget = Budget() if budget is None else budget
    return _matrix(node, env, budget)


def _spend(budget, shape, what, pos, cost=None):
    entries = math.prod(shape)
    check_entries(entries, what, pos)
    budget.spend(entries if cost is None else cost, what, pos)


def _matrix(node, env: dict, budget: Budget):
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        if node.name not in env:
            raise FormulaError(f"unknown name {node.name!r}; known: {', '.join(sorted(env))}", node.pos)
        return env[node.name]
    if isinstance(node, Unary):
        value = _matrix(node.operand, env, budget)
        _spend(budget, np.shape(value), f"operation '{node.op}'", node.pos)
        return np.negative(value) if node.op == "-" else np.logical_not(value)
    if isinstance(node, Binary):
        left, right = _matrix(node.left, env, budget), _matrix(node.right, env, budget)
        op = node.op
        if op == "@?":   # LaTeX's \cdot: the matrix product, unless one side is a scalar
            op = "*" if np.ndim(left) == 0 or np.ndim(right) == 0 else "@"
        what = f"operation '{op}' on shapes {np.shape(left)} and {np.shape(right)}"
        try:
            if op == "@":
                shape, cost = _matmul_shape(np.shape(left), np.shape(right))
            else:
                shape, cost = np.broadcast_shapes(np.shape(left), np.shape(right)), None
        except ValueError:
            raise FormulaError(f"operation '{op}': shapes {np.shape(left)} and {np.shape(right)} "
                               "do not fit", node.pos) from None
        _spend(budget, shape, what, node.pos, cost)
        with np.errstate(all="ignore"):
            return _OPS[op](left, right)
    if isinstance(node, Method):
        value = np.asarray(_matrix(node.target, env, budget))
        if node.method == "T":
            return value.T
        if node.method == "reshape":
            return value.reshape(-1)
        keywords = dict(node.keywords)
        budget.spend(value.size, f".{node.method}", node.pos)
        try:
            return getattr(value, node.method)(axis=keywords.get("axis"),
                                               keepdims=bool(keywords.get("keepdims", False)))
        except (ValueError, np.exceptions.AxisError) as error:
            raise FormulaError(f".{node.method}: {error}", node.pos) from None
    if isinstance(node, Einsum):
        return _einsum(node, [np.asarray(_matrix(a, env, budget)) for a in node.operands], budget)
    if isinstance(node, Subscript):
        value = np.asarray(_matrix(node.target, env, budget))
        key = tuple(_key(item, env, budget) for item in node.items)
        axes = [item for item in key if item is not None]      # None makes an axis, reading none
        for axis, item in enumerate(axes):
            if isinstance(item, int) and axis < value.ndim and not -value.shape[axis] <= item < value.shape[axis]:
                raise FormulaError(f"index {item} is past axis {axis} of size {value.shape[axis]} "
                                   f"(an array of shape {value.shape})", node.pos)
        try:
            return value[key]
        except (IndexError, TypeError) as error:
            raise FormulaError(f"indexing an array of shape {value.shape}: {error}", node.pos) from None
    if isinstance(node, Call):
        return _call(node, [_matrix(a, env, budget) for a in node.args], budget)
    if isinstance(node, Sum):
        raise FormulaError("sum(index, ...) is index notation: use --syntax index", node.pos)
    raise FormulaError(f"cannot evaluate {type(node).__name__}")


def _call(node: Call, args: list, budget: Budget):
    """``node``'s function of the shared table (``model/callables.py``) on evaluated ``args``, priced
    first: the entries it makes (``ones``, ``diag``: from their sizes), a cube for a matrix's
    inverse or determinant, else the entries it reads."""
    if node.function not in FUNCTIONS:
        raise FormulaError(f"unknown function {node.function!r}", node.pos)
    try:
        check_call(node.function, FUNCTIONS[node.function].signature, args, dict(node.keywords))
    except CallError as error:
        raise FormulaError(str(error), node.pos) from None
    if node.function == "ones":
        shape = tuple(_size(a, "ones: a size", node.pos) for a in args) + ((1,) if len(args) == 1 else ())
        _spend(budget, shape, f"ones({', '.join(str(n) for n in shape[:len(args)])})", node.pos)
        args = list(shape)
    elif node.function == "diag":
        n = int(np.size(args[0]))
        _spend(budget, (n, n), f"diag of a vector of {n:,} entries", node.pos)
    elif node.function in ("inv", "det", "logdet"):
        n = max(np.shape(args[0]) or (1,))
        _spend(budget, np.shape(args[0]), node.function, node.pos, n ** 3)
    elif FUNCTIONS[node.function].elementwise and len(args) > 1:
        try:
            shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        except ValueError:
            raise FormulaError(f"{node.function}: shapes {', '.join(str(np.shape(a)) for a in args)} "
                               "do not fit", node.pos) from None
        _spend(budget, shape, node.function, node.pos)
    else:
        _spend(budget, (sum(int(np.size(a)) for a in args),), node.function, node.pos)
    try:
        return call(node.function, args, dict(node.keywords))
    except CallError as error:
        raise FormulaError(str(error), node.pos) from None


def _einsum(node: Einsum, operands: list, budget: Budget):
    """``np.einsum`` of the operands, after checking each term's letters against its operand's axes
    and pricing it as the loops over every letter it names."""
    inputs, output = node.spec.split("->")
    sizes: dict = {}
    terms = inputs.split(",")
    # a one-letter term of a column or a row: the vector itself (the LaTeX matrix view writes vectors
    # as columns, where NumPy's printing has .reshape(-1))
    operands = [np.ravel(o) if len(t) == 1 and o.ndim == 2 and 1 in o.shape else o for t, o in zip(terms, operands)]
    for k, (term, operand) in enumerate(zip(terms, operands)):
        if len(term) != operand.ndim:
            raise FormulaError(f"np.einsum: operand {k + 1} has {operand.ndim} axes (shape {operand.shape}), "
                               f"its subscripts {term!r} name {len(term)}", node.pos)
        for letter, size in zip(term, operand.shape):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                raise FormulaError(f"np.einsum: subscript {letter!r} has sizes {sizes[letter]} and {size}", node.pos)
            sizes[letter] = max(sizes[letter], size)
    shape = tuple(sizes[letter] for letter in output)
    _spend(budget, shape, f"np.einsum '{node.spec}'", node.pos, math.prod(sizes.values()) * len(operands))
    try:
        with np.errstate(all="ignore"):
            return np.einsum(node.spec, *operands)
    except ValueError as error:
        raise FormulaError(f"np.einsum '{node.spec}': {error}", node.pos) from None


def _key(item, env, budget):
    if isinstance(item, NewAxis):
        return None
    if isinstance(item, Slice):
        start = None if item.start is None else _int(_matrix(item.start, env, budget), "a slice bound", item.pos)
        stop = None if item.stop is None else _int(_matrix(item.stop, env, budget), "a slice bound", item.pos)
        return slice(start, stop)
    return _int(_matrix(item, env, budget), "an index", getattr(item, "pos", None))


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


def _combine(op, left: Labelled, right: Labelled, budget: Budget | None = None, pos=None) -> Labelled:
    labels = tuple(dict.fromkeys(left.labels + right.labels))
    if budget is not None:
        sizes = dict(zip(left.labels, left.array.shape)) | dict(zip(right.labels, right.array.shape))
        _spend(budget, tuple(sizes[l] for l in labels), f"operation '{op}' over indices "
               f"{', '.join(labels) or '(none)'}", pos)
    with np.errstate(all="ignore"):
        return Labelled(_OPS[op](_align(left, labels), _align(right, labels)), labels)


class IndexEvaluator:
    """Evaluates index notation; ``ranges`` gives each free index's size (and 0-based start)."""

    def __init__(self, env: dict, ranges: dict[str, int], one_based: bool = False):
        self.env, self.ranges, self.one_based = env, dict(ranges), one_based
        self.budget = Budget()

    def number(self, node):
        return evaluate_matrix(node, self.env, self.budget)

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
            return _combine(op, self.eval(node.left), self.eval(node.right), self.budget, node.pos)
        if isinstance(node, Call):
            if node.function == "delta":
                if node.keywords:
                    raise FormulaError("delta(...) takes no keywords", node.pos)
                return self._delta(node)
            if node.function in FUNCTIONS and not FUNCTIONS[node.function].elementwise:
                return self._whole(node)
            args = [self.eval(a) for a in node.args]
            labels = tuple(dict.fromkeys(l for a in args for l in a.labels))
            sizes = {l: n for a in args for l, n in zip(a.labels, a.array.shape)}
            _spend(self.budget, tuple(sizes[l] for l in labels), node.function, node.pos)
            try:
                return Labelled(np.asarray(call(node.function, [_align(a, labels) for a in args],
                                                dict(node.keywords))), labels)
            except CallError as error:
                raise FormulaError(str(error), node.pos) from None
        if isinstance(node, Sum):
            if node.index in self.ranges:
                raise FormulaError(f"summation index {node.index} is already an index here", node.pos)
            size = _size(self.number(node.size), "a summation limit", node.pos) \
                if node.size is not None else self._range_of(node.index, node.body)
            check_entries(size, f"summation index {node.index} running over {size:,} values", node.pos)
            self.ranges[node.index] = size
            try:
                body = self.eval(node.body)
            finally:
                del self.ranges[node.index]
            self.budget.spend(body.array.size, f"the sum over {node.index}", node.pos)
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
        equal = _combine("==", *values, self.budget, node.pos)
        return Labelled(equal.array.astype(float), equal.labels)

    def _offset(self, item, where) -> tuple[str | None, int]:
        """An index item as (index name or None, integer offset)."""
        if isinstance(item, Name) and item.name in self.ranges:
            return item.name, 0
        if isinstance(item, Binary) and item.op in "+-":
            left, right = item.left, item.right
            if isinstance(left, Name) and left.name in self.ranges:
                offset = self.number(right)
                return left.name, _int(offset if item.op == "+" else -offset, "an offset", item.pos)
            if isinstance(right, Name) and right.name in self.ranges and item.op == "+":
                return right.name, _int(self.number(left), "an offset", item.pos)
        if isinstance(item, Slice):
            raise FormulaError(f"{where}: slices are matrix notation", item.pos)
        return None, _int(self.number(item), "an index", getattr(item, "pos", None))

    def _whole(self, node: Call) -> Labelled:
        """A function of whole matrices (``trace(A)``, ``logsumexp(S)``), its arguments in matrix
        notation: a number here; a matrix only through its entries, ``inv(A)[i, j]``."""
        value = np.asarray(self.number(node))
        if value.size != 1:
            raise FormulaError(f"{node.function}(...) is a matrix of shape {value.shape} here: write its "
                               f"entries, e.g. {node.function}(...)[i, j]", node.pos)
        return Labelled(value.reshape(()), ())

    def _entry(self, node: Subscript) -> Labelled:
        target = node.target
        if isinstance(target, Call) and target.function in FUNCTIONS and not FUNCTIONS[target.function].elementwise:
            name, array = f"{target.function}(...)", np.asarray(self.number(target))
        elif isinstance(target, Name) and target.name in self.env:
            name, array = target.name, np.asarray(self.env[target.name])
        else:
            raise FormulaError("only entries of the model's tensors, or of a function of whole matrices "
                               "(inv(A)[i, j], softmax(S, axis=1)[i, j]), can be indexed", node.pos)
        items = _vector_items(array, node.items)
        if array.ndim != len(items):
            raise FormulaError(f"{name} has {counted(array.ndim, 'axis')}, indexed with {len(node.items)}", node.pos)
        key, labels = [], []
        for axis, item in enumerate(items):
            label, offset = self._offset(item, name)
            if label is None:
                if not 0 <= offset < array.shape[axis]:
                    shown = offset + int(self.one_based)
                    raise FormulaError(f"{name}: index {shown} is past axis {axis} of size {array.shape[axis]}"
                                       + (" (indices are 1-based)" if self.one_based else ""),
                                       getattr(item, "pos", node.pos))
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
        for node in walk(body):
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


def walk(node):
    yield node
    for value in vars(node).values():
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if hasattr(child, "__dataclass_fields__"):
                yield from walk(child)
