"""Passes over the statement IR of one function, NumPy's, before it is printed.

Each module rewrites one thing and says why that is safe: ``common_factors`` (the terms of an
elementwise sum grouped around the factors they share), ``entries`` (one
spelling for equal elementwise values), ``outer_sums`` (a sum of outer products of vectors as
one matrix product), ``contractions`` (an einsum as matrix products and
single reductions), ``sum_of_squares`` (a squared norm
as an inner product), ``row_dots`` (row sums of a product as inner products per row), ``ones``
(the other axis sums as products with a ones vector),
``orientation`` (whole sums reading
untransposed arrays), ``scalars`` (a product's number on its smallest factor), ``softplus_pairs`` (``softplus(x)``
and ``softplus(-x)`` sharing one logarithm), ``factored_sums`` (products of one
operand with different partners as one product), ``scaled_ones`` (means as products with a vector
of the number), ``shared_values`` (a repeated value computed once),
``transposed_maps`` (a matrix product's map of transposes as the transpose of the map, for the
numba backend's sharing, ``shared_where_worth``), ``accumulation`` (a sum added up as its terms become ready, so that what they read dies sooner),
``buffers`` (elementwise chains evaluated into one array), ``releases`` (a dead name let go)
and, where asked, ``kept_constants`` (the vectors of ones made once, kept between calls) and
``workspace`` (large temporaries in buffers kept between calls).
``optimized`` runs them in that order; the other backends (torch, JAX, numba) get the plain statements
with only their einsums contracted and their sums of products factored (``fewer_products``).
"""
from __future__ import annotations

from symgrad.lower.passes.accumulation import accumulated_early
from symgrad.lower.passes.buffers import float_names, in_buffers
from symgrad.lower.passes.common_factors import with_common_factors
from symgrad.lower.passes.contractions import as_contractions
from symgrad.lower.passes.entries import in_one_spelling
from symgrad.lower.passes.factored_sums import factored_sums
from symgrad.lower.passes.kept_constants import with_kept_constants
from symgrad.lower.passes.ones import as_product_with_ones
from symgrad.lower.passes.orientation import untransposed_sums
from symgrad.lower.passes.outer_sums import as_outer_product_sum
from symgrad.lower.passes.releases import with_releases
from symgrad.lower.passes.row_dots import as_row_dots
from symgrad.lower.passes.scaled_ones import with_scaled_ones
from symgrad.lower.passes.scalars import on_needed_factors, on_smallest_factor, small_factors_first
from symgrad.lower.passes.shared_values import share_values
from symgrad.lower.passes.softplus_pairs import with_shared_softplus_tails
from symgrad.lower.passes.sum_of_squares import as_squared_norm
from symgrad.lower.passes.transposed_maps import with_transposes_outside
from symgrad.lower.passes.workspace import in_workspace
from symgrad.lower.nodes import Elementwise, MatMul
from symgrad.lower.statements import holding, nodes_of, subnodes, transformed, unwrapped, with_nodes

__all__ = ["fewer_products", "float_names", "optimized", "shared_where_worth"]

def fewer_products(statements) -> tuple:
    """``statements`` (one function's, in order) with every einsum that factors as matrix products
    and single reductions (``contractions``), equal operands spelled alike (``entries``) and the products of one operand with different
    partners merged into one (``factored_sums``): the passes every backend gets. They change
    only the order of the arithmetic, into fewer products, and build nodes every printer prints;
    a backend's einsum of three operands pays for its order at every call (np.einsum in numba's
    modules: gaussian_nll's loss and gradient 65 against 23 us at d=8, N=64, with the einsums
    contracted) and its two products of one operand do twice the work of one (26 against 16 ms
    at d=256, N=4096 before they were merged)."""
    spelled = [with_nodes(s, _one_spelling_contracted) for s in statements]
    return tuple(factored_sums(spelled))


