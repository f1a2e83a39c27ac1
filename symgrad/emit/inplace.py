"""Evaluate elementwise statements into one buffer instead of a temporary per operation.

``a = 0.5 * (np.tanh(0.5 * z) + 1.0)`` allocates four arrays of ``a``'s shape;
at medium sizes the fresh pages cost more than the arithmetic (glibc returns freed blocks of
128 KiB or more to the OS, so every call faults them in again).
Here such a statement becomes a chain along its *spine*, the operand path that
already has the result's shape::

    a = 0.5 * z
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5

The spine starts at the first operation that allocates an array of the
result's shape (a matrix product, an elementwise operation), or at an array
this function made, of that shape, that nothing reads afterwards and nothing
views (``grad_Z1 = grad_H; grad_Z1 *= mask`` reuses ``grad_H``). Every rewrite
needs the shapes: a statement whose operand shapes cannot be told is left as
it is, so broadcasting never needs to grow the buffer. Masks (comparisons) are
never buffers: their dtype is bool.
"""
from __future__ import annotations

import ast
from dataclasses import replace

from symgrad.emit.statements import is_plain, names, np_call

_OPS = {ast.Add: ("+=", "np.add", True), ast.Sub: ("-=", "np.subtract", False),
        ast.Mult: ("*=", "np.multiply", True), ast.Div: ("/=", "np.divide", False)}
_UFUNCS = {"exp", "log", "tanh", "sqrt", "abs", "sign", "negative", "maximum", "minimum", "logaddexp",
           "clip", "log1p", "expm1", "square"}
Shape = tuple  # of str, one per axis; () for a scalar


def _dim(text: str) -> str:
    return text.replace(" ", "")


def _broadcast(a: Shape | None, b: Shape | None) -> Shape | None:
    if a is None or b is None:
        return None
    if not a or not b:
        return a or b
    if len(a) != len(b):
        return None
    out = []
    for x, y in zip(a, b):
        if x == y or y == "1":
            out.append(x)
        elif x == "1":
            out.append(y)
        else:
            return None
    return tuple(out)


class _Shapes:
    """Shape (and whether bool) of an expression, from the shapes of the names it reads."""

    def __init__(self, shapes: dict[str, Shape], floats: set[str]):
        self.shapes, self.floats = shapes, floats

    def is_float(self, node: ast.AST) -> bool:
        """Certainly a float (a buffer must be: ``2 * mask`` is an int64 array)."""
        if isinstance(node, ast.Name):
            return node.id in self.floats
        if isinstance(node, ast.Constant):
            return isinstance(node.value, float)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return self.is_float(node.value)
        if isinstance(node, ast.UnaryOp):
            return self.is_float(node.operand)
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, ast.Div) or self.is_float(node.left) or self.is_float(node.right)
        name = np_call(node)
        if name in ("exp", "log", "tanh", "sqrt", "logaddexp", "log1p", "expm1", "ones"):
            return True
        return name in _UFUNCS and any(self.is_float(a) for a in node.args)

    def of(self, node: ast.AST) -> Shape | None:
        if isinstance(node, ast.Name):
            return self.shapes.get(node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return ()
        if isinstance(node, ast.Attribute) and node.attr == "T":
            inner = self.of(node.value)
            return None if inner is None or len(inner) != 2 else inner[::-1]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.of(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            a, b = self.of(node.left), self.of(node.right)
            return (a[0], b[1]) if a and b and len(a) == 2 and len(b) == 2 and a[1] == b[0] else None
        if isinstance(node, ast.BinOp) and (type(node.op) in _OPS or isinstance(node.op, ast.Pow)):
            return _broadcast(self.of(node.left), self.of(node.right))
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            return _broadcast(self.of(node.left), self.of(node.comparators[0]))
        if np_call(node) in _UFUNCS and not node.keywords:
            shape: Shape | None = ()
            for arg in node.args:
                shape = _broadcast(shape, self.of(arg))
            return shape
        if np_call(node) == "ones" and len(node.args) == 1 and isinstance(node.args[0], ast.Tuple):
            return tuple(_dim(ast.unparse(e)) for e in node.args[0].elts)
        return None

    @staticmethod
    def is_bool(node: ast.AST) -> bool:
        return isinstance(node, (ast.Compare, ast.BoolOp)) or (
            isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)))


def float_names(blocks: tuple, floats: set[str]) -> set[str]:
    """``floats`` and the names ``blocks`` assign a float to (to hand to a later function)."""
    floats = set(floats)
    shape_of = _Shapes({}, floats)
    for block in blocks:
        for line in block.lines:
            statement = ast.parse(line).body[0]
            if is_plain(statement) and shape_of.is_float(statement.value):
                floats.add(statement.targets[0].id)
    return floats


