"""The operator DSL: ``A1 @ X1 + B1``, ``crelu(Z, t)``, ``concat_rows(Z1, Z2)`` ...

DSL objects only build index notation: each node knows its shape (checked
as it is built, naming the operation and both shapes) and writes its entry at
given indices as a sum of ``Term``s. Shapes are ``()`` for a scalar or
``(rows, cols)``; an axis of size 1 broadcasts as in NumPy.

A function argument, power, divisor or matrix-product operand that itself sums
over an index, and any argument of a function with kinks (relu, crelu) that
is not a named tensor, is given a name of its own (an intermediate such as
``Loss_1``): every kink then sits on a named tensor, where checks can see it,
and every product lowers to one matrix product.
"""
from __future__ import annotations

import numbers
from typing import Protocol

import sympy as sp

from symgrad.errors import ModelError, ShapeError, counted
from symgrad.model.functions import FUNCTIONS, lookup
from symgrad.index.rebuild import entry
from symgrad.index.terms import IndexSpace, Term, product


Shape = tuple[sp.Expr, ...]

# The functions of the DSL that models call (symgrad exports them; a loss typed on one line
# may call them by these names: symgrad/model/one_line.py).
FUNCTION_NAMES = ("abs", "apply", "concat_cols", "concat_rows", "crelu", "exp", "log", "log_softmax",
                  "logsumexp", "maximum", "mean", "minimum", "ones", "relu", "sigmoid", "softmax",
                  "softplus", "sqrt", "sum_squares", "tanh")


class BuildContext(Protocol):
    space: IndexSpace

    def hoist(self, expr: "TensorExpr", suffix: str | None = None) -> "Tensor": ...

    def hoist_max(self, source: "Tensor", axis: int, suffix: str) -> "Tensor": ...


def show_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")" \
        if shape else "scalar ()"


def _kind(value) -> str:
    """What ``value`` is, for an error message: a named tensor, an expression's shape, a type."""
    if isinstance(value, Tensor):
        return f"tensor {value.name!r} of shape {show_shape(value.shape)}"
    if isinstance(value, TensorExpr):
        return f"a tensor expression of shape {show_shape(value.shape)}"
    return f"{type(value).__name__} {value!r}"


def same_size(a: sp.Expr, b: sp.Expr) -> bool:
    return sp.expand(a - b) == 0


class TensorExpr:
    """A tensor-valued expression of the DSL."""

    shape: Shape = ()

    def build(self, indices: tuple, ctx: BuildContext) -> tuple[Term, ...]:
        raise NotImplementedError

    @property
    def pointwise(self) -> bool:
        """No sums, products over an index or concatenations inside."""
        return True

    # operators -----------------------------------------------------------
    def __add__(self, other):
        return Elementwise2("+", self, as_tensor(other))

    def __radd__(self, other):
        return Elementwise2("+", as_tensor(other), self)

    def __sub__(self, other):
        return Elementwise2("-", self, as_tensor(other))

    def __rsub__(self, other):
        return Elementwise2("-", as_tensor(other), self)

    def __mul__(self, other):
        return Elementwise2("*", self, as_tensor(other))

    def __rmul__(self, other):
        return Elementwise2("*", as_tensor(other), self)

    def __truediv__(self, other):
        return Elementwise2("/", self, as_tensor(other))

    def __rtruediv__(self, other):
        return Elementwise2("/", as_tensor(other), self)

    def __neg__(self):
        return Elementwise2("*", Scalar(sp.Integer(-1)), self)

    def __pow__(self, exponent):
        if isinstance(exponent, bool) or not isinstance(exponent, (numbers.Real, sp.Expr)):
            raise ModelError(f"operation '**': the exponent must be a number, got {_kind(exponent)} "
                             "(for a tensor exponent p of a positive x, write exp(p * log(x)))")
        return Power(self, sp.sympify(exponent))

    def __matmul__(self, other):
        return MatMul(self, as_tensor(other))

    def __rmatmul__(self, other):
        return MatMul(as_tensor(other), self)

    @property
    def T(self):
        return Transpose(self)

    def sum(self, axis: int | None = None, keepdims: bool = True):
        """Sum of all entries, or over one axis keeping it as size 1 (``keepdims=True``, NumPy's
        spelling, is accepted: an axis summed over is always kept)."""
        kept("sum", keepdims)
        return Reduce(self, axis)

    def mean(self, axis: int | None = None, keepdims: bool = True):
        """The mean of all entries, or over one axis kept with size 1: ``mean(self, axis)``."""
        kept("mean", keepdims)
        return mean(self, axis)

    def max(self, axis: int | None = None, keepdims: bool = True):
        raise ModelError("operation '.max(...)': write amax(x, axis) (from symgrad import amax), the "
                         "largest entry along an axis kept with size 1")

    def min(self, axis: int | None = None, keepdims: bool = True):
        raise ModelError("operation '.min(...)': write amin(x, axis) (from symgrad import amin)")


