"""Softplus tails: ``softplus(x)`` of a matrix as ``relu(x) + log1p(exp(-|x|))``, and
``softplus(x)`` and ``softplus(-x)`` in one function sharing that one logarithm.

NumPy's ``logaddexp(0, x)`` computes ``max(x, 0) + log1p(exp(-|x - 0|))`` one entry at a time
through the C library, about 19 ns an entry here; NumPy's own ``exp`` and ``log1p`` run on
vectors of entries, so the same formula as five NumPy calls is about 2.2 ns an entry (a
(1024, 256) softplus: 5.0 ms against 0.57 ms). The values are logaddexp's to rounding and as
stable: ``exp`` of a number at most 0 never overflows, and ``log1p`` keeps the tail's digits
where ``exp(-|x|)`` is below the rounding of 1 (``softplus(-40)`` is ``exp(-40)``, not 0).

A binary cross-entropy or focal loss on logits ``s`` reads both ``softplus(-s)`` (from
``log(sigmoid(s))``) and ``softplus(s)`` (from ``log(1 - sigmoid(s))``). Both are
``relu(±x) + log1p(exp(-|x|))``: the tail is computed once, wherever the function reads it
(the shared-values pass names it), and each side costs a maximum and an addition.

Only for an argument spanning two axes (a matrix): the rewrite trades one call for about five,
which pays from a few hundred entries on; a vector's softplus (a layer's outputs,
``hw1_sigmoid_bce``) stays one ``np.logaddexp``.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p

from symgrad.index.rebuild import replaced
from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import Elementwise, Node, node_repr
from symgrad.lower.passes.entries import canonical, part
from symgrad.lower.statements import holding, nodes_of, subnodes_of, with_nodes
from symgrad.model.functions import FUNCTIONS

_SOFTPLUS, _RELU, _ABS = FUNCTIONS["softplus"], FUNCTIONS["relu"], FUNCTIONS["abs"]


def _tail(x):
    """``softplus(-|x|)``, which NumPy computes as vectors of ``exp`` and ``log1p``."""
    return log1p(sp.exp(-_ABS(x)))


def _negated(value: Elementwise) -> Elementwise:
    return canonical(Elementwise(-value.body, value.operands))


def _arguments(node: Node):
    """The value of the argument of every softplus in ``node``'s body, as ``(call, value)``."""
    if not isinstance(node, Elementwise):
        return []
    return [(call, part(node, call.args[0])) for call in atoms_of(node.body, _SOFTPLUS)]


def _matrix_arguments(statements: list) -> dict[Elementwise, bool]:
    """Each argument value of a softplus that spans two axes -> whether its tail ``log1p(exp(-|x|))``
    is spelled with ``x`` itself: always, but for the one of a pair (its negation an argument too)
    that is not the pair's representative."""
    values = {value for s in statements if s is not None for node in nodes_of(s)
              for sub in subnodes_of(node, Elementwise)
              for _, value in _arguments(sub) if sum(1 for n in value.shape if n != 1) == 2}
    out = {}
    for value in values:
        other = _negated(value)
        out[value] = other not in values or \
            min(value, other, key=lambda v: (v.body.could_extract_minus_sign(), node_repr(v))) is value
    return out


def with_shared_softplus_tails(statements: list) -> list:
    """``statements`` (one function's; None for one left alone) with every softplus of a matrix
    written as ``relu(x) + log1p(exp(-abs(x0)))``, ``x0`` the pair's representative (``x`` alone)."""
    arguments = _matrix_arguments(statements)
    if not arguments:
        return statements

    def rewrite(node: Node) -> Node:
        mapping = {}
        for call, value in _arguments(node):
            if value in arguments:
                x = call.args[0]
                mapping[call] = _RELU(x) + _tail(x if arguments[value] else -x)
        return canonical(Elementwise(replaced(node.body, mapping), node.operands)) if mapping else node
    elementwise = holding(Elementwise)
    return [None if s is None else with_nodes(s, rewrite, elementwise) for s in statements]