def _allocates(node: ast.AST) -> bool:
    """The expression's value is a new float array (not a view of, or a name for, another)."""
    if _Shapes.is_bool(node):
        return False
    return isinstance(node, (ast.BinOp, ast.UnaryOp)) or (np_call(node) in _UFUNCS | {"ones"})


def _viewed(statements: list) -> set[str]:
    """Names read as a whole (aliased), sliced, transposed or written in place: never reused."""
    out = set()
    for s in statements:
        if s is None:
            continue
        for node in ast.walk(s):
            if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.value, ast.Name):
                out.add(node.value.id)
        if is_plain(s) and isinstance(s.value, ast.Name):
            out.add(s.value.id)
        if not is_plain(s):
            out |= names(s)
    return out


class _Rewriter:
    def __init__(self, shapes: _Shapes, reusable, statement: ast.AST):
        self.shapes = shapes
        reads = [n.id for n in ast.walk(statement) if isinstance(n, ast.Name)]
        # a buffer read by another operand of the same statement would change under it
        self.reusable = lambda name, shape: reads.count(name) == 1 and reusable(name, shape)

    def chain(self, node: ast.AST, target: str, shape: Shape) -> list[str] | None:
        """Statements leaving ``node``'s value in ``target`` with one allocation, or None."""
        if isinstance(node, ast.Name):
            return [f"{target} = {node.id}"] if self.reusable(node.id, shape) else None
        if self.shapes.is_bool(node) or self.shapes.of(node) != shape or not self.shapes.is_float(node):
            return None
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            augmented, function, commutes = _OPS[type(node.op)]
            for spine, other, left in ((node.left, node.right, True), (node.right, node.left, False)):
                if not left and not commutes:
                    steps = self.chain(spine, target, shape)
                    if steps:
                        return steps + [f"{function}({ast.unparse(other)}, {target}, out={target})"]
                    continue
                steps = self.chain(spine, target, shape)
                if steps:
                    return steps + [f"{target} {augmented} {ast.unparse(other)}"]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            steps = self.chain(node.operand, target, shape)
            if steps:
                return steps + [f"np.negative({target}, out={target})"]
        name = np_call(node)
        if name in _UFUNCS and not node.keywords:
            for k, arg in enumerate(node.args):
                steps = self.chain(arg, target, shape)
                if steps:
                    args = [target if j == k else ast.unparse(a) for j, a in enumerate(node.args)]
                    return steps + [f"np.{name}({', '.join(args)}, out={target})"]
        if _allocates(node):
            return [f"{target} = {ast.unparse(node)}"]
        return None


def evaluate_in_place(blocks: tuple, shapes: dict[str, Shape], floats: set[str], live_out: set[str],
                      protected: set[str], skip: frozenset = frozenset()) -> tuple:
    """``blocks`` (``codegen.Block``, the statements of one function in order) with elementwise
    statements evaluated into one buffer. ``shapes``: every name's shape as strings (``()``
    for scalars and dimensions); ``live_out``: names read after these statements (returned);
    ``protected``: names never reused as buffers (inputs, values returned by ``forward``);
    blocks named in ``skip`` are not rewritten (they may not run)."""
    shapes = dict(shapes)
    flat = [(b, line, ast.parse(line).body[0]) for b, block in enumerate(blocks) for line in block.lines]
    never = _viewed([s for _, _, s in flat]) | set(protected)
    reads_after, later = [], set(live_out)
    for _, _, statement in reversed(flat):
        reads_after.append(set(later))
        later |= names(statement)
    reads_after.reverse()
    floats = set(floats)
    shape_of, owned = _Shapes(shapes, floats), set()
    out_lines: list[list[str]] = [[] for _ in blocks]
    for (b, line, statement), later in zip(flat, reads_after):
        def reusable(name: str, shape: Shape) -> bool:
            return name in owned and name not in never and name not in later and shapes.get(name) == shape

        steps = None
        if is_plain(statement):
            target = statement.targets[0].id
            inferred = shape_of.of(statement.value)
            shape = shapes.get(target) or inferred
            if shape and blocks[b].name not in skip:
                steps = _Rewriter(shape_of, reusable, statement.value).chain(statement.value, target, shape)
                steps = steps if steps and len(steps) > 1 else None
            if inferred is not None:
                shapes.setdefault(target, inferred)
            if shape_of.is_float(statement.value):
                floats.add(target)
                if steps is not None or _allocates(statement.value):
                    owned.add(target)
            else:
                floats.discard(target)
        out_lines[b] += steps or [line]
    return tuple(replace(block, lines=tuple(lines)) if tuple(lines) != block.lines else block
                 for block, lines in zip(blocks, out_lines))
