"""A tangent derivation -> the blocks ``hvp()`` and ``hessian()`` are rendered from.

``hvp(tangents, **inputs)`` runs the module's forward and backward statements (the first-order
plan's) and then one statement per tangent the Hessian-vector products need, lowered to IR
statements (``symgrad.lower.statements``) by the same lowering as every other statement; the
passes of ``loss_and_grad`` (``fewer_temporaries``: a repeated expression computed once,
elementwise chains in place) then run over all of them together, so no statement writes over a
value a later tangent reads, and the blocks are printed last (``printed``). The first-order plan folds some adjoints into their users (an alias
``grad_Y = -grad_Delta``, a small factor pulled out of a core, ...): a tangent that reads such
an adjoint reads its definition instead, substituted and collapsed, so it only reads arrays the
backward statements compute. A tangent that is the same all along an axis (``dot_D = -dot_mu``
where ``D = X - mu``) is substituted into the tangents that read it too, instead of being a
broadcast copied into a whole array; the tangent of a stacked tensor (``dot_Z = [dot_Z1;
dot_Z2]``) is computed in views of one array, as the forward computes ``Z``. A term that holds an
earlier tangent's entrywise definition reads that tangent by name (sigmoid's second-order term
``(1 - 2a)*dot_a*grad_a``, not ``(a - 1)*(2a - 1)*a*dot_z*grad_a``: ``differentiate.tangent_products``).

``hessian(**inputs)`` evaluates the same tangent statements once (without the passes, which know
no batch axis), printed over a leading batch
axis (``lower/batched_printer.py``), along every basis tangent of every parameter at once; the
Hessian-vector products along basis tangents are the Hessian's rows. It refuses a Hessian of
more than ``HESSIAN_LIMIT`` entries (the batch holds one copy of every tangent value per basis
tangent).

A stack's layers use the same pieces (``tangent_statements``, ``statement_shapes``,
``lowered_tangents``, ``read_by``, ``gradient_value``) per layer kind: ``emit/layer_hvp_plan.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symgrad.differentiate.chain_rule import substitute
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.differentiate.tangent_products import products_reused
from symgrad.differentiate.tangents import TangentDerivation
from symgrad.emit.module_plan import (Block, ModulePlan, fewer_temporaries, plan_module, printed,
                                     reads_kept_constants, shape_code, shape_text, stacked_homes, statements_in_views,
                                     unpacked)
from symgrad.index.conventions import CORE_SUFFIX, adjoint_name, tangent_name
from symgrad.index.deltas import collapse
from symgrad.index.terms import IndexExpr
from symgrad.index.text import formula_text
from symgrad.lower.batched_printer import BATCH, BatchedNumPyPrinter
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.statements import reads
from symgrad.lower.vectorize import lower_both, print_scalar

HESSIAN_LIMIT = 1_000_000    # entries of the whole Hessian (1,000 parameter entries), as the README says


@dataclass(frozen=True)
class TangentInput:
    """A parameter's tangent, as ``hvp()`` reads it and ``hessian()`` sets it to basis tangents."""

    parameter: str
    name: str            # dot_W
    is_scalar: bool
    shape_text: str      # "(M, N)"
    shape_code: str      # "(M, N)" in the generated code
    start: str           # where its entries start and stop in the Hessian's rows, as code
    stop: str


@dataclass(frozen=True)
class HvpPlan:
    """What ``templates/hvp.py.j2`` prints beside a ``ModulePlan``."""

    tangent_inputs: tuple[TangentInput, ...]
    forward: tuple[Block, ...]        # hvp(): the first-order statements, then the tangents, all with
    backward: tuple[Block, ...]       # repeated expressions computed once and elementwise chains in place
    tangents: tuple[Block, ...]
    plain_forward: tuple[Block, ...]  # hessian(): the forward statements as printed (no pass knows batches)
    read_back: tuple[Block, ...]      # the backward statements the tangents read (hessian() needs no gradient)
    batched: tuple[Block, ...]        # the tangents over the batch of basis tangents (hessian())
    gradients: tuple[tuple[str, str], ...]      # (parameter, expression): the first-order plan's
    hvps: tuple[tuple[str, str], ...]           # (parameter, expression) in hvp()
    batched_hvps: tuple[tuple[str, str], ...]   # (parameter, batched expression) in hessian()
    total: str                        # the number of parameter entries, as code
    limit: int = HESSIAN_LIMIT
    constants: bool = False           # hvp() reads kept vectors of ones (``_constant``)

    @property
    def unpack(self) -> str:
        """The names ``_tangents`` returns, in order."""
        return unpacked(t.name for t in self.tangent_inputs)


