"""Models: named tensors with symbolic shapes, each intermediate one index expression.

A model holds dimensions (positive integer symbols such as N, M, L),
constants (data), parameters (what gradients are taken for) and named
intermediates, each defined by one index-notation expression, as the notes'
"Sub-functions" are. Build one with the DSL or write the index notation::

    m = Model("affine")
    N, L = m.dims("N L")
    X = m.constant("X", (N, L))
    W = m.parameter("W", (1, N))
    Y = m.define("Y", W @ X)
    r = sp.Symbol("r", integer=True)
    S = m.define("S", shape=(1, L), index=lambda a, c: sp.Sum(W[0, r] * X[r, c], (r, 0, N - 1)))
    m.loss("Loss", sum_squares(Y - S) / L)

Shape errors are raised while the model is built; a definition may only use
tensors defined before it. Names and sizes are checked as they are declared: a
name Python or the generated module already uses is refused (``symgrad.names``),
and a size is a positive integer or an expression in the dimensions that is a
positive integer for all of their values (``2*M``, not ``M - 3``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import sympy as sp

from symgrad.index.deltas import collapse, term_ranges
from symgrad.model.dsl import Tensor, TensorExpr, as_tensor, show_shape, size_of
from symgrad.errors import ModelError, ShapeError
from symgrad.model.names import model_name_refusal, refusal
from symgrad.model.stable_forms import stabilize
from symgrad.model.functions import row_of
from symgrad.model.index_input import terms_from_sympy
from symgrad.model.linalg import MatrixFunctionOf, Opaque, entry, inv
from symgrad.index.terms import IndexExpr, IndexSpace, Term, dimension, interval, is_nonnegative

@dataclass(frozen=True)
class ListInput:
    """A list of matrices given at run time, one per layer (``W``, ``Theta``)."""

    name: str
    role: str  # "parameter" or "constant"


@dataclass(frozen=True)
class Definition:
    """``name[indices] = sum of terms``, delta-collapsed."""

    name: str
    expr: IndexExpr
    origin: str  # "dsl", "index", "max" (a maximum the derivation treats as a constant) or "matrix"
    reduce: tuple | None = None  # for "max": (source tensor, axis)
    opaque: object = None        # for "matrix": a ``linalg.Opaque`` (inv, det, logdet of a whole matrix)


class Model:
    """Named tensors with symbolic shapes and one definition per intermediate."""

    def __init__(self, name: str, description: str = ""):
        reason = model_name_refusal(name)
        if reason is not None:
            raise ModelError(f"model name {name!r}: {reason}; rename it")
        self.name, self.description = name, description
        self.dimensions: dict[str, sp.Symbol] = {}
        self.tensors: dict[str, Tensor] = {}
        self.definitions: dict[str, Definition] = {}
        self.loss_name: str | None = None
        self.samplers: dict[str, Callable] = {}
        self.lists: dict = {}                 # list inputs (one matrix per layer), by name
        self.input_order: list[str] = []      # every input, as the generated functions take them
        self.stack = None                     # its repeated layers, set by layers.stack_layers
        self.stacked_names = False            # whether its names meet a layer driver's (names.STACK_NAMES)
        self.space = IndexSpace("i")
        self._defining: list[str] = []

    # declarations -------------------------------------------------------
    def dims(self, names: str) -> tuple[sp.Symbol, ...]:
        """Declare dimension symbols, e.g. ``N, M, L = m.dims("N M L")``."""
        symbols = []
        for name in names.split():
            self._check_new_name(name, "dimension")
            self.dimensions[name] = dimension(name)
            symbols.append(self.dimensions[name])
        return tuple(symbols)

    def constant(self, name: str, shape: tuple = ()) -> Tensor:
        return self._add(name, shape, "constant")

    def parameter(self, name: str, shape: tuple = ()) -> Tensor:
        return self._add(name, shape, "parameter")

    def parameter_list(self, name: str):
        """A list of parameter matrices, one per layer of the model's stack (``W``)."""
        return self._add_list(name, "parameter")

    def constant_list(self, name: str):
        """A list of constant matrices, one per layer of the model's stack (``W0``)."""
        return self._add_list(name, "constant")

    def sample_with(self, name: str, draw: Callable) -> None:
        """How checks draw input ``name``: ``draw(rng, shape) -> array or float`` (e.g. positive data)."""
        if name in self.lists:
            self.samplers[name] = draw
            return
        if name not in self.tensors or self.tensors[name].role == "intermediate":
            raise ModelError(f"sample_with: {name!r} is not an input of model {self.name!r}")
        self.samplers[name] = draw

    def define(self, name: str, expr: TensorExpr | None = None, *, shape: tuple | None = None,
               index: Callable[..., sp.Expr] | None = None) -> Tensor:
        """A named intermediate, from a DSL expression or from index notation.

        ``index`` receives one SymPy index per axis (0 for an axis of size 1) and
        returns the entry as a SymPy expression using ``Tensor[...]`` entries,
        ``sympy.Sum`` over integer symbols, ``KroneckerDelta`` and the table's functions.
        """
        if (expr is None) == (index is None):
            raise ModelError(f"define {name!r}: give either a DSL expression or index=..., not both")
        self._check_new_name(name)
        declared = None if shape is None else _shape(shape, f"tensor {name!r}", self._dimension_symbols())
        if expr is not None:
            expr = as_tensor(expr)
            if isinstance(expr, MatrixFunctionOf):     # inv(A), det(A), logdet(A): named as given
                if declared is not None and not _same_shape(declared, expr.shape):
                    raise ShapeError(f"define {name!r}: declared shape {show_shape(declared)}, "
                                     f"expression has {show_shape(expr.shape)}")
                self._defining.append(name)
                try:
                    return self._hoist_matrix_function(expr, name)
                finally:
                    self._defining.pop()
            if declared is not None and not _same_shape(declared, expr.shape):
                raise ShapeError(f"define {name!r}: declared shape {show_shape(declared)}, "
                                 f"expression has {show_shape(expr.shape)}")
            out_shape = expr.shape
        else:
            if declared is None:
                raise ModelError(f"define {name!r}: index notation needs shape=...")
            out_shape = declared
        self._defining.append(name)
        try:
            indices = self.space.indices_for(out_shape)
            if expr is not None:
                terms = expr.build(indices, _Context(self))
                origin = "dsl"
            else:
                terms = terms_from_sympy(index(*indices), self, name, indices)
                origin = "index"
        finally:
            self._defining.pop()
        return self._store(name, out_shape, indices, terms, origin)

    def loss(self, name: str, expr: TensorExpr | None = None, *,
             index: Callable[[], sp.Expr] | None = None) -> Tensor:
        """Define the scalar loss, the root of the derivation (DSL, or index notation with no free index)."""
        if self.loss_name is not None:
            raise ModelError(f"model {self.name!r} already has the loss {self.loss_name!r}")
        tensor = self.define(name, expr, shape=() if index is not None else None, index=index)
        if tensor.shape != ():
            raise ShapeError(f"loss {name!r} must be a scalar, got shape {show_shape(tensor.shape)}")
        self.loss_name = name
        return tensor

    # queries ------------------------------------------------------------
    def of_role(self, role: str) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.role == role]

    @property
    def inputs(self) -> list[Tensor]:
        """Constants and parameters, in declaration order: the generated functions' keywords."""
        return [t for t in self.tensors.values() if t.role != "intermediate"]

    @property
    def parameter_names(self) -> list[str]:
        """Every parameter and parameter list, in declaration order: the keys of the gradients."""
        return [n for n in self.input_order
                if (n in self.lists and self.lists[n].role == "parameter")
                or (n in self.tensors and self.tensors[n].role == "parameter")]

    def ensure_complete(self) -> None:
        """A ModelError unless the model can be derived as one: a loss and parameters (a model
        with layers is derived layer by layer, each layer checked so once its stack is closed)."""
        if self.loss_name is None:
            raise ModelError(f"model {self.name!r} has no loss: call model.loss(name, expr)")
        if not self.of_role("parameter"):
            raise ModelError(f"model {self.name!r} has no parameters to differentiate")

    # internals ----------------------------------------------------------
    def _check_new_name(self, name: str, kind: str = "tensor") -> None:
        reason = refusal(name, stacked=self.stacked_names)
        if reason is not None:
            raise ModelError(f"{kind} {name!r}: {reason}; rename it")
        if name in self.tensors or name in self.dimensions or name in self.lists:
            raise ModelError(f"name {name!r} is already used in model {self.name!r}")

    def _add(self, name: str, shape, role: str, check: bool = True) -> Tensor:
        if check:
            self._check_new_name(name)
        tensor = Tensor(self, name, _shape(shape, f"tensor {name!r}", self._dimension_symbols()), role)
        self.tensors[name] = tensor
        if role != "intermediate":
            self.input_order.append(name)
        return tensor

    def _add_list(self, name: str, role: str):
        self._check_new_name(name, "list input")
        self.lists[name] = ListInput(name, role)
        self.input_order.append(name)
        return self.lists[name]

    def _dimension_symbols(self) -> set:
        """The symbols a shape of this model may use."""
        return set(self.dimensions.values())

    def _store(self, name, shape, indices, terms, origin) -> Tensor:
        terms = tuple(Term(stabilize(t.factor, self), t.bound, t.conditions) for t in terms)
        expr = IndexExpr(tuple(indices), collapse(terms, self.space.ranges_of(indices)))
        _check_functions(name, expr)
        tensor = Tensor(self, name, shape, "intermediate")
        self.tensors[name] = tensor
        self.definitions[name] = Definition(name, expr, origin)
        self._check_accesses(name, expr)
        return tensor

    def _check_accesses(self, name: str, expr: IndexExpr) -> None:
        for term in expr.terms:
            ranges = term_ranges(term, self.space.ranges_of(expr.indices))
            for access in term.factor.atoms(sp.Indexed):
                tensor = self.tensors[access.base.name]
                for axis, (index, size) in enumerate(zip(access.indices, tensor.shape)):
                    span = interval(index, ranges)
                    if span is None:
                        raise ModelError(f"define {name!r}: index {index} of {access} is not "
                                         "an index plus an offset")
                    if not _may_fit(span, size):
                        raise ShapeError(f"define {name!r}: {access} reaches {span[0]}..{span[1]} on axis "
                                         f"{axis} of {tensor.name} {show_shape(tensor.shape)}")

    def _hoist_name(self, suffix: str | None) -> str:
        owner = self._defining[-1]
        if suffix is not None and f"{owner}_{suffix}" not in self.tensors:
            return f"{owner}_{suffix}"
        n = 1
        while f"{owner}_{n}" in self.tensors:
            n += 1
        return f"{owner}_{n}"

    def _hoist(self, expr: TensorExpr, suffix: str | None = None) -> Tensor:
        """``expr`` named for the intermediate being defined; an intermediate already defined the
        same way is reused instead (``softmax(T / tau)`` and ``log_softmax(T / tau)`` share their
        ``T / tau``, row maximum, exponentials and sums), so the derivation and the code compute it once."""
        if isinstance(expr, MatrixFunctionOf):     # an inverse already named is reused
            return self._hoist_matrix_function(expr, None)
        tensor = self.define(self._hoist_name(suffix), expr)
        return self._earlier_same(tensor.name) or tensor

    def _earlier_same(self, name: str) -> Tensor | None:
        """The intermediate defined before ``name`` with the same definition (indices renamed), with
        ``name`` then forgotten; None where there is none."""
        definition = self.definitions[name]
        key = _definition_key(definition)
        for other, earlier in self.definitions.items():
            if other == name:
                return None
            if self.tensors[other].shape == self.tensors[name].shape and _definition_key(earlier) == key:
                del self.definitions[name], self.tensors[name]
                return self.tensors[other]
        return None

    def _hoist_max(self, source: Tensor, axis: int, suffix: str) -> Tensor:
        """A row (axis 1) or column (axis 0) maximum that the derivation treats as a constant; the one
        already taken of ``source`` along ``axis`` is reused."""
        for other, definition in self.definitions.items():
            if definition.origin == "max" and definition.reduce == (source.name, axis):
                return self.tensors[other]
        name = self._hoist_name(suffix)
        shape = tuple(sp.Integer(1) if ax == axis else n for ax, n in enumerate(source.shape))
        indices = self.space.indices_for(shape)
        reduced = sp.Symbol("k", integer=True)
        entry = list(indices)
        entry[axis] = reduced
        factor = sp.Function("max")(source.entry(tuple(entry)), reduced)
        tensor = Tensor(self, name, shape, "intermediate")
        self.tensors[name] = tensor
        self.definitions[name] = Definition(name, IndexExpr(tuple(indices), (Term(factor),)),
                                            "max", (source.name, axis))
        return tensor


    def _hoist_matrix_function(self, expr, name: str | None) -> Tensor:
        """``name`` (or a hoisted name) defined as ``inv``, ``det`` or ``logdet`` of a named matrix; the
        partials of ``det`` and ``logdet`` read a named inverse of it, reused or hoisted here."""
        source = expr.a if isinstance(expr.a, Tensor) else self._hoist(expr.a)
        function = expr.function
        inverse = next((n for n, d in self.definitions.items() if d.opaque is not None
                        and d.opaque.function.name == "inv" and d.opaque.source == source.name), None)
        if function.name != "inv" and inverse is None:
            inverse = self._hoist_matrix_function(inv(source), None).name
        if function.name == "inv" and inverse is not None and name is None:
            return self.tensors[inverse]
        name = name or self._hoist_name(function.name)
        shape = () if function.scalar else source.shape
        indices = self.space.indices_for(shape)
        tensor = Tensor(self, name, shape, "intermediate")
        self.tensors[name] = tensor
        opaque = Opaque(function, source.name, inverse or name)
        self.definitions[name] = Definition(
            name, IndexExpr(tuple(indices), (Term(entry(function.name, source.name, indices)),)),
            "matrix", opaque=opaque)
        return tensor


