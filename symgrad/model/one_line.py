"""A loss typed on one line: ``--loss TEXT --param NAME=DIMS --const NAME=DIMS --name NAME``.

The text is NumPy-style syntax read by symgrad's own formula parser
(``formula_python``: Python's ``ast`` and a whitelist; nothing typed is ever
executed), and its tree is walked into DSL expressions: ``@``, ``+ - * /``,
``**`` with a number, unary minus, ``.T``, ``.sum()`` and ``.sum(axis=0|1)``,
numbers, the declared tensors and dimensions, and calls of the DSL's functions
(``dsl_functions()``: the rows of ``model/callables.py`` that a loss may call, the one table of
functions that gradient formulas read too). ``DIMS`` lists a tensor's two sizes, dimension names
or positive integers separated by commas (``w=d,1``), or nothing for a scalar
(``t=``). The whole text is the loss ``Loss`` of a model named ``--name``::

    >>> spec = OneLineLoss("sum_squares(X @ w - y)", params=("w=d,1",), consts=("X=n,d", "y=n,1"))
    >>> model = spec.build()
    >>> model.name, sorted(model.dimensions), model.parameter_names
    ('loss', ['d', 'n'], ['w'])
    >>> spec.arguments()
    ['--loss', 'sum_squares(X @ w - y)', '--param', 'w=d,1', '--const', 'X=n,d', '--const', 'y=n,1']

Every mistake is a one-line ``SymgradError`` naming it: an unknown name, a
malformed ``NAME=DIMS``, a name declared twice, a shape mismatch (the DSL's
own message, with the column), a loss that is not a scalar, a text past the
limits of ``formula_limits``.
"""
from __future__ import annotations

import inspect
import math
import operator
from dataclasses import dataclass

import sympy as sp

from symgrad.model.callables import FUNCTIONS, LOSS_FUNCTIONS, CallError, check_call
from symgrad.model.callables import NOT_CALLABLE  # noqa: F401  (the DSL functions a loss cannot call)
from symgrad.model.dsl import TensorExpr, as_tensor, kept, show_shape
from symgrad.model.extrema import amax, amin
from symgrad.errors import SymgradError
from symgrad.formulas.limits import MAX_TERMS
from symgrad.formulas.python_syntax import parse_python
from symgrad.formulas.tree import Binary, Call, FormulaError, Method, Name, Num, Unary
from symgrad.model.model import Model

EXTREMA = {"max": amax, "min": amin}     # x.max(axis) as NumPy writes it


def _extremum(method: str, target: TensorExpr, axis, keepdims) -> TensorExpr:
    kept(method, keepdims)
    return EXTREMA[method](target, axis)

LOSS_NAME = "Loss"
DEFAULT_NAME = "loss"
MAX_NUMBER_POWER = 64                 # ``2 ** 64``: a larger power of two numbers is refused, not computed

_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "@": operator.matmul}


def dsl_functions() -> dict:
    """The functions a one-line loss may call, by name: the DSL builders of the shared table
    (``callables.FUNCTIONS``), whose formulas' reader knows each of them too."""
    return {name: FUNCTIONS[name].build for name in sorted(LOSS_FUNCTIONS)}


def _fail(message: str, node=None, text: str | None = None) -> FormulaError:
    return FormulaError(f"--loss: {message}", None if node is None else node.pos, text)