class Tensor(TensorExpr):
    """A named tensor of a model; ``T[i, j]`` (``s[()]`` for a scalar) is its SymPy entry for index notation."""

    def __init__(self, model, name: str, shape: tuple, role: str):   # model: its symgrad.Model
        self.model, self.name, self.shape, self.role = model, name, shape, role
        self.symbol = (sp.Symbol(name, real=True) if not shape
                       else sp.IndexedBase(name, shape=shape, real=True))

    def entry(self, indices: tuple) -> sp.Expr:
        if not self.shape:
            return self.symbol
        if isinstance(indices, tuple) and len(indices) == len(self.shape):
            return entry(self.symbol, indices)
        return self.symbol[indices]     # SymPy's own error for a wrong number of indices

    def build(self, indices, ctx):
        return (Term(self.entry(indices)),)

    def __getitem__(self, indices):
        if not self.shape and indices == ():
            return self.symbol
        if not isinstance(indices, tuple):
            indices = (indices,)
        if len(indices) != len(self.shape):
            raise ModelError(f"tensor '{self.name}' has {counted(len(self.shape), 'axis')}, "
                             f"indexed with {len(indices)}")
        return self.symbol[tuple(sp.sympify(i) for i in indices)]

    def __repr__(self):
        return f"{self.role} {self.name} {show_shape(self.shape)}"


def as_tensor(value) -> TensorExpr:
    """Wrap a number or a SymPy scalar (such as ``1/L``) as a DSL scalar."""
    if isinstance(value, TensorExpr):
        return value
    if isinstance(value, (int, float, sp.Expr)):
        expr = sp.sympify(value)
        if any(not (s.is_positive and s.is_integer) for s in expr.free_symbols):
            raise ModelError(f"{value!r} is not a scalar of dimensions and numbers; "
                             "use the model's tensors for data")
        return Scalar(expr)
    raise ModelError(f"cannot use {type(value).__name__} {value!r} in a tensor expression")


def bound_terms(terms, index, size) -> tuple[Term, ...]:
    if index == 0:
        return tuple(terms)
    return tuple(Term(t.factor, ((index, sp.Integer(0), size - 1),) + t.bound, t.conditions)
                 for t in terms)


class Scalar(TensorExpr):
    def __init__(self, value: sp.Expr):
        self.value, self.shape = value, ()

    def build(self, indices, ctx):
        return (Term(self.value),)


class Ones(TensorExpr):
    """A tensor of ones, such as the note's 1_L."""

    def __init__(self, rows, cols):
        what = f"ones({rows}, {cols})"
        self.shape = (size_of(rows, 0, what), size_of(cols, 1, what))

    def build(self, indices, ctx):
        return (Term(sp.Integer(1)),)


def ones(rows, cols) -> Ones:
    return Ones(rows, cols)


