"""Softplus pairs: ``softplus(x)`` and ``softplus(-x)`` in one function share their one logarithm.

A binary cross-entropy or focal loss on logits ``s`` reads both ``softplus(-s)`` (from
``log(sigmoid(s))``) and ``softplus(s)`` (from ``log(1 - sigmoid(s))``): two ``np.logaddexp``
passes, each an exponential and a logarithm per entry, the costliest operations of such a
loss. Both are ``relu(±x) + softplus(-|x|)``, which is how NumPy's ``logaddexp(0, x)`` computes
either (the larger argument plus ``log1p(exp(-|difference|))``), so the same values to rounding
and as stable: the tail ``softplus(-|x|)`` is computed once, wherever the function reads it
(the shared-values pass names it), and each side costs a maximum and an addition.

Only for an argument spanning two axes (a matrix): the rewrite trades one logarithm per entry
for about five more NumPy calls, which pays from a few hundred entries on; a vector's softplus
pair (a layer's outputs, ``hw1_sigmoid_bce``) stays two calls.
"""
from __future__ import annotations

from symgrad.index.rebuild import replaced
from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import Elementwise, Node, node_repr
from symgrad.lower.passes.entries import canonical, part
from symgrad.lower.statements import holding, nodes_of, subnodes_of, with_nodes
from symgrad.model.functions import FUNCTIONS

_SOFTPLUS, _RELU, _ABS = FUNCTIONS["softplus"], FUNCTIONS["relu"], FUNCTIONS["abs"]


def _negated(value: Elementwise) -> Elementwise:
    return canonical(Elementwise(-value.body, value.operands))


def _arguments(node: Node):
    """The value of the argument of every softplus in ``node``'s body, as ``(call, value)``."""
    if not isinstance(node, Elementwise):
        return []
    return [(call, part(node, call.args[0])) for call in atoms_of(node.body, _SOFTPLUS)]


def _pairs(statements: list) -> dict[Elementwise, bool]:
    """Each argument value of a softplus whose negation is one too -> whether it is the pair's
    representative (the one whose tail ``softplus(-|x|)`` is spelled with ``x``)."""
    values = {value for s in statements if s is not None for node in nodes_of(s)
              for sub in subnodes_of(node, Elementwise)
              for _, value in _arguments(sub) if sum(1 for n in value.shape if n != 1) == 2}
    out = {}
    for value in values:
        other = _negated(value)
        if other in values:
            out[value] = min(value, other, key=lambda v: (v.body.could_extract_minus_sign(), node_repr(v))) is value
    return out


def with_shared_softplus_tails(statements: list) -> list:
    """``statements`` (one function's; None for one left alone) with every softplus of a pair
    written as ``relu(x) + softplus(-abs(x0))``, ``x0`` the pair's representative."""
    pairs = _pairs(statements)
    if not pairs:
        return statements

    def rewrite(node: Node) -> Node:
        mapping = {}
        for call, value in _arguments(node):
            if value in pairs:
                x = call.args[0]
                representative = x if pairs[value] else -x
                mapping[call] = _RELU(x) + _SOFTPLUS(-_ABS(representative))
        return canonical(Elementwise(replaced(node.body, mapping), node.operands)) if mapping else node
    elementwise = holding(Elementwise)
    return [None if s is None else with_nodes(s, rewrite, elementwise) for s in statements]
