"""Rewrite expressions to reuse named forward values instead of recomputing them.

Before lowering, a call such as ``sigmoid(Z[a, b])`` is replaced by ``H[a, b]``
when the model defines ``H = sigmoid(Z)``, so ``sigmoid' = sigmoid (1 - sigmoid)``
becomes ``H (1 - H)``; and a derivative the table knows how to read off the
value (``crelu_mask(Z, t)`` is ``H == Z`` for ``H = clip(Z, 0, t)``: one
comparison instead of three passes) is rewritten through ``from_value``; in the backward pass a
softmax's ``exp / sum`` is its value (``softmax_value``).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symgrad.differentiate.model_memo import remembered
from symgrad.differentiate.softmax_value import read_softmax, softmax_values
from symgrad.model.functions import row_of
from symgrad.index.rebuild import replaced
from symgrad.index.terms import IndexExpr, Term, atoms_of


def _pointwise_calls(model):
    """(name, free indices, call) for each intermediate defined as one table-function call."""
    for name, definition in model.definitions.items():
        expr = definition.expr
        if len(expr.terms) != 1:
            continue
        term = expr.terms[0]
        if term.bound or term.conditions or row_of(term.factor) is None:
            continue
        yield name, expr.indices, term.factor


@lru_cache(maxsize=1 << 14)
def _anchor(call, indices) -> sp.Indexed | None:
    """The entry of ``call``'s first argument that holds every free index (``z[i, j]`` of
    ``exp(z[i, j] - m[i, 0])``), the first by name; None when there is none."""
    anchors = sorted((a for a in call.args[0].atoms(sp.Indexed)
                      if {i for i in indices if i != 0} <= set(a.indices)), key=str)
    return anchors[0] if anchors else None


def _renaming(anchor, found) -> dict | None:
    """The index renaming that could turn the defining call of ``anchor`` into ``found``: the
    first entry of ``found``'s first argument (by name) on the anchor's tensor."""
    for candidate in sorted(found.args[0].atoms(sp.Indexed), key=str):
        if candidate.base == anchor.base:
            return {a: b for a, b in zip(anchor.indices, candidate.indices) if a != 0}
    return None


def _calls_by_anchor(model, until: str | None) -> tuple[dict, int | None]:
    """Anchor tensor -> [(position, name, free indices, call, anchor)] for every pointwise call
    ``_pointwise_calls`` yields: a found call can only be rewritten by a definition whose anchor
    tensor it reads, so each found call is compared with those alone; and the position before
    which the calls defined before ``until`` lie (None: every call counts). The whole model is
    scanned once, and each caller skips the later positions among the few calls it looks up (a
    scan, or a filtered copy of every list, per ``until`` made planning a module quadratic)."""
    by_base, before = remembered(model, "pointwise calls", lambda: _scan_calls(model))
    return by_base, (before[until] if until is not None and until in before else None)


def _scan_calls(model) -> tuple[dict, dict]:
    """``_calls_by_anchor`` of the whole model, and each definition's name -> the number of
    pointwise calls defined before it."""
    by_base: dict = {}
    positions = {}
    for position, (name, indices, call) in enumerate(_pointwise_calls(model)):
        positions[name] = position
        anchor = _anchor(call, indices)
        if anchor is not None:
            by_base.setdefault(anchor.base, []).append((position, name, indices, call, anchor))
    before, count = {}, 0
    for name in model.definitions:
        before[name] = count
        count += name in positions
    return by_base, before


def _rewrites(model, factor: sp.Expr, calls: tuple[dict, int | None], cheaper: bool) -> tuple[dict, dict]:
    """Each table call in ``factor`` -> the named value of the last definition, in definition
    order, that matches it, among ``calls`` (``_calls_by_anchor``): (the calls replaced by named
    values only, the same with the cheaper forms read off a value as well, when ``cheaper``; else
    the first again). Both from one scan: matching is the costly part."""
    shown, reused = {}, {}
    by_base, cutoff = calls
    for found in atoms_of(factor, sp.Function):
        if row_of(found) is None:
            continue
        bases = {a.base for a in atoms_of(found.args[0], sp.Indexed)}
        candidates = sorted((c for base in bases for c in by_base.get(base, ()) if cutoff is None or c[0] < cutoff),
                            key=lambda c: c[0])
        for _, name, indices, call, anchor in candidates:
            rename = _renaming(anchor, found)
            if rename is None:
                continue
            value = model.tensors[name].entry(tuple(rename.get(i, i) for i in indices))
            if found == replaced(call, rename):
                shown[found] = reused[found] = value
                continue
            rule = (row_of(call).from_value or {}).get(type(found).__name__) if cheaper else None
            if rule and found.args[1:] == replaced(call, rename).args[1:]:
                reused[found] = rule(value, *found.args)
    return shown, (reused if cheaper else shown)


def reuse_forward_values(expr: IndexExpr, model, until: str | None = None,
                         cheaper: bool = True) -> IndexExpr:
    """``expr`` with forward values reused; ``until`` is the intermediate being defined (only
    values computed before it can be reused).

    With ``cheaper=False`` only calls are replaced by the named values (for display).
    """
    return _reused(expr, model, until, cheaper)[1]


def shown_and_reused(expr: IndexExpr, model) -> tuple[IndexExpr, IndexExpr]:
    """``reuse_forward_values`` with ``cheaper=False`` and with ``cheaper=True``, from one scan."""
    return _reused(expr, model, None, True)


def _reused(expr: IndexExpr, model, until: str | None, cheaper: bool) -> tuple[IndexExpr, IndexExpr]:
    softmaxes = softmax_values(model) if until is None else []   # the backward pass reads P
    calls = _calls_by_anchor(model, until)
    shown, reused = [], []
    for term in expr.terms:
        mappings = _rewrites(model, term.factor, calls, cheaper)
        for mapping, terms in zip(mappings, (shown, reused)):
            if terms is reused and mapping == mappings[0]:     # the same rewrites: the same term
                terms.append(shown[-1])
                continue
            factor = replaced(term.factor, mapping)
            if softmaxes:
                factor = read_softmax(factor, softmaxes, model)
            terms.append(term if factor == term.factor else Term(factor, term.bound, term.conditions))
    return IndexExpr(expr.indices, tuple(shown)), IndexExpr(expr.indices, tuple(reused))