def size_of(n, axis: int, what: str, dimensions: set | None = None) -> sp.Expr:
    """One axis size: a positive int, or a SymPy expression in the model's ``dimensions`` that is a
    positive integer whatever positive integers they are (``N``, ``2*M``, ``M + 1``; not ``M - 1``)."""
    rule = "sizes must be positive integers or dimensions"
    if isinstance(n, bool) or not isinstance(n, (numbers.Integral, sp.Expr)):
        raise ShapeError(f"{what}: axis {axis} has size {n!r}, a {type(n).__name__}; {rule}")
    size = sp.Integer(int(n)) if isinstance(n, numbers.Integral) else n
    if size.is_number and not size.is_Integer:
        raise ShapeError(f"{what}: axis {axis} has size {size}, not an integer; {rule}")
    symbols = ", ".join(sorted(str(s) for s in size.free_symbols))
    unknown = [str(s) for s in size.free_symbols - dimensions] if dimensions is not None else []
    if unknown:
        raise ShapeError(f"{what}: axis {axis} has size {size}, and {', '.join(sorted(unknown))} is not a "
                         f"dimension of the model (declare it with dims(...)); {rule}")
    if size.is_integer is not True:
        raise ShapeError(f"{what}: axis {axis} has size {size}, which is not an integer for every value "
                         f"of {symbols}; {rule}")
    if size.is_positive is not True:
        raise ShapeError(f"{what}: axis {axis} has size {size}" + (
            f", which is not positive for every value of {symbols}" if symbols else "") + f"; {rule}")
    return size


def _broadcast(op: str, a: Shape, b: Shape) -> Shape:
    if not a or not b:
        return a or b
    if len(a) != len(b):
        raise ShapeError(f"operation '{op}': shapes {show_shape(a)} and {show_shape(b)} differ in rank")
    out = []
    for x, y in zip(a, b):
        if same_size(x, y) or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeError(f"operation '{op}': shapes {show_shape(a)} and {show_shape(b)} do not broadcast")
    return tuple(out)


def _operand_indices(shape: Shape, indices: tuple) -> tuple:
    if not shape:
        return ()
    return tuple(0 if n == 1 else i for n, i in zip(shape, indices))


class Elementwise2(TensorExpr):
    """``+ - * /`` entry by entry, broadcasting axes of size 1 and scalars."""

    def __init__(self, op: str, a: TensorExpr, b: TensorExpr):
        self.op, self.a, self.b = op, a, b
        self.shape = _broadcast(op, a.shape, b.shape)

    @property
    def pointwise(self):
        return self.a.pointwise and self.b.pointwise

    def build(self, indices, ctx):
        left = self.a.build(_operand_indices(self.a.shape, indices), ctx)
        if self.op == "/":
            divisor = self.b if self.b.pointwise else ctx.hoist(self.b)
            terms = divisor.build(_operand_indices(divisor.shape, indices), ctx)
            return tuple(t.scaled(1 / sp.Add(*(d.factor for d in terms))) for t in left)
        right = self.b.build(_operand_indices(self.b.shape, indices), ctx)
        if self.op == "+":
            return tuple(left) + tuple(right)
        if self.op == "-":
            return tuple(left) + tuple(t.scaled(-1) for t in right)
        return product(left, right)


class Power(TensorExpr):
    def __init__(self, base: TensorExpr, exponent: sp.Expr):
        if exponent.free_symbols:
            raise ModelError(f"operation '**': exponent {exponent} must be a number")
        self.base, self.exponent, self.shape = base, exponent, base.shape

    def build(self, indices, ctx):
        base = self.base if self.base.pointwise else ctx.hoist(self.base)
        terms = base.build(indices, ctx)
        return (Term(sp.Add(*(t.factor for t in terms)) ** self.exponent),)


class MatMul(TensorExpr):
    def __init__(self, a: TensorExpr, b: TensorExpr):
        if len(a.shape) != 2 or len(b.shape) != 2:
            raise ShapeError(f"operation '@': needs two matrices, got shapes {show_shape(a.shape)} "
                             f"and {show_shape(b.shape)}")
        if not same_size(a.shape[1], b.shape[0]):
            raise ShapeError(f"operation '@': shapes {show_shape(a.shape)} and {show_shape(b.shape)} "
                             f"do not match ({a.shape[1]} != {b.shape[0]})")
        self.a, self.b = a, b
        self.shape = (a.shape[0], b.shape[1])

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        i, j = indices
        inner = self.a.shape[1]
        a = self.a if self.a.pointwise else ctx.hoist(self.a)
        b = self.b if self.b.pointwise else ctx.hoist(self.b)
        k = ctx.space.fresh(inner)
        terms = product(a.build((i, k), ctx), b.build((k, j), ctx))
        return bound_terms(terms, k, inner)


