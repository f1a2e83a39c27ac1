"""``sympy.diff`` of a definition's term with respect to a tensor entry, on a pool of index symbols.

The chain rule differentiates each definition with respect to entries indexed by fresh
symbols, so every Kronecker delta SymPy builds (``delta(a7, a9)``) is between symbols it has
never seen: deciding whether ``a7 - a9`` is zero runs SymPy's assumption system from scratch
(a millisecond or more each, most of a derivation's time). ``pooled_diff`` first renames the
term's index symbols to symbols from one fixed pool (the same few for every definition, so
SymPy's caches know their differences), differentiates there and renames the result back.

Why the result is the same: the renaming is a bijection between integer symbols with the
same assumptions, so every decision SymPy takes while differentiating (a delta is 1, 0 or
stays) is the one it takes on the original symbols. Renaming back rebuilds each sum and
product in SymPy's canonical order for the original names; a delta that stays is between two
distinct symbols, undecidable on either side, and is rebuilt in the order ``KroneckerDelta``
itself puts its arguments in (``default_sort_key``), without asking again.
"""
from __future__ import annotations

import sympy as sp
from sympy.core.sorting import default_sort_key

from symgrad.index.terms import index_symbols

_POOL: list[sp.Dummy] = []
_POOL_FACTS = sp.Dummy("p", integer=True).assumptions0


def _pool(count: int) -> list[sp.Dummy]:
    while len(_POOL) < count:
        _POOL.append(sp.Dummy(f"p{len(_POOL)}", integer=True))
    return _POOL[:count]


def pooled_diff(factor: sp.Expr, wrt: sp.Expr) -> sp.Expr:
    """``sympy.diff(factor, wrt)``, with SymPy's work done on pooled index symbols."""
    indices = sorted(index_symbols(factor) | index_symbols(wrt), key=default_sort_key)
    if any(s.assumptions0 != _POOL_FACTS for s in indices):
        return sp.diff(factor, wrt)     # an index with other assumptions: no pool symbol is its twin
    to_pool = dict(zip(indices, _pool(len(indices))))
    derivative = sp.diff(factor.xreplace(to_pool), wrt.xreplace(to_pool))
    back = {p: s for s, p in to_pool.items()}
    deltas = {}
    for delta in derivative.atoms(sp.KroneckerDelta):
        i, j = (a.xreplace(back) for a in delta.args)
        if isinstance(i, sp.Symbol) and isinstance(j, sp.Symbol) and i != j and len(delta.args) == 2:
            deltas[delta] = sp.KroneckerDelta(*sorted((i, j), key=default_sort_key), evaluate=False)
    return derivative.xreplace({**back, **deltas})