def shared_where_worth(statements, worth) -> list[tuple]:
    """``statements`` (one function's, all of which run) with each repeated value that ``worth``
    accepts computed once (``shared_values``), as ``(k, statement)`` pairs: ``k`` the index of the
    statement it is or comes just before; a matrix product's map of transposes is the transpose of
    the map first (``transposed_maps``: the value the forward computed). For a backend whose
    printer decides what is worth a name (``NumbaPrinter.worth_sharing``) after ``fewer_products``;
    a matrix product's operand is worth one whatever the printer says: it is an array wherever it
    is computed (GRU's update-gate adjoint, read by the products for ``Uz`` and ``Wz``)."""
    statements = [with_nodes(s, with_transposes_outside) for s in statements]
    operands = {unwrapped(side) for s in statements for node in nodes_of(s) for n in subnodes(node)
                if isinstance(n, MatMul) for side in (n.left, n.right)}
    return share_values(statements, statements, lambda value: value in operands or worth(value))


def _one_spelling_contracted(node):
    """One node, its children already rewritten: its entries in one spelling (``entries``: equal
    operands are equal nodes, so that ``factored_sums`` sees them), an einsum contracted."""
    return in_one_spelling(as_contractions(node))


def _node_passes(node):
    return on_smallest_factor(as_product_with_ones(as_row_dots(untransposed_sums(as_squared_norm(
        as_outer_product_sum(in_one_spelling(with_common_factors(node))))))))


def _rewritten(node):
    """One node, its children already rewritten: the node-level passes, in order (an einsum
    rewritten as products and reductions first, the new nodes then passed through the rest)."""
    contracted = as_contractions(node)
    return _node_passes(node) if contracted is node else transformed(contracted, _node_passes)


def optimized(blocks, floats: set[str], live_out: set[str], protected: set[str], skip=frozenset(),
              workspace_from: int | None = None, constants: bool = False) -> list[tuple]:
    """The statements of one function's blocks (a list of statement tuples, in order), passed
    through every pass. ``floats``: names known to hold floats; ``live_out``: names read after
    them; ``protected``: names never reused as buffers; ``skip``: the indices of blocks that
    may not run, left as they are (and nothing is shared across them); ``workspace_from``: the index
    of the first block whose large temporaries go into buffers the function keeps between calls
    (``passes.workspace``; None: none do). The blocks before it are another function's too
    (``forward()``): nothing in them is moved or released, and their protected values may be
    released from that block on. ``constants``: the vectors of ones that only matrix products read
    are made once and kept between calls (``passes.kept_constants``; the module defines
    ``_constant``)."""
    flat, where, original = [], [], []
    for b, statements in enumerate(blocks):
        for statement in statements:
            where.append(b)
            original.append(statement)
            flat.append(None if b in skip else with_nodes(statement, _rewritten))
    shared = share_values(on_needed_factors(with_scaled_ones(factored_sums(with_shared_softplus_tails(flat)))),
                          original)
    kept = [original[k] if statement is None else statement for k, statement in shared]
    homes = [where[k] for k, _ in shared]
    fixed = frozenset(j for j, (_, statement) in enumerate(shared) if statement is None)
    if constants:
        kept = with_kept_constants(kept, live_out, protected, fixed)
    first = next((j for j, b in enumerate(homes) if b >= (workspace_from or 0)), len(homes))
    if not fixed:
        kept, homes = accumulated_early(kept, homes, floats, first)
    if workspace_from is None:      # every statement is this function's alone
        shared_values, first = frozenset(), 0
    else:                           # those before ``first`` are printed in ``forward()`` too
        shared_values = frozenset(s.target for s in kept[:first] if s.target in protected) - set(floats)
    buffered = with_releases(in_buffers(kept, floats, live_out, protected, fixed), live_out, protected, fixed,
                             shared_values, first)
    if workspace_from is not None:
        buffered = in_workspace(buffered, floats, live_out, protected, fixed, first)
    out: list[list] = [[] for _ in blocks]
    elementwise = holding(Elementwise)
    for j, (block, steps) in enumerate(zip(homes, buffered)):
        out[block] += steps if j in fixed else [with_nodes(s, small_factors_first, elementwise) for s in steps]
    return [tuple(b) for b in out]