class Transpose(TensorExpr):
    def __init__(self, a: TensorExpr):
        if len(a.shape) != 2:
            raise ShapeError(f"operation '.T': needs a matrix, got shape {show_shape(a.shape)}")
        self.a, self.shape = a, (a.shape[1], a.shape[0])

    @property
    def pointwise(self):
        return self.a.pointwise

    def build(self, indices, ctx):
        return self.a.build((indices[1], indices[0]), ctx)


class Reduce(TensorExpr):
    """Sum over every entry (a scalar) or over one axis (kept with size 1)."""

    def __init__(self, a: TensorExpr, axis: int | None):
        if axis is not None:
            axis = check_axis("sum", a, axis)
        self.a, self.axis = a, axis
        if axis is None:
            self.shape = ()
        else:
            self.shape = tuple(sp.Integer(1) if ax == axis else n for ax, n in enumerate(a.shape))

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        axes = range(len(self.a.shape)) if self.axis is None else (self.axis,)
        inner = list(indices) if self.axis is not None else [None] * len(self.a.shape)
        summed = []
        for ax in axes:
            inner[ax] = ctx.space.fresh(self.a.shape[ax])
            summed.append((inner[ax], self.a.shape[ax]))
        terms = self.a.build(tuple(inner), ctx)
        for index, size in reversed(summed):
            terms = bound_terms(terms, index, size)
        return terms


def sum_squares(x: TensorExpr) -> TensorExpr:
    """The squared Frobenius norm ``||x||^2``."""
    return Reduce(Power(as_tensor(x), sp.Integer(2)), None)


class Concat(TensorExpr):
    """Blocks stacked along an axis: ``A || B`` stacks rows (axis 0)."""

    def __init__(self, parts: tuple[TensorExpr, ...], axis: int):
        op = "concat_rows" if axis == 0 else "concat_cols"
        if len(parts) < 2:
            raise ModelError(f"operation '{op}': needs at least two tensors")
        other = 1 - axis
        for p in parts:
            if len(p.shape) != 2:
                raise ShapeError(f"operation '{op}': needs matrices, got shape {show_shape(p.shape)}")
            if not same_size(p.shape[other], parts[0].shape[other]):
                raise ShapeError(f"operation '{op}': shapes {show_shape(parts[0].shape)} and "
                                 f"{show_shape(p.shape)} differ on axis {other}")
        self.parts, self.axis = parts, axis
        size = sp.Add(*(p.shape[axis] for p in parts))
        self.shape = (size, parts[0].shape[1]) if axis == 0 else (parts[0].shape[0], size)

    @property
    def pointwise(self):
        return False

    def build(self, indices, ctx):
        k = indices[self.axis]
        terms, offset = [], sp.Integer(0)
        for part in self.parts:
            size = part.shape[self.axis]
            inner = list(indices)
            inner[self.axis] = sp.Integer(0) if size == 1 else k - offset
            condition = (k, offset, offset + size - 1)
            terms += [Term(t.factor, t.bound, t.conditions + (condition,))
                      for t in part.build(tuple(inner), ctx)]
            offset += size
        return tuple(terms)


def concat_rows(*parts) -> Concat:
    return Concat(tuple(as_tensor(p) for p in parts), 0)


def concat_cols(*parts) -> Concat:
    return Concat(tuple(as_tensor(p) for p in parts), 1)


class Apply(TensorExpr):
    """A function of the table applied entry by entry; extra arguments are scalars."""

    def __init__(self, name: str, arg: TensorExpr, params: tuple[TensorExpr, ...]):
        row = lookup(name)
        if 1 + len(params) != row.arity:
            raise ModelError(f"function '{name}' takes {counted(row.arity, 'argument')}, got {1 + len(params)}")
        for p in params:
            if p.shape != ():
                raise ShapeError(f"function '{name}': extra arguments must be scalars, "
                                 f"got shape {show_shape(p.shape)}")
        self.name, self.arg, self.params, self.shape = name, arg, params, arg.shape

    def build(self, indices, ctx):
        kinked = bool(lookup(self.name).kinks(*sp.symbols(f"z0:{len(self.params) + 1}")))
        named = isinstance(self.arg, Tensor) or (self.arg.pointwise and not kinked)
        arg = self.arg if named else ctx.hoist(self.arg)
        value = sp.Add(*(t.factor for t in arg.build(indices, ctx)))
        params = [sp.Add(*(t.factor for t in p.build((), ctx))) for p in self.params]
        return (Term(FUNCTIONS[self.name](value, *params)),)


