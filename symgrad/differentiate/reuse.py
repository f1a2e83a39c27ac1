"""Rewrite expressions to reuse named forward values instead of recomputing them.

Before lowering, a call such as ``sigmoid(Z[a, b])`` is replaced by ``H[a, b]``
when the model defines ``H = sigmoid(Z)``, so ``sigmoid' = sigmoid (1 - sigmoid)``
becomes ``H (1 - H)``; and a derivative the table knows how to read off the
value (``crelu_mask(Z, t)`` is ``H == Z`` for ``H = clip(Z, 0, t)``: one
comparison instead of three passes) is rewritten through ``from_value``; in the backward pass a
softmax's ``exp / sum`` is its value (``softmax_value``).
"""
from __future__ import annotations

import sympy as sp

from symgrad.differentiate.softmax_value import read_softmax, softmax_values
from symgrad.model.functions import row_of
from symgrad.index.terms import IndexExpr, Term


def _pointwise_calls(model, until: str | None):
    """(name, free indices, call) for each intermediate defined as one table-function call
    (only those defined before ``until``, when given)."""
    for name, definition in model.definitions.items():
        if name == until:
            return
        expr = definition.expr
        if len(expr.terms) != 1:
            continue
        term = expr.terms[0]
        if term.bound or term.conditions or row_of(term.factor) is None:
            continue
        yield name, expr.indices, term.factor


def _renaming(call, found, indices) -> dict | None:
    """The index renaming that could turn the defining ``call`` into ``found``: read off an entry
    of ``call``'s first argument that holds every free index (``exp(z[i, j] - m[i, 0])``)."""
    anchors = sorted((a for a in call.args[0].atoms(sp.Indexed)
                      if {i for i in indices if i != 0} <= set(a.indices)), key=str)
    if not anchors:
        return None
    anchor = anchors[0]
    for candidate in sorted(found.args[0].atoms(sp.Indexed), key=str):
        if candidate.base == anchor.base:
            return {a: b for a, b in zip(anchor.indices, candidate.indices) if a != 0}
    return None


def _rewrites(model, factor: sp.Expr, until: str | None, cheaper: bool) -> dict:
    mapping = {}
    for name, indices, call in _pointwise_calls(model, until):
        tensor = model.tensors[name]
        row = row_of(call)
        for found in factor.atoms(sp.Function):
            if row_of(found) is None:
                continue
            rename = _renaming(call, found, indices)
            if rename is None:
                continue
            value = tensor.entry(tuple(rename.get(i, i) for i in indices))
            if found == call.xreplace(rename):
                mapping[found] = value
                continue
            rule = (row.from_value or {}).get(type(found).__name__) if cheaper else None
            if rule and found.args[1:] == call.xreplace(rename).args[1:]:
                mapping[found] = rule(value, *found.args)
    return mapping


def reuse_forward_values(expr: IndexExpr, model, until: str | None = None,
                         cheaper: bool = True) -> IndexExpr:
    """``expr`` with forward values reused; ``until`` is the intermediate being defined (only
    values computed before it can be reused).

    With ``cheaper=False`` only calls are replaced by the named values (for display).
    """
    softmaxes = softmax_values(model) if until is None else []   # the backward pass reads P
    terms = []
    for term in expr.terms:
        mapping = _rewrites(model, term.factor, until, cheaper)
        factor = term.factor.xreplace(mapping) if mapping else term.factor
        if softmaxes:
            factor = read_softmax(factor, softmaxes, model)
        terms.append(term if factor == term.factor else Term(factor, term.bound, term.conditions))
    return IndexExpr(expr.indices, tuple(terms))

