"""Reverse-mode chain rule over a model's named intermediates, in index notation.

For every tensor V on a path from a parameter to the loss, the adjoint
``grad_V[p, q] = dLoss/dV[p, q]`` is a named tensor defined by

    grad_V[p, q] = sum over consumers U of V, sum over u:  grad_U[u] * dU[u]/dV[p, q]

where the local partial ``dU[u]/dV[p, q]`` comes from ``sympy.diff`` of U's
one-line definition (Kronecker deltas and indicators, as the notes write
them) and the deltas are collapsed right after each step. Adjoints refer to
each other by name, so deriving costs time linear in the number of
intermediates. ``expanded`` substitutes them into each other for display
(the notes' "Build it all" forms); it is never used to generate code.

The local partials are kept as data (``partials``), for the documents. A model with
layers is derived layer by layer (``layers.py``); either way the result has the interface of
``model_derivation.ModelDerivation``.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import sympy as sp

from symgrad.index.deltas import Elimination, collapse
from symgrad.errors import SymgradWarning
from symgrad.model.functions import is_mask
from symgrad.model.model import Model
from symgrad.differentiate.layers import derive_layers
from symgrad.differentiate.model_derivation import ModelDerivation, Part
from symgrad.differentiate.pooled_diff import pooled_diff, reads_no_entry
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.index.collector import fewer_full_collections
from symgrad.index.conventions import adjoint_name
from symgrad.index.text import formula_text
from symgrad.index.rebuild import entry, replaced, times
from symgrad.index.terms import IndexExpr, IndexSpace, Term, atoms_of, distributed, free_symbols_of, read_name


@dataclass(frozen=True)
class LocalPartial:
    """``d of[out] / d wrt[at]`` with deltas between free indices kept."""

    of: str
    wrt: str
    out: tuple
    at: tuple
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class AdjointStep:
    """The part of ``grad_<wrt>`` that flows back through ``consumer``."""

    wrt: str
    consumer: str
    chained: tuple[Term, ...]          # grad_U[u] * dU[u]/dV[p, q], summed over u, before collapsing
    collapsed: tuple[Term, ...]
    eliminated: tuple[Elimination, ...]


@dataclass
class Derivation(ModelDerivation):
    """Every named adjoint of a model, and how each was reached: a model without layers, or one
    layer of a stack."""

    model: Model
    space: IndexSpace
    adjoints: dict[str, IndexExpr] = field(default_factory=dict)
    partials: list[LocalPartial] = field(default_factory=list)
    seconds: float = 0.0
    _adjoint_graph: dict | None = field(default=None, repr=False, compare=False)   # built by _reaches

    @property
    def parameters(self) -> list[str]:
        return [t.name for t in self.model.of_role("parameter")]

    def expanded(self, name: str, limit: int | None = None) -> IndexExpr | None:
        """``dLoss/d<name>`` with every adjoint substituted: forward tensors only. With ``limit``:
        None when more than ``limit`` adjoints would be substituted (deep in a long chain of layers,
        where the expanded form grows with the depth and the recursion is the readable form)."""
        if limit is not None and len(self._reaches(name, stop_after=limit)) > limit:
            return None
        expr = self.adjoints.get(name)
        if expr is None:   # a parameter the loss does not depend on: its gradient is zero
            return IndexExpr(self.space.indices_for(self.model.tensors[name].shape), ())
        terms = expr.terms
        mentioned = _mentioned(terms)
        for other in self.order:
            base = adjoint_name(other)
            if other == name or base not in mentioned:
                continue
            terms = collapse(substitute(terms, base, self.adjoints[other], self.space),
                             self.space.ranges_of(expr.indices))
            mentioned = _mentioned(terms)
        return IndexExpr(expr.indices, terms)

    def collapsed_text(self, name: str, head: str | None = None, expanded: IndexExpr | None = None) -> str:
        """``dLoss/d<name>[i, j] = ...``, the collapsed gradient as text with named forward values
        reused (``H*(1 - H)``): what ``symgrad show``, the API, ``symgrad check`` and the generated
        code's comments print. ``head``: the left-hand side's name (default ``d<loss>/d<name>``);
        ``expanded``: ``self.expanded(name)`` where the caller has it already (expanding again
        draws fresh index names, and the documents print the names in the order they were drawn)."""
        reserved = set(self.model.tensors) | set(self.model.dimensions)
        expanded = self.expanded(name) if expanded is None else expanded
        expr = reuse_forward_values(expanded, self.model, cheaper=False)
        return formula_text(head or f"d{self.model.loss_name}/d{name}", expr, reserved)

    def _reaches(self, name: str, stop_after: int | None = None) -> set[str]:
        """The tensors whose adjoints ``dLoss/d<name>`` is built from, directly or not; with
        ``stop_after``, only until more than that many are found (all a limit needs to know: a
        whole walk per parameter made the comments of a long chain quadratic)."""
        if self._adjoint_graph is None:
            bases = {adjoint_name(n): n for n in self.adjoints}
            self._adjoint_graph = {
                n: {bases[read_name(s)] for t in e.terms for s in free_symbols_of(t.factor)
                    if read_name(s) in bases} - {n}
                for n, e in self.adjoints.items()}
        seen, todo = set(), [name]
        while todo and (stop_after is None or len(seen) <= stop_after):
            for other in self._adjoint_graph[todo.pop()] - seen:
                seen.add(other)
                todo.append(other)
        return seen

    @property
    def order(self) -> list[str]:
        """Tensors with adjoints, forward order (parameters first as declared)."""
        return [n for n in self.model.tensors if n in self.adjoints]

    # the interface every derivation has (model_derivation.py): a model without layers is one part
    @property
    def parts(self) -> tuple[Part, ...]:
        return (Part(self, f"{self.model.name}: {self.model.description}", "", ""),)

    show_preface: ClassVar[tuple[str, ...]] = ()
    document_preface: ClassVar[tuple[tuple[str, str], ...]] = ()
    second_order_preface: ClassVar[tuple[tuple[str, str], ...]] = ()
    layer_tensor_names: ClassVar[frozenset[str]] = frozenset()

    @property
    def intermediates(self) -> list[str]:
        return [n for n in self.model.definitions if n != self.model.loss_name and n in self.adjoints]

    def layer(self, layer, depth) -> "Derivation":
        return self



def _mentioned(terms) -> set[str]:
    """The names of the tensors and scalars the terms' factors read."""
    return {read_name(s) for t in terms for s in free_symbols_of(t.factor)}


