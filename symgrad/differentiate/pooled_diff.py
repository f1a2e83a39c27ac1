"""``sympy.diff`` of a definition's term with respect to a tensor entry, without SymPy's costly part.

The chain rule differentiates each definition with respect to entries indexed by fresh
symbols, so every Kronecker delta SymPy builds (``delta(a7, a9)``) is between symbols it has
never seen: deciding whether ``a7 - a9`` is zero runs SymPy's assumption system from scratch
(a millisecond or more each, most of a derivation's time). ``pooled_diff`` gives exactly what
``sympy.diff(factor, wrt)`` gives, two ways:

* a factor built of products, sums, powers (whose exponent does not read the entry's tensor)
  and table functions (in their first argument) of the tensor's entries, such as
  ``H[i, c] * W[c, j]``, ``V[i, 0]**(-1/2)``, ``tanh(Z[i, j])``, ``G[i, j] * A[i, j]``,
  ``exp(-E[i, j]**2)`` or ``-(L[i, j] - S[i, 0]) * Y[i, j] / n``, is differentiated the way
  SymPy's ``Mul``, ``Add``, ``Pow``, ``Function`` and ``Indexed`` rules do it, node by node,
  with each delta built by ``_delta``;
* anything else is renamed to a fixed pool of index symbols (the same few for every
  definition, so SymPy's caches know their differences), differentiated by SymPy there and
  renamed back, deltas again rebuilt by ``_delta``.

Why the deltas are the same: between two distinct index symbols (integers, nothing else known)
``KroneckerDelta`` can decide nothing, so it returns itself with its arguments in
``default_sort_key`` order; ``_delta`` builds that directly, and leaves every other pair
(offsets such as ``M + r``, numbers) to ``KroneckerDelta``. The pool renaming is a bijection
between symbols with the same assumptions, so every decision SymPy takes there holds for the
original symbols, and renaming back rebuilds each sum and product in SymPy's canonical order.
"""
from __future__ import annotations

from functools import lru_cache, reduce

import sympy as sp

from symgrad.index.rebuild import applied, replaced, times
from symgrad.index.terms import atoms_of, index_symbols, sort_key
from symgrad.model.functions import row_of

_POOL: list[sp.Dummy] = []
_POOL_FACTS = sp.Dummy("p", integer=True).assumptions0


def _pool(count: int) -> list[sp.Dummy]:
    while len(_POOL) < count:
        _POOL.append(sp.Dummy(f"p{len(_POOL)}", integer=True))
    return _POOL[:count]


@lru_cache(maxsize=1 << 14)
def _is_plain_index(s) -> bool:
    """Whether ``s`` is an index symbol with a pool symbol's assumptions (remembered: the
    assumptions are gathered into a new dict at every asking)."""
    return isinstance(s, sp.Symbol) and s.assumptions0 == _POOL_FACTS


def _delta(i: sp.Expr, j: sp.Expr) -> sp.Expr:
    """``KroneckerDelta(i, j)``, built without asking SymPy's assumptions when it cannot decide."""
    if i == j:
        return sp.Integer(1)
    if _is_plain_index(i) and _is_plain_index(j):
        return applied(sp.KroneckerDelta, tuple(sorted((i, j), key=sort_key)), evaluate=False)
    return sp.KroneckerDelta(i, j)


def _reads(expr: sp.Expr, base) -> bool:
    return any(a.base == base for a in atoms_of(expr, sp.Indexed))


def _entry_derivative(access: sp.Indexed, wrt: sp.Indexed) -> sp.Expr:
    """``Indexed._eval_derivative``: the product of the deltas between their indices."""
    result = sp.Integer(1)
    for i, j in zip(access.indices, wrt.indices):
        result *= _delta(i, j)
    return result


def _is_entry_of(expr: sp.Expr, wrt: sp.Indexed) -> bool:
    """Whether ``expr`` is an entry of ``wrt``'s tensor, with as many indices."""
    return isinstance(expr, sp.Indexed) and expr.base == wrt.base and len(expr.indices) == len(wrt.indices)


def _derivative(expr: sp.Expr, wrt: sp.Indexed) -> sp.Expr | None:
    """``expr.diff(wrt)`` as SymPy's own rules build it, node by node, for a product, a sum, an
    entry, a power whose exponent does not read ``wrt``'s tensor and a table function, of any of
    these; None where ``expr`` holds anything else that reads the tensor."""
    if not _reads(expr, wrt.base):
        return sp.Integer(0)
    if isinstance(expr, sp.Indexed):
        return _entry_derivative(expr, wrt)
    if isinstance(expr, sp.Mul):        # Mul._eval_derivative: a product for each factor with a derivative
        args, terms = list(expr.args), []
        for position, arg in enumerate(args):
            derivative = _derivative(arg, wrt)
            if derivative is None:
                return None
            if derivative != 0:
                terms.append(reduce(times, args[:position] + [derivative] + args[position + 1:], sp.Integer(1)))
        return sp.Add(*terms)
    if isinstance(expr, sp.Add):        # Add._eval_derivative
        parts = [_derivative(arg, wrt) for arg in expr.args]
        return None if any(p is None for p in parts) else sp.Add(*parts)
    if isinstance(expr, sp.Pow):        # Pow._eval_derivative, the exponent's derivative being 0
        dbase = None if _reads(expr.exp, wrt.base) else _derivative(expr.base, wrt)
        if dbase is None:
            return None
        return expr * (sp.Integer(0) * sp.log(expr.base) + dbase * expr.exp / expr.base)
    if row_of(expr) is None:
        return None
    terms = []                          # Function._eval_derivative: fdiff(k) * d(argument k)
    for position, arg in enumerate(expr.args, 1):
        inner = _derivative(arg, wrt)
        if inner is None or (inner != 0 and position > 1):
            return None                 # (a parameter read through the tensor: SymPy's fdiff)
        if inner != 0:
            terms.append(expr.fdiff(position) * inner)
    return sp.Add(*terms)


def reads_no_entry(factor: sp.Expr, wrt: sp.Expr) -> bool:
    """Whether ``wrt`` is a tensor entry and ``factor`` reads no entry of its tensor, so that
    ``pooled_diff(factor, wrt)`` is 0 (a renaming of the indices keeps that true)."""
    return isinstance(wrt, sp.Indexed) and isinstance(wrt.base, sp.IndexedBase) and not _reads(factor, wrt.base)


def pooled_diff(factor: sp.Expr, wrt: sp.Expr) -> sp.Expr:
    """``sympy.diff(factor, wrt)`` for a term's factor and a tensor entry (or a scalar tensor)."""
    if isinstance(wrt, sp.Indexed) and isinstance(wrt.base, sp.IndexedBase):
        if not _reads(factor, wrt.base):
            return sp.Integer(0)
        derivative = _derivative(factor, wrt)
        if derivative is not None:
            return derivative
    indices = sorted(index_symbols(factor) | index_symbols(wrt), key=sort_key)
    if not all(_is_plain_index(s) for s in indices):
        return sp.diff(factor, wrt)     # an index with other assumptions: no pool symbol is its twin
    to_pool = dict(zip(indices, _pool(len(indices))))
    derivative = sp.diff(replaced(factor, to_pool), replaced(wrt, to_pool))
    back = {p: s for s, p in to_pool.items()}
    deltas = {d: _delta(*(replaced(a, back) for a in d.args))
              for d in derivative.atoms(sp.KroneckerDelta) if len(d.args) == 2}
    return replaced(derivative, {**back, **deltas})