@dataclass(frozen=True)
class OneLineLoss:
    """The arguments of a loss typed on one line; ``build()`` makes its model."""

    loss: str
    params: tuple = ()
    consts: tuple = ()
    name: str | None = None

    def arguments(self) -> list[str]:
        """The command-line arguments that give this loss, in a fixed order."""
        out = ["--loss", self.loss]
        for flag, specs in (("--param", self.params), ("--const", self.consts)):
            for spec in specs:
                out += [flag, spec]
        return out + (["--name", self.name] if self.name is not None else [])

    def build(self) -> Model:
        """The model: the declared dimensions and tensors, and the text as its loss ``Loss``."""
        declared = [("--param", spec, *_split(spec, "--param")) for spec in self.params]
        declared += [("--const", spec, *_split(spec, "--const")) for spec in self.consts]
        if not self.params:
            raise SymgradError("--loss needs at least one --param NAME=DIMS: the tensor(s) to "
                               "differentiate")
        seen = {}
        for flag, spec, name, _ in declared:
            if name == LOSS_NAME:
                raise SymgradError(f"{flag} {spec}: {LOSS_NAME!r} names the loss itself; rename the tensor")
            if name in seen:
                raise SymgradError(f"{flag} {name}: {name!r} is declared twice ({seen[name]} {name} "
                                   f"and {flag} {name})")
            seen[name] = flag
        name = DEFAULT_NAME if self.name is None else self.name
        model = _declared(lambda: Model(name, self.loss), "--name", name)
        sizes, tensors = {}, {}
        for flag, spec, _, dims in declared:
            for dim in dims:
                if isinstance(dim, str) and dim in seen:
                    raise SymgradError(f"{flag} {spec}: {dim!r} names a tensor, not a dimension; give "
                                       "dimensions and tensors different names")
                if isinstance(dim, str) and dim not in sizes:
                    (sizes[dim],) = _declared(lambda: model.dims(dim), flag, spec)
        for flag, spec, tensor, dims in declared:
            shape = tuple(sizes[d] if isinstance(d, str) else d for d in dims)
            declare = model.parameter if flag == "--param" else model.constant
            tensors[tensor] = _declared(lambda: declare(tensor, shape), flag, spec)
        try:
            tree = parse_python(self.loss, functions=set(dsl_functions()))
        except FormulaError as error:
            raise SymgradError(f"--loss: {error}") from None
        _count_terms(tree, self.loss.strip())
        expr = _Builder(self.loss.strip(), {**sizes, **tensors}).value(tree)
        expr = as_tensor(expr)
        if expr.shape != ():
            raise SymgradError(f"--loss: the loss must be a scalar, got shape {show_shape(expr.shape)}; "
                               "sum it (sum(...), sum_squares(...))")
        model.loss(LOSS_NAME, expr)
        return model


def _declared(make, flag: str, what: str):
    """``make()``, its refusal (a name Python or the generated module uses) naming the argument."""
    try:
        return make()
    except SymgradError as error:
        raise SymgradError(f"{flag} {what}: {error}") from None


def _split(spec: str, flag: str) -> tuple[str, tuple]:
    """``("w", ("d", 1))`` from ``"w=d,1"``; ``("t", ())`` from ``"t="``."""
    example = f"write NAME=DIMS, e.g. {flag} w=d,1 (dimension names or sizes separated by commas; " \
              "nothing after = for a scalar)"
    name, sep, dims = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise SymgradError(f"{flag} {spec!r}: {example}")
    if not dims.strip():
        return name, ()
    parts = [part.strip() for part in dims.split(",")]
    if len(parts) != 2:
        raise SymgradError(f"{flag} {spec!r}: {len(parts)} size(s); a tensor is a matrix (two sizes, "
                           "rows,cols) or a scalar (nothing after =)")
    out = []
    for part in parts:
        if part.isdecimal() and part.isascii() and len(part) <= 9:
            out.append(int(part))
        elif part.isidentifier():
            out.append(part)
        else:
            raise SymgradError(f"{flag} {spec!r}: size {part!r} is neither a dimension name nor a "
                               f"positive integer; {example}")
    return name, tuple(out)


def _count_terms(tree, text: str) -> int:
    """An upper bound of the index terms the loss expands into, refused past ``MAX_TERMS`` before
    anything is built (a product of sums multiplies out: ``(w + w) * (w + w) * ...``)."""
    def terms(node) -> int:
        if isinstance(node, Binary) and node.op in ("+", "-"):
            count = terms(node.left) + terms(node.right)
        elif isinstance(node, Binary) and node.op in ("*", "@"):
            count = terms(node.left) * terms(node.right)
        elif isinstance(node, Binary) and node.op == "/":
            terms(node.right)
            count = terms(node.left)
        elif isinstance(node, Binary):            # a power: one term
            terms(node.left), terms(node.right)
            count = 1
        elif isinstance(node, Call):              # at most its arguments' terms (a sum keeps them)
            count = max(1, sum(terms(arg) for arg in node.args))
        elif isinstance(node, (Unary, Method)):
            count = terms(node.operand if isinstance(node, Unary) else node.target)
        else:
            count = 1
        if count > MAX_TERMS:
            raise FormulaError(f"--loss: the loss would expand into more than {MAX_TERMS:,} index terms "
                               "(a product of sums multiplies out)", node.pos, text,
                               after=f"; the limit is {MAX_TERMS:,}")
        return count
    return terms(tree)


