"""Numerically safer rewrites, as plain data, applied to every definition as it is stored.

A loss written as the notes write it, ``y log(yhat) + (1 - y) log(1 - yhat)``
with ``yhat = sigmoid(s)``, overflows or divides by zero for large ``|s|``.
Each rule below matches a call of the table through named intermediates
(``yhat`` is seen as ``sigmoid(s)``) and replaces it by a stable equal form;
the derivation then works on the stable form, so the gradient collapses to
``(yhat - y) / K`` instead of ``y / yhat - (1 - y) / (1 - yhat)``. The logistic loss written
literally, ``log(1 + exp(-y * s))``, becomes ``softplus(-y * s)``: finite at any margin.
"""
from __future__ import annotations

import sympy as sp

from symgrad.index.rebuild import replaced
from symgrad.model.functions import FUNCTIONS, row_of

_x = sp.Wild("x")
_F = FUNCTIONS

# (name, pattern for the argument of log, replacement of the whole log(...))
LOG_RULES = (
    ("log of sigmoid is -softplus(-x)", _F["sigmoid"](_x), lambda m: -_F["softplus"](-m[_x])),
    ("log of 1 - sigmoid is -softplus(x)", 1 - _F["sigmoid"](_x), lambda m: -_F["softplus"](m[_x])),
    ("log of exp is x", _F["exp"](_x), lambda m: m[_x]),
    # SymPy's Add is commutative: this rule matches log(exp(x) + 1) too
    ("log of 1 + exp is softplus(x)", 1 + _F["exp"](_x), lambda m: _F["softplus"](m[_x])),
)
# log(softmax(x)) needs no rule of its own: softmax(x) is the named exp(x - logsumexp(x)), so
# "log of exp is x" makes it x - logsumexp(x), the log-softmax.


def _inline_map(model) -> dict:
    """Entries of intermediates defined as one table call, as that call (``yhat[a, b] -> sigmoid(s[a, b])``)."""
    found = {}
    for name, definition in model.definitions.items():
        expr = definition.expr
        if len(expr.terms) == 1 and not expr.terms[0].bound and not expr.terms[0].conditions \
                and row_of(expr.terms[0].factor) is not None:
            found[name] = (expr.indices, expr.terms[0].factor)
    return found


def _seen_through(arg: sp.Expr, inline: dict) -> sp.Expr:
    mapping = {}
    for access in arg.atoms(sp.Indexed):
        if str(access.base) in inline:
            indices, call = inline[str(access.base)]
            rename = {i: j for i, j in zip(indices, access.indices) if i != 0}
            mapping[access] = replaced(call, rename)
    for symbol in arg.free_symbols:   # a scalar intermediate is a Symbol
        if isinstance(symbol, sp.Symbol) and str(symbol) in inline and not inline[str(symbol)][0]:
            mapping[symbol] = inline[str(symbol)][1]
    return replaced(arg, mapping)


def stabilize(factor: sp.Expr, model) -> sp.Expr:
    """``factor`` with every ``log`` the rules know replaced by its stable form."""
    logs = [f for f in factor.atoms(sp.Function) if type(f).__name__ == "log" and row_of(f) is not None]
    if not logs:
        return factor
    inline = _inline_map(model)
    mapping = {}
    for call in logs:
        argument = _seen_through(call.args[0], inline)
        for _, pattern, replace in LOG_RULES:
            match = argument.match(pattern)
            if match is not None and _x in match:
                mapping[call] = replace(match)
                break
    return replaced(factor, mapping)