def _reads(expr: IndexExpr) -> set[str]:
    names = {str(a.base) for t in expr.terms for a in t.factor.atoms(sp.Indexed)}
    return names | {str(s) for t in expr.terms for s in t.factor.free_symbols
                    if isinstance(s, sp.Symbol) and not s.is_integer}


def _through_computed(expr: IndexExpr, tangents: TangentDerivation, computed: set[str],
                      cores: dict[str, IndexExpr]) -> IndexExpr:
    """``expr`` with every adjoint the backward statements do not compute replaced by its
    definition (recursively: a definition may read another folded adjoint). An adjoint computed
    as its core (``cores``: ``{grad_Z: outer factors * grad_Z_core}``) is replaced by that
    relation, not by its definition: where a delta made it a core (the adjoint of a diagonal
    read at a block's offset), the definition would leave the delta between free indices."""
    derivation = tangents.derivation
    terms = expr.terms
    ranges = derivation.space.ranges_of(expr.indices)
    for _ in range(len(derivation.adjoints) + 1):      # each pass goes one adjoint nearer the loss
        missing = [n for n in derivation.adjoints
                   if adjoint_name(n) in _reads(IndexExpr(expr.indices, terms)) and adjoint_name(n) not in computed]
        if not missing:
            return IndexExpr(expr.indices, terms)
        for name in reversed(missing):
            definition = cores.get(adjoint_name(name), derivation.adjoints[name])
            terms = collapse(substitute(terms, adjoint_name(name), definition, derivation.space), ranges)
    raise AssertionError("folded adjoints that keep referring to each other")


def tangent_statements(tangents: TangentDerivation, backward: tuple[Block, ...],
                       needed: set[str]) -> list[tuple[str, str, IndexExpr]]:
    """(tensor, tangent name, expression) for every tangent that the tangents named in ``needed``
    read (and those), in the order they are computed; ``backward``: the first-order plan's
    backward blocks (a tangent reads any other adjoint by its definition, a core's adjoint through
    its core)."""
    computed = {b.name for b in backward}
    cores = {b.name.removesuffix(CORE_SUFFIX): b.stands_for for b in backward if b.stands_for is not None}
    model = tangents.derivation.model
    candidates = [(n, tangent_name(n), e) for n, e in tangents.forward.items()]
    candidates += [(n, tangent_name(adjoint_name(n)), _through_computed(e, tangents, computed, cores))
                   for n, e in tangents.adjoints.items()]
    wanted, needed = set(needed), set(needed)
    kept = []
    for name, target, expr in reversed(candidates):
        if target in needed:
            kept.append((name, target, reuse_forward_values(expr, model)))
            needed |= _reads(expr)
    return products_reused(_broadcasts_inlined(kept[::-1], wanted, tangents.derivation.space))


def _broadcast(expr: IndexExpr) -> bool:
    """Whether ``expr`` is the same all along one of its axes: no term reads that free index."""
    used = set().union(*(t.factor.free_symbols | {s for c in t.conditions for s in c[0].free_symbols}
                         for t in expr.terms))
    return bool(expr.terms) and any(isinstance(i, sp.Symbol) and i not in used for i in expr.indices)


def _broadcasts_inlined(statements, wanted: set[str], space) -> list[tuple[str, str, IndexExpr]]:
    """``statements`` with each tangent that is the same all along an axis (``dot_D[i, j] =
    -dot_mu[i, 0]`` where ``D = X - mu``) substituted into the tangents that read it, unless it is
    one of ``wanted``. As a statement of its own it would be a whole array copied from a broadcast,
    and each product with it a full matrix product (``P.T @ dot_D``); substituted, the lowering
    sees the smaller value (``P.T @ dot_mu``, broadcast where it is added). Tangents are linear in
    the tangents they read, so each entry of one is replaced by its definition."""
    inlined, out = {}, []
    for name, target, expr in statements:
        terms = expr.terms
        for other, definition in inlined.items():
            if other in _reads(IndexExpr(expr.indices, terms)):
                terms = collapse(substitute(terms, other, definition, space), space.ranges_of(expr.indices))
        expr = IndexExpr(expr.indices, terms)
        if target not in wanted and _broadcast(expr):
            inlined[target] = expr
        else:
            out.append((name, target, expr))
    return out


def statement_shapes(model, backward: tuple[Block, ...]) -> dict:
    """The shape of every name a tangent statement may read: tensors, adjoints, the backward's
    cores, and the tangent of each."""
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
    shapes.update({b.name: model.tensors[b.name.removeprefix("grad_").removesuffix("_core")].shape
                   for b in backward if b.name not in shapes})
    shapes.update({tangent_name(n): s for n, s in list(shapes.items())})
    return shapes


