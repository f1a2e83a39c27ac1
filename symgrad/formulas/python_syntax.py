"""Formulas in NumPy style (``-2/L * C[:, :M].T * ((Delta * mask) @ X1.T)``) and in
index style (``-2/L * sum(c, Delta[0, c] * C[0, i] * X1[j, c])``), parsed safely.

Python's own ``ast.parse`` reads the text (it only builds a syntax tree, it runs
nothing); every node is then checked against a whitelist and copied into
``formula_tree`` nodes. Names, calls, attributes and literals outside the
grammar are errors with their column: no ``__import__``, no attribute walks,
no lambdas, comprehensions, strings or calls outside the function table.
"""
from __future__ import annotations

import ast

import math

from symgrad.formulas.limits import MAX_DIGITS, MAX_LENGTH, MAX_NESTING, check_nesting
from symgrad.formulas.numpy_calls import MODULES, NewAxis, is_numpy_call, numpy_call, reshape
from symgrad.formulas.tree import Binary, Call, FormulaError, Method, Name, Num, Slice, Subscript, Sum, Unary
from symgrad.model.callables import FUNCTIONS

REDUCING_METHODS = ("sum", "mean", "max", "min")     # x.sum(axis=1, keepdims=True), as NumPy's
CALLABLE = frozenset(FUNCTIONS)   # the one table of functions, a loss's and a formula's

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@", ast.Pow: "**",
           ast.BitAnd: "&", ast.BitOr: "|"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=="}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}


