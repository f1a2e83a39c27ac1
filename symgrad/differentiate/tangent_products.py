"""Tangents read by name where a later tangent's term holds their definition.

A tangent that is one entrywise product of a factor and another tangent at the same entry,
``dot_a[i, j] = (1 - a[i, j])*a[i, j]*dot_z[i, j]`` (a sigmoid's), has that product inside the
second-order terms of the adjoints' tangents: sigmoid'' is ``(1 - a)*a*(1 - 2a)``, so the tangent of
``grad_z = (1 - a)*a*grad_a`` holds ``(a - 1)*(2a - 1)*a*dot_z*grad_a``, which is
``(1 - 2a)*dot_a*grad_a``. Here every such term reads the tangent by name instead, with what is
left of its factor (``sympy.cancel`` of the quotient), when that has fewer operations and no
denominator the term did not have: the same value (the quotient times the definition is the
factor), and two or three array operations fewer per term (tanh's ``-2h*(1 - h**2)*dot_z`` is
``-2h*dot_h``, exp's ``e*dot_z`` is ``dot_e``).

Only tangents computed before the term's own statement are read (the statements are in the order
they are computed), and only as entries of their own shape: a definition whose indices are all
free and whose tangent factor is read at exactly those indices, without sums or conditions.
"""
from __future__ import annotations

import sympy as sp

from symgrad.index.conventions import TANGENT_PREFIX
from symgrad.index.rebuild import replaced
from symgrad.index.terms import IndexExpr, Term, atoms_of


def _tangent_entries(expr: sp.Expr) -> list[sp.Indexed]:
    return [a for a in atoms_of(expr, sp.Indexed) if str(a.base).startswith(TANGENT_PREFIX)]


def _entrywise_product(target: str, expr: IndexExpr):
    """(target, indices, factor, seed) where ``expr`` is ``factor * seed`` with ``seed`` a tangent
    entry at exactly ``expr``'s indices, one term without sums or conditions; else None."""
    if len(expr.terms) != 1:
        return None
    term = expr.terms[0]
    seeds = _tangent_entries(term.factor)
    if term.bound or term.conditions or len(seeds) != 1 or tuple(seeds[0].indices) != tuple(expr.indices):
        return None
    factor = sp.cancel(term.factor / seeds[0])
    if factor.has(seeds[0]) or not atoms_of(factor, sp.Indexed):
        return None
    return target, tuple(expr.indices), factor, seeds[0].base


def _reused(term: Term, product) -> Term:
    """``term`` reading the tangent ``product`` names, where its factor holds its definition."""
    target, indices, factor, seed_base = product
    entries = [a for a in atoms_of(term.factor, sp.Indexed) if a.base == seed_base]
    if len(entries) != 1 or len(entries[0].indices) != len(indices):
        return term
    entry = entries[0]
    if any(free == 0 and used != 0 for free, used in zip(indices, entry.indices)):
        return term
    mapping = {free: used for free, used in zip(indices, entry.indices) if free != 0}
    definition = replaced(factor, mapping) * entry
    rest = sp.factor(sp.cancel(term.factor / definition))
    if _tangent_entries(rest):          # the term's one tangent entry is in the definition
        return term
    denominator, before = sp.fraction(rest)[1], sp.fraction(sp.cancel(term.factor))[1]
    if sp.fraction(sp.cancel(before / denominator))[1] != 1:
        return term
    reused = rest * sp.IndexedBase(target, shape=seed_base.shape, real=True)[entry.indices]
    if sp.count_ops(reused) >= sp.count_ops(term.factor):
        return term
    return Term(reused, term.bound, term.conditions)


def products_reused(statements: list[tuple[str, str, IndexExpr]]) -> list[tuple[str, str, IndexExpr]]:
    """``statements`` ((tensor, tangent name, expression), in the order they are computed) with
    each term that holds an earlier entrywise-product tangent's definition reading it by name."""
    products, out = [], []
    for name, target, expr in statements:
        terms = expr.terms
        for product in products:
            terms = tuple(_reused(t, product) for t in terms)
        expr = IndexExpr(expr.indices, terms)
        out.append((name, target, expr))
        found = _entrywise_product(target, expr)
        if found is not None:
            products.append(found)
    return out