def substitute(terms, base: str, definition: IndexExpr, space: IndexSpace) -> tuple[Term, ...]:
    """Replace each entry of adjoint ``base`` (which enters linearly) by its definition."""
    out = []
    for term in terms:
        accesses = [a for a in atoms_of(term.factor, sp.Indexed) if read_name(a) == base]
        if not accesses:
            accesses = [s for s in free_symbols_of(term.factor) if isinstance(s, sp.Symbol) and str(s) == base]
        if not accesses:
            out.append(term)
            continue
        if len(accesses) > 1 or accesses[0] not in sp.Mul.make_args(term.factor):
            # the adjoint inside a sum (terms combined): substitute in each part of the distributed sum
            parts = sp.Add.make_args(distributed(term.factor))
            if len(parts) == 1:
                raise ValueError(f"{base} enters {term.factor} nonlinearly")
            out.extend(substitute([Term(p, term.bound, term.conditions) for p in parts],
                                   base, definition, space))
            continue
        (access,) = accesses
        rest = replaced(term.factor, {access: sp.Integer(1)})
        indices = access.indices if isinstance(access, sp.Indexed) else ()
        mapping = {f: i for f, i in zip(definition.indices, indices) if f != 0}
        for inner in definition.terms:
            inner = space.rename_bound(inner, mapping)
            out.append(Term(rest, term.bound, term.conditions).times(inner))
    return tuple(out)


def _references(expr: IndexExpr) -> set[str]:
    names = {read_name(a) for t in expr.terms for a in atoms_of(t.factor, sp.Indexed)}
    names |= {str(s) for t in expr.terms for s in free_symbols_of(t.factor)
              if isinstance(s, sp.Symbol) and not s.is_integer}
    return names


def _through_derivatives(expr: IndexExpr) -> IndexExpr:
    """``expr`` with its indicators (zero derivative almost everywhere: ``equal``, ``step``) set to
    1: what is left names the tensors a gradient flows back to (a count of ties carries none)."""
    def unmasked(factor):
        return replaced(factor, {f: sp.Integer(1) for f in atoms_of(factor, sp.Function) if is_mask(f)})
    return IndexExpr(expr.indices, tuple(Term(unmasked(t.factor), t.bound, t.conditions) for t in expr.terms))


def _needs_adjoint(model: Model) -> list[str]:
    """Parameters and the intermediates that depend on one through a nonzero derivative, in forward order."""
    depends = {t.name for t in model.of_role("parameter")}
    for name, definition in model.definitions.items():
        if definition.origin != "max" and _references(_through_derivatives(definition.expr)) & depends:
            depends.add(name)
    reaches = {model.loss_name}
    for name in reversed(list(model.definitions)):
        if name in reaches:
            reaches |= _references(model.definitions[name].expr)
    return [n for n in model.tensors if n in depends and n in reaches]