class _Context:
    def __init__(self, model: Model):
        self.model, self.space = model, model.space

    def hoist(self, expr: TensorExpr, suffix: str | None = None) -> Tensor:
        return self.model._hoist(expr, suffix)

    def hoist_max(self, source: Tensor, axis: int, suffix: str) -> Tensor:
        return self.model._hoist_max(source, axis, suffix)


def _definition_key(definition: Definition):
    """What ``definition`` computes, its free and summed indices renamed in the order they appear,
    so that two definitions of the same entries compare equal; None for a maximum or a matrix
    function (compared by their sources instead)."""
    if definition.origin not in ("dsl", "index"):
        return None
    free = {index: sp.Symbol(f"_free{k}") for k, index in enumerate(definition.expr.indices)
            if isinstance(index, sp.Symbol)}
    terms = []
    for term in definition.expr.terms:
        names = dict(free)
        names.update({bound[0]: sp.Symbol(f"_sum{k}") for k, bound in enumerate(term.bound)})
        terms.append((term.factor.xreplace(names), tuple(tuple(sp.sympify(b).xreplace(names) for b in bound)
                                                         for bound in term.bound),
                      tuple(sp.sympify(c).xreplace(names) for c in term.conditions)))
    return tuple(isinstance(index, sp.Symbol) for index in definition.expr.indices), tuple(terms)


