"""Which adjoints the generated code computes, and which it folds into their users.

An adjoint that is only a scalar multiple of another tensor (``grad_Y = -grad_Delta``), an
outer product of two vectors, a plain number, a multiple of a Kronecker delta (the adjoint of
a trace or a diagonal), or the exp / sum parts of a softmax (which then read as the softmax
value) is not computed: its definition is substituted into the adjoints that read it, and the
deltas collapsed again. So shared intermediates (the error, the masks) are computed once and
nothing is copied for nothing. Substituting an exact definition and collapsing changes no
value, only where it is computed.

An adjoint ``outer * core`` whose outer factors (a scalar, a row or a column) no later adjoint
sums over is computed as its core, ``grad_Z_core``; the outer factors are applied to the small
results downstream.

``fold_adjoints`` walks the derivation from the loss down and yields each adjoint that is
computed, as a ``ComputedAdjoint``, lazily: the fresh index names it draws interleave with
those its caller draws for each one (the generated comments print them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import sympy as sp

from symgrad.differentiate.chain_rule import Derivation, substitute
from symgrad.differentiate.reuse import shown_and_reused
from symgrad.differentiate.softmax_value import softmax_values
from symgrad.index.conventions import CORE_SUFFIX, adjoint_name
from symgrad.index.deltas import collapse
from symgrad.index.terms import IndexExpr, Term, free_symbols_of, index_symbols, read_name


@dataclass(frozen=True)
class ComputedAdjoint:
    """One adjoint the generated code computes."""

    name: str                    # the tensor it is the adjoint of
    target: str                  # the array computed: grad_<name>, or grad_<name>_core
    expr: IndexExpr              # its value, folded adjoints substituted, forward values reused
    shown: IndexExpr             # the same, as the comments print it (no cheaper rewrites)
    relation: IndexExpr | None   # for a core: grad_<name> as the outer factors times the core


def fold_adjoints(derivation: Derivation) -> Iterator[ComputedAdjoint]:
    """The adjoints to compute, from the loss down; the others folded into them. Draws fresh
    index names from ``derivation.space`` (pass a copy to leave a derivation as it is)."""
    model = derivation.model
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
    folded, axes_memo = {}, {}
    softmax_parts = {part for found in softmax_values(model) for part in (found.total, found.exp)}
    for name in reversed(derivation.order):
        if name == model.loss_name:
            continue
        expr = derivation.adjoints[name]
        expr = IndexExpr(expr.indices, _with_folded(expr.terms, folded, derivation, expr.indices))
        shown, expr = shown_and_reused(expr, model)
        if _is_alias(name, expr, model, shapes) or _is_separable(name, expr, model) \
                or _is_constant(name, expr, model) or _on_diagonal(name, expr, model, derivation) \
                or name in softmax_parts:    # folded: its exp / sum then reads as the softmax value
            folded[name] = expr
            continue
        split = _pull_out(name, expr, model, derivation, axes_memo)
        if split is None:
            yield ComputedAdjoint(name, adjoint_name(name), expr, shown, None)
            continue
        outer, core = split     # compute the core once; the outer factors go to the small results
        target = f"{adjoint_name(name)}{CORE_SUFFIX}"
        shapes[target] = model.tensors[name].shape
        folded[name] = IndexExpr(expr.indices, (Term(outer * sp.IndexedBase(target)[expr.indices]),))
        yield ComputedAdjoint(name, target, IndexExpr(expr.indices, (Term(core),)), shown, folded[name])


def _is_parameter(name: str, model) -> bool:
    return model.tensors[name].role == "parameter"


def _is_alias(name: str, expr: IndexExpr, model, shapes: dict) -> bool:
    """A single-term, unsummed, scalar multiple of one whole tensor, in the same orientation."""
    if _is_parameter(name, model) or len(expr.terms) != 1:
        return False
    term = expr.terms[0]
    if term.bound or term.conditions:
        return False
    accesses = [a for a in sp.Mul.make_args(term.factor) if isinstance(a, sp.Indexed)]
    others = [a for a in sp.Mul.make_args(term.factor) if not isinstance(a, sp.Indexed)]
    if len(accesses) != 1 or any(a.free_symbols - set(model.dimensions.values()) for a in others):
        return False
    access = accesses[0]
    return tuple(access.indices) == tuple(expr.indices) and all(
        sp.expand(a - b) == 0 for a, b in zip(shapes[str(access.base)], model.tensors[name].shape))


def _is_constant(name: str, expr: IndexExpr, model) -> bool:
    """An adjoint that is the same number at every entry, like the 1 of a loss term added to the
    loss, the ``1/(2*N)`` of a mean over a log-sum-exp's rows, or a 1 x 1 adjoint's one entry
    spread over a row (a softmax over one row's adjoint of its exp part): an expression of
    dimensions, scalars and entries at fixed positions, with no index."""
    if _is_parameter(name, model) or len(expr.terms) != 1:
        return False
    term = expr.terms[0]
    return not term.bound and not term.conditions and not index_symbols(term.factor)


def _is_separable(name: str, expr: IndexExpr, model) -> bool:
    """A single unsummed product in which no factor spans all of the adjoint's indices
    (an outer product such as ``C[0, i] * grad_Y[0, j]``): cheaper folded into its users,
    where it is multiplied in anyway and NumPy can reuse the temporary."""
    if _is_parameter(name, model) or len(expr.terms) != 1:
        return False
    term = expr.terms[0]
    labels = {i for i in expr.indices if i != 0}
    if term.bound or term.conditions or len(labels) < 2:
        return False
    return all(not (labels <= arg.free_symbols) for arg in sp.Mul.make_args(term.factor))


def _on_diagonal(name: str, expr: IndexExpr, model, derivation: Derivation) -> bool:
    """An adjoint that lives on the diagonal (of a ``trace`` or ``diagonal``): every term a multiple
    of ``delta(p, q)`` between its two indices. Folded into its users, where the delta collapses,
    instead of a dense diagonal matrix in their matrix products; kept as an array (its diagonal
    written into zeros) where a user reads it at an offset (a block of a concatenation), which the
    collapsed delta would turn into a diagonal at an offset."""
    indices = set(expr.indices) - {0}
    if _is_parameter(name, model) or len(indices) != 2 or not expr.terms:
        return False
    if not all(any(isinstance(f, sp.KroneckerDelta) and set(f.args) == indices
                   for f in sp.Mul.make_args(t.factor)) for t in expr.terms):
        return False
    base = adjoint_name(name)
    return all(all(i == 0 or i.is_Symbol for i in access.indices)
               for other in derivation.adjoints.values() for t in other.terms
               for access in t.factor.atoms(sp.Indexed) if read_name(access) == base)


def _contracted_axes(name: str, derivation: Derivation, memo: dict) -> set[int]:
    """Axes of ``grad_<name>`` that some later adjoint sums over, looking through the adjoints
    that only copy or slice it (``grad_Z1 = grad_Z[:M]``). ``memo``: one dict per derivation
    (each name is looked at once: the adjoints form a DAG, and a chain of layers would
    otherwise be walked once per path)."""
    if name in memo:
        return memo[name]
    if None not in memo:        # adjoint base name -> (user, user's indices, bound symbols, access)
        reads: dict[str, list] = {}
        for user, expr in derivation.adjoints.items():
            for term in expr.terms:
                bound = set(term.bound_symbols)
                for access in term.factor.atoms(sp.Indexed):
                    reads.setdefault(read_name(access), []).append((user, expr.indices, bound, access))
        memo[None] = reads      # None: no tensor's name
    memo[name] = set()          # a guard while this name is being computed
    axes = set()
    for user, indices, bound, access in memo[None].get(adjoint_name(name), ()):
        for axis, index in enumerate(access.indices):
            if index.free_symbols & bound:
                axes.add(axis)
            elif index in indices and index != 0 and user != name:
                if indices.index(index) in _contracted_axes(user, derivation, memo):
                    axes.add(axis)
    memo[name] = axes
    return axes


def _pull_out(name: str, expr: IndexExpr, model, derivation, memo: dict) -> tuple[sp.Expr, sp.Expr] | None:
    """For a one-term adjoint ``outer * core``: the factors that no later adjoint sums over (a
    scalar, a row or column vector), kept out of the big array and applied to the small results
    downstream. Returns (outer, core) or None."""
    if _is_parameter(name, model) or len(expr.terms) != 1:
        return None
    term = expr.terms[0]
    labels = [i for i in expr.indices if i != 0]
    if term.bound or term.conditions or len(labels) != 2:
        return None
    contracted = _contracted_axes(name, derivation, memo)
    keep = {i for axis, i in enumerate(expr.indices) if i != 0 and axis not in contracted}
    outer, core = [], []
    for factor in sp.Mul.make_args(term.factor):
        used = factor.free_symbols & set(labels)
        (outer if used <= keep and used != set(labels) else core).append(factor)
    if not any(f.free_symbols & set(labels) for f in outer) or not any(set(labels) <= f.free_symbols for f in core):
        return None   # a scalar alone is cheaper folded into the one pass that computes the core
    return sp.Mul(*outer), sp.Mul(*core)


def _with_folded(terms, folded: dict, derivation: Derivation, indices) -> tuple:
    """``terms`` with each folded adjoint substituted in turn, collapsed after each substitution.
    Collapsing is a pure function of the terms: once it leaves them as they are, it is skipped
    until a substitution changes them (a folded adjoint they do not read leaves them alone)."""
    ranges = derivation.space.ranges_of(indices)
    read, read_by, settled = set(), None, False
    for other, definition in folded.items():
        if read_by is not terms:
            read, read_by = {read_name(s) for t in terms for s in free_symbols_of(t.factor)}, terms
        base = adjoint_name(other)
        if base not in read:
            if settled:
                continue
            substituted = terms
        else:
            substituted = substitute(terms, base, definition, derivation.space)
        terms = collapse(substituted, ranges)
        settled = terms == substituted
    return terms
