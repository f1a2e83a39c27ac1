"""Forward-over-reverse: the tangent of every intermediate and every adjoint, in index notation.

A first-order derivation is two straight-line programs of named index expressions: the
model's definitions ``Y[out] = f(X1, ..., Xk)`` and the adjoints ``grad_V[at] = ...``, whose
inputs are forward values and adjoints computed before them. Along a tangent ``dot_P`` of
every parameter ``P``, each statement gets one more named statement, its directional
derivative

    dot_Y[out] = sum over inputs X of Y, sum over at:  dY[out]/dX[at] * dot_X[at]

with the local partial ``dY[out]/dX[at]`` from ``sympy.diff`` of the statement (Kronecker
deltas and indicators, as for first order; an ``inv``/``det``/``logdet`` definition uses its
rule from ``linalg``), and the deltas collapsed right after each step, so ``dot_Y`` reads the
inputs' tangents at the entries ``Y`` reads them. Tangents refer to each other by name, so
this costs time linear in the number of statements. The tangent of a parameter's adjoint,
``dot_grad_P``, is the Hessian-vector product ``(H dot)_P``.

Kinks follow PyTorch, from the function table: the derivative of every indicator
(``step``, ``crelu_mask``, ``equal``, ``above``) and of ``sign`` is 0, so relu'' = crelu'' = 0
and the second derivative of ``abs``, ``maximum`` and ``minimum`` is 0 away from the kink. A
``max`` shift (of a log-sum-exp) is a constant for first order, and stays one here: the
gradient does not depend on it, so neither does its tangent. A constant's tangent is 0; a
statement none of whose inputs has a tangent has none (it is left out, not written as 0).

A layer of a stack is derived the same way, once per layer kind, along its part's ``varying``
inputs (``model_derivation.Part``): its carried input, its elements of the list parameters and,
for a hidden layer, ``grad_out``, the adjoint of its output, whose tangent the layer above
computes; ``emit/layer_hvp_plan.py`` chains the layers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import sympy as sp

from symgrad.differentiate.chain_rule import Derivation, substitute
from symgrad.index.conventions import adjoint_name, tangent_name
from symgrad.index.deltas import Elimination, collapse, term_ranges
from symgrad.index.terms import IndexExpr, Term, atoms_of, free_symbols_of, interval, is_nonnegative, read_name


@dataclass(frozen=True)
class TangentStep:
    """The part of ``dot_<of>`` that flows in through input ``through``."""

    of: str                            # a forward tensor (``Z1``) or an adjoint (``grad_Z1``)
    through: str                       # the input: a forward tensor or an adjoint
    out: tuple                         # the statement's free indices
    at: tuple                          # the input's indices in the local partial
    partial: tuple[Term, ...]          # d of[out] / d through[at], deltas between free indices kept
    chained: tuple[Term, ...]          # partial * dot_through[at], summed over at, before collapsing
    collapsed: tuple[Term, ...]
    eliminated: tuple[Elimination, ...]


@dataclass
class TangentDerivation:
    """The tangents of the intermediates and adjoints of a model without layers (or of one layer
of a stack), and how each was reached.

    ``forward``: ``{tensor: dot_tensor}`` for intermediates (a parameter's tangent is an input);
    ``adjoints``: ``{tensor: dot_grad_tensor}``, in the order the adjoints are computed.
    """

    derivation: Derivation
    forward: dict[str, IndexExpr] = field(default_factory=dict)
    adjoints: dict[str, IndexExpr] = field(default_factory=dict)
    steps: list[TangentStep] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def parameters(self) -> list[str]:
        return self.derivation.parameters

    def hvp(self, parameter: str) -> IndexExpr | None:
        """``(H dot)_parameter``: the tangent of its adjoint; None where it is 0."""
        return self.adjoints.get(parameter)

    def named(self) -> dict[str, IndexExpr]:
        """Every named tangent and adjoint by its name (``dot_grad_Z``, ``grad_Z``, ``dot_Z``): the
        adjoints' tangents, the adjoints, the intermediates' tangents, each in the order computed."""
        named = {tangent_name(adjoint_name(n)): e for n, e in self.adjoints.items()}
        named.update({adjoint_name(n): e for n, e in self.derivation.adjoints.items()})
        named.update({tangent_name(n): e for n, e in self.forward.items()})
        return named

    def expanded(self, parameter: str, limit: int = 40, max_terms: int | None = None) -> IndexExpr | None:
        """``(H dot)_parameter`` with every named tangent and adjoint substituted, collapsed: forward
        values and the parameters' tangents only (the document's and the report's closed form).
        None where it is 0, or where more than ``limit`` substitutions would be needed (a long
        chain, whose recursion is the readable form). With ``max_terms``, a name whose substitution
        would make the sum longer than that stays named (``named()`` says what it stands for)."""
        expr = self.hvp(parameter)
        if expr is None:
            return None
        space = self.derivation.space
        named = self.named()
        terms, ranges, kept = expr.terms, space.ranges_of(expr.indices), set()
        for _ in range(limit):
            reads = _reads(IndexExpr(expr.indices, terms))
            present = [n for n in named if n in reads and n not in kept]
            if not present:
                return IndexExpr(expr.indices, terms)
            substituted = collapse(substitute(terms, present[-1], named[present[-1]], space), ranges)
            if max_terms is not None and len(substituted) > max_terms:
                kept.add(present[-1])
            else:
                terms = substituted
        return None

    def named_reads(self, expr: IndexExpr) -> list[str]:
        """The named tangents and adjoints ``expr`` reads, in ``named()``'s order."""
        reads = _reads(expr)
        return [n for n in self.named() if n in reads]


def _entry(name: str, shape: tuple, indices: tuple) -> sp.Expr:
    """The SymPy entry of a named value, as the derivation spells it (real symbols)."""
    if not shape:
        return sp.Symbol(name, real=True)
    return sp.IndexedBase(name, shape=shape, real=True)[indices]


def _reads(expr: IndexExpr) -> set[str]:
    names = {read_name(a) for t in expr.terms for a in atoms_of(t.factor, sp.Indexed)}
    names |= {read_name(s) for t in expr.terms for s in free_symbols_of(t.factor)
              if isinstance(s, sp.Symbol) and not s.is_integer}
    return names


def _without_implied_conditions(term: Term, free: dict) -> Term:
    """``term`` without the block conditions that the others imply (a tangent of a block of a
    block reads ``[M <= i <= 2M - 1] [0 <= i - M <= M - 1]``): the same value, read once."""
    kept = list(dict.fromkeys(term.conditions))
    for condition in reversed(list(kept)):
        others = [c for c in kept if c != condition]
        ranges = term_ranges(Term(sp.Integer(1), term.bound, tuple(others)), free)
        span = interval(condition[0], ranges)
        if span is not None and is_nonnegative(span[0] - condition[1]) and is_nonnegative(condition[2] - span[1]):
            kept = others
    return Term(term.factor, term.bound, tuple(kept))


def _tangent(tangents: TangentDerivation, of: str, expr: IndexExpr, inputs: dict, opaque=None,
             value: sp.Expr | None = None) -> IndexExpr | None:
    """``dot_<of>``: the directional derivative of ``of[expr.indices] = expr`` along the tangents
    of ``inputs`` (``{name: shape}`` of the inputs it reads that have one); None where it is 0."""
    space = tangents.derivation.space
    out = expr.indices
    out_ranges = space.ranges_of(out)
    total: list[Term] = []
    for name, shape in inputs.items():
        at = space.indices_for(shape)
        at_bound = tuple((a, *space.ranges[a]) for a in at if a != 0)
        wrt = _entry(name, shape, at)
        local: list[Term] = []
        if opaque is not None:      # inv, det, logdet of a whole matrix: the rule's partial
            local += opaque.local_partial(value, tangents.derivation.model, out, at)
        for term in expr.terms if opaque is None else ():
            term = space.rename_bound(term)
            derivative = sp.diff(term.factor, wrt)
            if derivative != 0:
                local.append(Term(derivative, term.bound, term.conditions))
        partial = collapse(local, {**out_ranges, **space.ranges_of(at)})
        if not partial:
            continue
        seed = _entry(tangent_name(name), shape, at)
        chained = tuple(Term(t.factor * seed, t.bound + at_bound, t.conditions) for t in partial)
        log: list[Elimination] = []
        collapsed = tuple(_without_implied_conditions(t, out_ranges) for t in collapse(chained, out_ranges, log))
        tangents.steps.append(TangentStep(of, name, out, at, partial, chained, collapsed, tuple(log)))
        total += collapsed
    return IndexExpr(out, tuple(total)) if total else None


def _in_space(expr: IndexExpr, shape: tuple, space) -> IndexExpr:
    """A model's definition with free indices of the derivation's ``space`` (bound ones are
    renamed at each step), as the first-order chain rule reads definitions."""
    out = space.indices_for(shape)
    rename = {f: o for f, o in zip(expr.indices, out) if f != 0}
    return IndexExpr(out, tuple(t.xreplace(rename) for t in expr.terms))


def derive_tangents(derivation: Derivation, varying: tuple[str, ...] | None = None) -> TangentDerivation:
    """The tangent of every forward intermediate and of every adjoint of a flat model's derivation,
    or of one layer's (``varying``: the inputs that have a tangent, default the parameters; a hidden
    layer's also has the tangent of ``grad_out``, the adjoint of its output, from the layer above).

    >>> from symgrad.model.catalogue import build
    >>> from symgrad.differentiate.chain_rule import derive
    >>> tangents = derive_tangents(derive(build("ridge_regression")))
    >>> sorted(tangents.adjoints) == sorted(tangents.parameters)  # doctest: +SKIP
    """
    start = time.perf_counter()
    model = derivation.model
    tangents = TangentDerivation(derivation)
    varying = derivation.parameters if varying is None else varying
    moving: dict[str, tuple] = {p: model.tensors[p].shape for p in varying}
    for name, definition in model.definitions.items():
        if definition.origin == "max":      # a constant shift: no tangent (see the module's docstring)
            continue
        reads = _reads(definition.expr)
        inputs = {n: shape for n, shape in moving.items() if n in reads}     # in a fixed order
        own = _in_space(definition.expr, model.tensors[name].shape, derivation.space)
        value = model.tensors[name].entry(own.indices) if definition.opaque else None
        expr = _tangent(tangents, name, own, inputs, definition.opaque, value)
        if expr is not None:
            tangents.forward[name] = expr
            moving[name] = model.tensors[name].shape
    adjoint_shapes = {adjoint_name(n): model.tensors[n].shape for n in derivation.adjoints}
    for name, expr in derivation.adjoints.items():     # in the order they are computed
        reads = _reads(expr)
        inputs = {n: shape for n, shape in moving.items() if n in reads}
        tangent = _tangent(tangents, adjoint_name(name), expr, inputs)
        if tangent is not None:
            tangents.adjoints[name] = tangent
            moving[adjoint_name(name)] = adjoint_shapes[adjoint_name(name)]
    tangents.seconds = time.perf_counter() - start
    return tangents