def _consumers(model: Model, names: list[str]) -> dict[str, list[str]]:
    """For each of ``names``, the intermediates whose definitions read it, in definition order
    (each definition's references found once: linear in the model's size)."""
    consumers = {n: [] for n in names}
    for user, definition in model.definitions.items():
        for name in _references(definition.expr) & consumers.keys():
            consumers[name].append(user)
    return consumers


@fewer_full_collections()
def derive(model: Model) -> ModelDerivation:
    """Run the chain rule backwards from the loss; returns every named adjoint.

    A model with a stack gives a ``StackDerivation`` (``layers.py``): its hidden and output
    layers, each derived once by ``derive_one``.
    """
    return derive_layers(model, derive_one)


def derive_one(model: Model, warn_unused: bool = True) -> Derivation:
    """The chain rule over one model without layers (or one layer of a stack); ``warn_unused``:
    warn of each parameter the loss does not depend on (a stack warns per list instead)."""
    model.ensure_complete()
    start = time.perf_counter()
    derivation = Derivation(model, IndexSpace("a"))
    space = derivation.space
    needed = _needs_adjoint(model)
    consumers = _consumers(model, needed)
    loss = model.loss_name
    derivation.adjoints[loss] = IndexExpr((), (Term(sp.Integer(1)),))
    for name in reversed(needed):
        if name == loss:
            continue
        tensor = model.tensors[name]
        at = space.indices_for(tensor.shape)
        at_ranges = derivation.space.ranges_of(at)
        total: list[Term] = []
        for consumer in consumers[name]:
            if consumer not in derivation.adjoints:
                continue
            step = _chain_step(model, derivation, consumer, tensor, at, at_ranges)
            total += step.collapsed
        derivation.adjoints[name] = IndexExpr(at, tuple(total))
    derivation.seconds = time.perf_counter() - start
    if warn_unused:
        for name in derivation.parameters:
            if name not in derivation.adjoints:
                _warn_unused(f"parameter {name!r} does not affect the loss {loss!r}; its gradient is zero")
    return derivation


def _warn_unused(message: str) -> None:
    warnings.warn(message, SymgradWarning, stacklevel=5)   # told where derive was called (derive_layers between)


@lru_cache(maxsize=1 << 12)
def _adjoint_base(name: str, shape: tuple) -> sp.IndexedBase:
    """The tensor ``grad_<name>``, built once per name and shape (an ``IndexedBase`` with
    assumptions costs a deduction of all its facts to build; it is immutable)."""
    return sp.IndexedBase(name, shape=shape, real=True)


def _chain_step(model, derivation, consumer, tensor, at, at_ranges) -> AdjointStep:
    space = derivation.space
    definition = model.definitions[consumer].expr
    out = space.indices_for(model.tensors[consumer].shape)
    out_bound = tuple((o, *space.ranges[o]) for o in out if o != 0)
    rename = {f: o for f, o in zip(definition.indices, out) if f != 0}
    wrt = tensor.entry(at)
    local: list[Term] = []
    opaque = model.definitions[consumer].opaque
    if opaque is not None:     # inv, det, logdet of a whole matrix: the partial is the rule's
        value = model.tensors[consumer].entry(out)
        local += opaque.local_partial(value, model, out, at)
    for term in definition.terms if opaque is None else ():
        if reads_no_entry(term.factor, wrt):     # its derivative is 0: no renamed copy to build
            space.skip_bound(term)
            continue
        term = space.rename_bound(term, rename)
        derivative = pooled_diff(term.factor, wrt)
        if derivative != 0:
            local.append(Term(derivative, term.bound, term.conditions))
    local_ranges = {**at_ranges, **derivation.space.ranges_of(out)}
    partial = collapse(local, local_ranges)
    derivation.partials.append(LocalPartial(consumer, tensor.name, out, at, partial))
    if consumer == model.loss_name:
        seed = sp.Integer(1)
    else:
        adjoint = model.tensors[consumer]
        seed = (sp.Symbol(adjoint_name(consumer), real=True) if not adjoint.shape
                else entry(_adjoint_base(adjoint_name(consumer), adjoint.shape), out))
    chained = tuple(Term(times(seed, t.factor), out_bound + t.bound, t.conditions) for t in partial)
    log: list[Elimination] = []
    collapsed = collapse(chained, at_ranges, log)
    return AdjointStep(tensor.name, consumer, chained, collapsed, tuple(log))
