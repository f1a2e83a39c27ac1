"""Index notation written by a user in SymPy, checked and turned into terms.

Accepted: numbers, dimensions, scalar tensors, entries ``T[i, j]`` of the
model's tensors, ``+ - * /``, numeric powers, ``sympy.Sum`` over integer
symbols with bounds in the dimensions, ``KroneckerDelta`` and the functions
of the table. Anything else is an error naming the definition and the part.
"""
from __future__ import annotations

import sympy as sp

from symgrad.errors import ModelError
from symgrad.model.functions import row_of
from symgrad.index.rebuild import replaced
from symgrad.index.terms import Term, product


def terms_from_sympy(expr, model, name: str, indices: tuple) -> tuple[Term, ...]:
    if not isinstance(expr, sp.Basic):
        expr = sp.sympify(expr, strict=True)
    allowed = {s for s in indices if s != 0}
    return _terms(expr, model, name, allowed)


def _terms(expr, model, name, allowed) -> tuple[Term, ...]:
    where = f"define {name!r}"
    if isinstance(expr, sp.Add):
        return tuple(t for a in expr.args for t in _terms(a, model, name, allowed))
    if isinstance(expr, sp.Mul):
        terms = (Term(sp.Integer(1)),)
        for a in expr.args:
            terms = product(terms, _terms(a, model, name, allowed))
        return terms
    if isinstance(expr, sp.Sum):
        body, limits = expr.function, expr.limits
        mapping, bound = {}, []
        for symbol, lo, hi in limits:
            if not symbol.is_integer:
                raise ModelError(f"{where}: summation index {symbol} must be an integer symbol")
            new = model.space.fresh_like(symbol, lo, hi)
            mapping[symbol] = new
            bound.append((new, lo, hi))
        inner = _terms(replaced(body, mapping), model, name, allowed | set(mapping.values()))
        return tuple(Term(t.factor, tuple(bound) + t.bound, t.conditions) for t in inner)
    if isinstance(expr, sp.Pow):
        if not expr.exp.is_number:
            raise ModelError(f"{where}: exponent {expr.exp} must be a number")
        return (Term(_pointwise(expr.base, model, name, allowed) ** expr.exp),)
    return (Term(_pointwise(expr, model, name, allowed)),)


def _pointwise(expr, model, name, allowed) -> sp.Expr:
    """A factor with no sum in it, every name checked against the model."""
    where = f"define {name!r}"
    if expr.has(sp.Sum):
        raise ModelError(f"{where}: a Sum inside {expr} — define the sum as a named intermediate first")
    for access in expr.atoms(sp.Indexed):
        tensor = model.tensors.get(str(access.base))
        if tensor is None or not tensor.shape:
            raise ModelError(f"{where}: {access.base} is not a matrix of model {model.name!r}")
        if len(access.indices) != 2:
            raise ModelError(f"{where}: {access} needs 2 indices")
    labels = {a.base.label for a in expr.atoms(sp.Indexed)}
    for symbol in expr.free_symbols - labels:
        if isinstance(symbol, (sp.Indexed, sp.IndexedBase)):
            continue
        if symbol in allowed or symbol in model.dimensions.values():
            continue
        tensor = model.tensors.get(str(symbol))
        if tensor is not None and not tensor.shape:
            continue
        raise ModelError(f"{where}: unknown symbol {symbol} (not an index, a dimension or a scalar tensor)")
    for f in expr.atoms(sp.Function):
        if not isinstance(f, sp.KroneckerDelta) and row_of(f) is None:
            raise ModelError(f"{where}: function {type(f).__name__!r} is not in the table")
    return expr