class ApplyPair(TensorExpr):
    """A two-tensor function of the table (``maximum(a, b)``), broadcasting like ``+``.

    Both sides are named tensors (or numbers and dimension scalars), so the kink ``a == b`` sits
    where checks see it; a scalar first side is swapped to the second place (both functions are
    symmetric)."""

    def __init__(self, name: str, a: TensorExpr, b: TensorExpr):
        lookup(name)
        if (a.shape == () and b.shape != ()) or (isinstance(a, Scalar) and not isinstance(b, Scalar)):
            a, b = b, a
        self.name, self.a, self.b = name, a, b
        self.shape = _broadcast(name, a.shape, b.shape)

    @property
    def pointwise(self):
        return self.a.pointwise and self.b.pointwise

    def build(self, indices, ctx):
        sides = []
        for side in (self.a, self.b):
            side = side if isinstance(side, (Tensor, Scalar)) else ctx.hoist(side)
            terms = side.build(_operand_indices(side.shape, indices), ctx)
            sides.append(sp.Add(*(t.factor for t in terms)))
        return (Term(FUNCTIONS[self.name](*sides)),)


# the SymPy function each table function is on a SymPy scalar (a dimension or a number): 1 / sqrt(dk)
SCALAR_FUNCTIONS = {"sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign, "exp": sp.exp, "log": sp.log,
                    "tanh": sp.tanh, "maximum": sp.Max, "minimum": sp.Min}


def _is_scalar_value(value) -> bool:
    return isinstance(value, (numbers.Real, sp.Expr)) and not isinstance(value, (bool, TensorExpr))


def apply(name: str, x, *params):
    """``name`` from the function table, applied entry by entry; on SymPy scalars and numbers
    (``sqrt(dk)``), the SymPy function of them."""
    if name in SCALAR_FUNCTIONS and _is_scalar_value(x) and all(_is_scalar_value(p) for p in params):
        return SCALAR_FUNCTIONS[name](sp.sympify(x), *(sp.sympify(p) for p in params))
    if lookup(name).arity == 2 and name in ("maximum", "minimum"):
        if len(params) != 1:
            raise ModelError(f"function '{name}' takes 2 arguments, got {1 + len(params)}")
        return ApplyPair(name, as_tensor(x), as_tensor(params[0]))
    return Apply(name, as_tensor(x), tuple(as_tensor(p) for p in params))


def relu(x):
    return apply("relu", x)


def crelu(x, t):
    return apply("crelu", x, t)


def sigmoid(x):
    return apply("sigmoid", x)


def tanh(x):
    return apply("tanh", x)


def exp(x):
    return apply("exp", x)


def log(x):
    return apply("log", x)


def softplus(x):
    return apply("softplus", x)


def sqrt(x):
    """Entrywise square root; ``sqrt'(0) = inf`` as in PyTorch. On a dimension, ``sympy.sqrt``."""
    return apply("sqrt", x)


def abs(x):  # noqa: A001  (the DSL's name, as NumPy's and PyTorch's)
    """Entrywise absolute value; ``abs'(0) = 0`` (PyTorch's ``sign(0) = 0``)."""
    return apply("abs", x)


def maximum(a, b):
    """Entrywise maximum of two tensors (broadcasting) or a tensor and a number; where
    ``a == b`` each side gets half the gradient, as ``torch.maximum``."""
    return apply("maximum", a, b)


def minimum(a, b):
    """Entrywise minimum; ties split evenly like ``maximum``."""
    return apply("minimum", a, b)


def mean(x, axis: int | None = None) -> TensorExpr:
    """The mean of every entry, or over one axis kept with size 1 (like ``.sum(axis)``)."""
    x = as_tensor(x)
    if axis is None:
        return x.sum() / sp.Mul(*x.shape) if x.shape else x
    axis = check_axis("mean", x, axis)
    return x.sum(axis=axis) / x.shape[axis]