def lowered_tangents(derivation, statements, shapes: dict) -> list[Block]:
    """One block of IR statements (unprinted) per ``tangent_statements`` entry."""
    return lowered_tangents_and_views(derivation, statements, shapes)[0]


def lowered_tangents_and_views(derivation, statements, shapes: dict) -> tuple[list[Block], list[Block]]:
    """``lowered_tangents``, and the same blocks with the tangent of a stacked tensor
    (``dot_Z = [dot_Z1; dot_Z2]``) computed in views of one array, as the forward computes the
    tensor itself (``module_plan.stacked_homes``; only where statements may write into views:
    not over a batch axis), both from one lowering."""
    model = derivation.model
    reserved = set(model.tensors) | set(model.dimensions)
    lowered, comments = {}, {}
    for name, target, expr in statements:
        ranges = derivation.space.ranges_of(expr.indices)
        lowered[target] = lower_both(target, expr, model.tensors[name].shape, shapes, ranges)
        comments[target] = formula_text(target, expr, reserved)
    plain = [Block(t, (comments[t],), low.statements, low) for t, low in lowered.items()]
    homes, allocated, in_views = stacked_homes(lowered), set(), []
    for target, low in lowered.items():
        code, blocks_above = statements_in_views(target, low, shapes, homes, allocated)
        comment = comments[target] + ("   (its blocks were computed in place above)" if blocks_above else "")
        in_views.append(Block(target, (comment,), tuple(code), low))
    return plain, in_views


def gradient_value(parameter: str, batched: bool, present: bool, shape, count: str) -> str:
    name = tangent_name(adjoint_name(parameter))
    if batched:
        if not present:
            return f"np.zeros(({count}, {print_scalar(sp.Mul(*shape)) if shape else 1}))"
        return f"np.reshape({name}, ({count}, -1))"
    if not present:
        return f"np.zeros({shape_code(shape)})" if shape else "0.0"
    return name if shape else f"float(np.reshape({name}, ()))"


def read_by(blocks: tuple[Block, ...], readers: list[Block]) -> tuple[Block, ...]:
    """The blocks of ``blocks`` whose values ``readers`` read, directly or through other blocks."""
    wanted = set().union(*(reads(s) for b in readers for s in b.statements))
    kept = []
    for block in reversed(blocks):
        if block.name in wanted:
            kept.append(block)
            wanted |= set().union(*(reads(s) for s in block.statements))
    return tuple(kept[::-1])


def plan_hvp(tangents: TangentDerivation, command: str) -> HvpPlan:
    """Everything ``hvp()`` and ``hessian()`` print: IR statement blocks, passed through the NumPy
    passes where ``hvp()`` runs them, then printed."""
    derivation = tangents.derivation
    model = derivation.model
    first: ModulePlan = plan_module(derivation, command, share=False)
    shapes = statement_shapes(model, first.backward)
    needed = {tangent_name(adjoint_name(p)) for p in tangents.parameters}
    plain, in_views = lowered_tangents_and_views(derivation, tangent_statements(tangents, first.backward, needed), shapes)
    present = {b.name for b in plain}
    inputs, start = [], sp.Integer(0)
    for p in derivation.parameters:
        shape = model.tensors[p].shape
        stop = start + (sp.Mul(*shape) if shape else 1)
        inputs.append(TangentInput(p, tangent_name(p), not shape, shape_text(shape), shape_code(shape),
                                   print_scalar(start), print_scalar(stop)))
        start = stop
    hvps = tuple((p, gradient_value(p, False, tangent_name(adjoint_name(p)) in present,
                                     model.tensors[p].shape, BATCH)) for p in derivation.parameters)
    wide = tuple((p, gradient_value(p, True, tangent_name(adjoint_name(p)) in present,
                                     model.tensors[p].shape, BATCH)) for p in derivation.parameters)
    live_out = {model.loss_name, *first.gradient_reads, *(tangent_name(adjoint_name(p)) for p in derivation.parameters
                                                          if tangent_name(adjoint_name(p)) in present)}
    forward, rest = fewer_temporaries(first.forward, first.backward + tuple(in_views), model, live_out)
    numpy = NumPyPrinter()
    backward, tangent_blocks = rest[:len(first.backward)], rest[len(first.backward):]
    return HvpPlan(tuple(inputs), printed(forward, numpy), printed(backward, numpy), printed(tangent_blocks, numpy),
                   first.forward, read_by(first.backward, plain), printed(plain, BatchedNumPyPrinter()),
                   first.gradients, hvps, wide, print_scalar(start),
                   constants=reads_kept_constants((*forward, *rest)))