def _shape(shape, what: str, dimensions: set | None = None) -> tuple:
    """``shape`` as a tuple of SymPy sizes, each checked by ``size_of``; ``what`` names the tensor."""
    entries = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if len(entries) not in (0, 2):
        raise ShapeError(f"{what}: shape {show_shape(entries)}: tensors are scalars () or matrices (rows, cols)")
    return tuple(size_of(n, axis, what, dimensions) for axis, n in enumerate(entries))


@lru_cache(maxsize=1 << 12)
def _may_fit(span: tuple, size: sp.Expr) -> bool:
    """Whether an index that takes the values ``span`` may lie on an axis of ``size`` (False when
    it leaves the axis for some dimension values; remembered, a model has few distinct spans)."""
    return not (is_nonnegative(span[0]) is False or is_nonnegative(size - 1 - span[1]) is False)


def _same_shape(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(sp.expand(x - y) == 0 for x, y in zip(a, b))


def _check_functions(name: str, expr: IndexExpr) -> None:
    for term in expr.terms:
        for f in term.factor.atoms(sp.Function):
            if isinstance(f, sp.KroneckerDelta) or row_of(f) is not None or _of_dimensions(f):
                continue
            raise ModelError(f"define {name!r}: function {type(f).__name__!r} is not in the table")


def _of_dimensions(f: sp.Expr) -> bool:
    """A SymPy function of dimensions and numbers only (``exp(N)``): a scalar constant."""
    return all(s.is_integer and s.is_positive for s in f.free_symbols)