def parse_python(text: str, index_style: bool = False, functions=None, numpy_forms: bool = False):
    """The formula tree of ``text``; ``index_style`` allows ``sum(index, body)``; ``functions`` is
    the set of names that may be called (by default ``CALLABLE``, the formulas' own); ``numpy_forms``
    allows NumPy's spellings of them (``np.exp``, ``np.einsum``, ``.reshape(-1)``, ``None`` as an
    index: ``formulas/numpy_calls.py``), as symgrad prints a correct formula."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula of {len(text):,} characters; the limit is {MAX_LENGTH:,}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"syntax error: {error.msg}", (error.offset or 1) - 1, text) from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("formula nested too deeply or malformed") from None
    try:
        result = _Converter(text.strip(), index_style, functions, numpy_forms).convert(tree.body)
    except RecursionError:
        raise FormulaError(f"formula nested too deeply (the limit is {MAX_NESTING} levels)") from None
    check_nesting(result, text.strip())
    return result


class _Converter:
    def __init__(self, text: str, index_style: bool, functions=None, numpy_forms: bool = False):
        self.text, self.index_style, self.numpy_forms = text, index_style, numpy_forms
        self.functions = CALLABLE if functions is None else frozenset(functions)
        self.depth = 0

    def fail(self, message: str, node) -> FormulaError:
        return FormulaError(message, getattr(node, "col_offset", None), self.text)

    def convert(self, node):
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.fail(f"formula nested too deeply (the limit is {MAX_NESTING} levels; a sum of n "
                                "terms is n levels)", node)
            return self.node(node)
        finally:
            self.depth -= 1

    def node(self, node):
        pos = getattr(node, "col_offset", 0)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.fail(f"only numbers are allowed as literals, not {node.value!r}", node)
            return Num(self.number(node), pos)
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise self.fail(f"name {node.id!r} is not allowed", node)
            return Name(node.id, pos)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return Binary(_BINARY[type(node.op)], self.convert(node.left), self.convert(node.right), pos)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            operand = self.convert(node.operand)
            return operand if isinstance(node.op, ast.UAdd) else Unary(_UNARY[type(node.op)], operand, pos)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            return self.compare(node)
        if isinstance(node, ast.Attribute):
            if self.numpy_forms and isinstance(node.value, ast.Name) and node.value.id in MODULES \
                    and node.attr in ("pi", "e"):
                return Num(math.pi if node.attr == "pi" else math.e, pos)
            if node.attr != "T":
                raise self.fail(f"attribute .{node.attr} is not allowed (only .T and .sum(...))", node)
            return Method(self.convert(node.value), "T", pos=pos)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return Subscript(self.convert(node.value), tuple(self.item(i) for i in items), pos)
        raise self.fail(f"{type(node).__name__} is not allowed in a formula", node)

    def number(self, node) -> float:
        """A literal as a float, refusing one too long or too large to be one."""
        written = ast.get_source_segment(self.text, node) or repr(node.value)
        if isinstance(node.value, int) and abs(node.value) >= 10 ** MAX_DIGITS:
            raise self.fail(f"integer literal of {len(str(abs(node.value)))} digits (the limit is "
                            f"{MAX_DIGITS})", node)
        value = float(node.value)
        if not math.isfinite(value):
            raise self.fail(f"number {written} is too large for a float", node)
        return value

    def compare(self, node):
        left, parts = self.convert(node.left), []
        for op, right in zip(node.ops, node.comparators):
            right = self.convert(right)
            parts.append(Binary(_COMPARE[type(op)], left, right, node.col_offset))
            left = right
        result = parts[0]
        for part in parts[1:]:
            result = Binary("&", result, part, node.col_offset)
        return result

    def item(self, node):
        if self.numpy_forms and isinstance(node, ast.Constant) and node.value is None:
            return NewAxis(getattr(node, "col_offset", 0))
        if isinstance(node, ast.Slice):
            if node.step is not None:
                raise self.fail("slices with a step are not allowed", node)
            return Slice(None if node.lower is None else self.convert(node.lower),
                         None if node.upper is None else self.convert(node.upper),
                         getattr(node, "col_offset", 0))
        return self.convert(node)

    def keywords(self, node, positional: tuple | None = None):
        """A call's ``axis=`` and ``keepdims=``, each a number or True/False. For a method,
        ``positional`` names the arguments that may also be given by position (``x.sum(1)``); a
        function's own arguments are its caller's."""
        given = []
        if positional is not None:
            if len(node.args) > len(positional):
                raise self.fail(f"too many arguments by position (at most {len(positional)}: "
                                f"{', '.join(positional)})", node)
            given = [ast.keyword(arg=name, value=arg) for name, arg in zip(positional, node.args)]
        out = []
        for keyword in given + list(node.keywords):
            if keyword.arg not in ("axis", "keepdims"):
                raise self.fail(f"keyword {keyword.arg!r} is not allowed (only axis= and keepdims=)", node)
            value, sign = keyword.value, 1
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):     # axis=-1
                value, sign = value.operand, -1
            if not isinstance(value, ast.Constant) or not isinstance(value.value, (bool, int)) \
                    or (sign < 0 and isinstance(value.value, bool)):
                raise self.fail(f"{keyword.arg}= takes a number or True/False", node)
            out.append((keyword.arg, sign * value.value if sign < 0 else value.value))
        return tuple(out)

    def call(self, node):
        pos = node.col_offset
        if self.numpy_forms and is_numpy_call(node):
            return numpy_call(self, node)
        if self.numpy_forms and isinstance(node.func, ast.Attribute) and node.func.attr == "reshape":
            return reshape(self, node)
        if isinstance(node.func, ast.Attribute):
            if node.func.attr not in REDUCING_METHODS:
                raise self.fail(f"method .{node.func.attr}(...) is not allowed (only "
                                f"{', '.join('.' + m for m in REDUCING_METHODS)}, with axis= and keepdims=)", node)
            return Method(self.convert(node.func.value), node.func.attr, (),
                          self.keywords(node, ("axis", "keepdims")), pos)
        if not isinstance(node.func, ast.Name):
            raise self.fail("only functions of the table can be called", node)
        name = node.func.id
        if name == "sum" and self.index_style:
            if len(node.args) != 2 or not isinstance(node.args[0], ast.Name) or node.keywords:
                raise self.fail("sum takes an index and a body: sum(c, ...)", node)
            return Sum(node.args[0].id, self.convert(node.args[1]), pos)
        if name not in self.functions:
            raise self.fail(f"unknown function {name!r}; known: {', '.join(sorted(self.functions))}", node)
        return Call(name, tuple(self.convert(a) for a in node.args), self.keywords(node), pos)