class _Builder:
    """Walks a formula tree into a DSL expression; a value is a ``TensorExpr`` or a SymPy scalar
    (a number, or an expression in the dimensions)."""

    def __init__(self, text: str, names: dict):
        self.text, self.names = text, names
        self.functions = dsl_functions()

    def fail(self, message: str, node) -> FormulaError:
        return _fail(message, node, self.text)

    def value(self, node):
        try:
            return self.node(node)
        except FormulaError:
            raise
        except SymgradError as error:          # the DSL's own message (shapes), and where
            raise self.fail(str(error), node) from None

    def node(self, node):
        if isinstance(node, Num):
            return sp.Rational(repr(float(node.value)))    # as written: 0.1 is 1/10, 2.0 is 2
        if isinstance(node, Name):
            if node.name not in self.names:
                raise self.fail(f"unknown name {node.name!r}; declare it with --param {node.name}=DIMS "
                                f"or --const {node.name}=DIMS", node)
            return self.names[node.name]
        if isinstance(node, Unary) and node.op == "-":
            return -self.value(node.operand)
        if isinstance(node, Binary) and node.op in _OPERATORS:
            left, right = self.value(node.left), self.value(node.right)
            if node.op == "/" and not isinstance(right, TensorExpr) and right == 0:
                raise self.fail("division by zero", node)
            if isinstance(left, TensorExpr) or isinstance(right, TensorExpr) or node.op == "@":
                return self.dsl(lambda: _OPERATORS[node.op](as_tensor(left), as_tensor(right)), node)
            return self.finite(_OPERATORS[node.op](left, right), node)
        if isinstance(node, Binary) and node.op == "**":
            return self.power(node)
        if isinstance(node, Method):
            return self.method(node)
        if isinstance(node, Call):
            return self.call(node)
        what = {Binary: lambda n: f"operator {n.op!r}", Unary: lambda n: f"operator {n.op!r}"}
        shown = what.get(type(node), lambda n: type(n).__name__.lower())(node)
        raise self.fail(f"{shown} is not available in a loss (only @ + - * / **, .T, .sum(...), "
                        "numbers, declared names and the DSL's functions)", node)

    def dsl(self, build, node):
        try:
            return build()
        except SymgradError as error:
            raise self.fail(str(error), node) from None

    def power(self, node):
        base, exponent = self.value(node.left), self.value(node.right)
        if isinstance(exponent, TensorExpr) or not exponent.is_number:
            raise self.fail("'**' takes a number as its exponent", node.right)
        if isinstance(base, TensorExpr):
            return self.dsl(lambda: base ** exponent, node)
        if abs(exponent) > MAX_NUMBER_POWER:
            raise self.fail(f"a number raised to the power {exponent} (the limit is {MAX_NUMBER_POWER})",
                            node)
        if base == 0 and exponent <= 0:
            raise self.fail("zero raised to a power that is not positive", node)
        result = base ** exponent
        if not result.is_real:
            raise self.fail(f"{base} ** {exponent} is not a real number", node)
        return self.finite(result, node)

    def finite(self, value, node):
        """``value``, refused when a number in it is beyond a float's range (``1e300 * 1e300``)."""
        if not all(math.isfinite(float(number)) for number in value.atoms(sp.Number)):
            raise self.fail("a number too large for a float", node)
        return value

    def method(self, node):
        target = self.value(node.target)
        if not isinstance(target, TensorExpr):
            raise self.fail(f".{node.method} needs a tensor, got the scalar {target}", node)
        if node.method == "T":
            return self.dsl(lambda: target.T, node)
        keywords = dict(node.keywords)
        axis = keywords.get("axis")
        if isinstance(axis, bool):
            raise self.fail(f".{node.method}(axis={axis}): the axis is 0 or 1", node)
        keepdims = keywords.get("keepdims", True)
        if node.method in EXTREMA:
            if axis is None:
                raise self.fail(f".{node.method}() needs an axis (.{node.method}(axis=1)): the extremum of "
                                "every entry is not available", node)
            return self.dsl(lambda: _extremum(node.method, target, axis, keepdims), node)
        reduce = getattr(target, node.method)
        return self.dsl(lambda: reduce(axis, keepdims), node)

    def call(self, node):
        function = self.functions[node.function]
        args = [self.value(arg) for arg in node.args]
        args = [int(a) if isinstance(a, sp.Integer) else a for a in args]   # sizes and axes
        try:
            keywords = check_call(node.function, inspect.signature(function), args,
                                  dict(node.keywords))
        except CallError as error:
            raise self.fail(str(error), node) from None
        try:
            return function(*args, **keywords)
        except SymgradError as error:
            raise self.fail(str(error), node) from None
        except (TypeError, ValueError) as error:
            raise self.fail(f"{node.function}(...): {error}", node) from None