def kept(op: str, keepdims) -> None:
    """A ModelError unless ``keepdims`` is True: a reduction over an axis always keeps it."""
    if keepdims is not True:
        raise ModelError(f"operation '.{op}(keepdims={keepdims})': not available, a reduction over an axis "
                         "keeps it with size 1")


def check_axis(op: str, a: TensorExpr, axis) -> int:
    """``axis`` as 0 or 1, counted from the end as NumPy counts (-1 is 1, -2 is 0); a ShapeError
    unless ``a`` is a matrix and ``axis`` is one of those, naming ``op(axis=...)``."""
    if len(a.shape) != 2 or isinstance(axis, bool) or axis not in (0, 1, -1, -2):
        raise ShapeError(f"operation '{op}(axis={axis})': needs a matrix and axis 0 or 1 (or -1, -2), "
                         f"got shape {show_shape(a.shape)}")
    return axis % 2


class AlongAxis(TensorExpr):
    """An operation of a matrix along axis 0 or 1 (``logsumexp``, ``softmax``, ``amax``). Its
    argument is read several times, so it is named first unless it is a named tensor already;
    ``reduces``: the axis is kept with size 1 (otherwise the shape is the argument's)."""

    reduces = True

    def __init__(self, op: str, a: TensorExpr, axis: int):
        axis = check_axis(op, a, axis)
        self.op, self.a, self.axis = op, a, axis
        self.shape = (tuple(sp.Integer(1) if ax == axis else n for ax, n in enumerate(a.shape))
                      if self.reduces else a.shape)

    @property
    def pointwise(self):
        return False

    def named_argument(self, ctx) -> "Tensor":
        return self.a if isinstance(self.a, Tensor) else ctx.hoist(self.a)


class LogSumExp(AlongAxis):
    """``log(sum(exp(x), axis))``, computed stably as ``max + log(sum(exp(x - max)))``.

    The row maximum is a named intermediate the derivation treats as a constant:
    exact here, because the log-sum-exp does not change when its shift does.
    """

    def __init__(self, a: TensorExpr, axis: int):
        super().__init__("logsumexp", a, axis)

    def build(self, indices, ctx):
        source = self.named_argument(ctx)
        shift = ctx.hoist_max(source, self.axis, "max")
        shifted = ctx.hoist(exp(source - shift), "exp")
        total = ctx.hoist(shifted.sum(axis=self.axis), "sum")
        return (shift + log(total)).build(indices, ctx)


def logsumexp(x, axis: int | None = None) -> TensorExpr:
    """``log(sum(exp(x), axis))`` kept with size 1 along ``axis``; without an axis, of every entry
    (a scalar, as ``scipy.special.logsumexp(x)``): the log-sum-exp along each axis longer than 1
    in turn, which is the same number, each stable."""
    x = as_tensor(x)
    if axis is not None:
        return LogSumExp(x, axis)
    if not x.shape:
        return x
    for along in (1, 0):
        if x.shape[along] != 1:
            x = LogSumExp(x, along)
    return x.sum()


class _Normalized(AlongAxis):
    """``x - logsumexp(x, axis)`` (log-softmax) or its ``exp`` (softmax), the log-sum-exp a named
    intermediate (``<name>_lse``, shifted by its maximum): stable at any size of ``x``, and the
    backward pass is the vector-Jacobian product, never the Jacobian."""

    reduces = False

    def build(self, indices, ctx):
        source = self.named_argument(ctx)
        lse = ctx.hoist(LogSumExp(source, self.axis), "lse")
        shifted = source - lse
        return (exp(shifted) if self.op == "softmax" else shifted).build(indices, ctx)


def softmax(x, axis: int) -> TensorExpr:
    """``exp(x - logsumexp(x, axis))``: entries along ``axis`` are positive and sum to 1."""
    return _Normalized("softmax", as_tensor(x), axis)


def log_softmax(x, axis: int) -> TensorExpr:
    """``x - logsumexp(x, axis)``, the log of ``softmax(x, axis)`` computed without its ``log``."""
    return _Normalized("log_softmax", as_tensor(x), axis)
