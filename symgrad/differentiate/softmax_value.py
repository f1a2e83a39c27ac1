"""A softmax's backward reads the softmax's value.

``softmax(x, axis)`` (or ``exp(x - logsumexp(x, axis))`` written out) is built as

    E[i, j] = exp(x[i, j] - m[i, 0])        m the hoisted maximum
    s[i, 0] = sum_k E[i, k]
    L[i, 0] = m[i, 0] + log(s[i, 0])        the log-sum-exp
    P[i, j] = exp(x[i, j] - L[i, 0])        the softmax

(or ``P = exp(Z)`` with ``Z = x - m - log(s)``, a softmax written out), so the log-sum-exp's
partial brings ``E[i, j] / s[i, 0]`` into the backward pass: that is
``P[i, j]``, already computed. ``softmax_values`` finds each such quadruple in a model (for
axis 0 as for axis 1), and ``read_softmax`` rewrites a factor's ``E[p, q] * s[..]**-1`` into
``P[p, q]``: one pass and one temporary fewer, and the formula the textbooks write.

The forward pass, too, need not take a second exponential over the whole array:
``from_exponentials`` gives ``P[i, j] = E[i, j] / s[i, 0]``, equal to ``exp(x - L)`` (``L = m + log s``)
to rounding and as safe at any size of ``x``: ``E <= 1`` and ``s >= 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symgrad.differentiate.model_memo import remembered
from symgrad.index.rebuild import replaced, sympy_mul
from symgrad.index.terms import IndexExpr, Term
from symgrad.model.functions import row_of


@dataclass(frozen=True)
class SoftmaxValue:
    exp: str        # E
    total: str      # s
    value: str      # P
    axis: int       # the axis s sums over


def _single(definition):
    terms = definition.expr.terms
    return terms[0] if len(terms) == 1 and not terms[0].conditions else None


def _shifted_exp(definition):
    """(x access, shift access) for ``exp(x[i, j] - shift[..])`` with no sum; else None."""
    term = _single(definition)
    if term is None or term.bound or row_of(term.factor) is None or row_of(term.factor).name != "exp":
        return None
    parts = sp.Add.make_args(term.factor.args[0])
    if len(parts) != 2:
        return None
    plus = [p for p in parts if isinstance(p, sp.Indexed)]
    minus = [-p for p in parts if isinstance(-p, sp.Indexed)]
    return (plus[0], minus[0]) if len(plus) == 1 and len(minus) == 1 else None


def _pieces(definition, definitions):
    """(x access, [log-sum-exp terms, negated]) of a softmax ``exp(x - L)`` with ``L`` named, or of
    ``exp(Z)`` with ``Z = x - m - log(s)`` the log-softmax written out; else None."""
    indices = definition.expr.indices
    outer = _shifted_exp(definition)
    if outer is not None and str(outer[1].base) in definitions and outer[0].indices == indices:
        return outer[0], [-t.factor for t in definitions[str(outer[1].base)].expr.terms]
    term = _single(definition)
    if term is None or term.bound or row_of(term.factor) is None or row_of(term.factor).name != "exp":
        return None
    inner = term.factor.args[0]
    if not isinstance(inner, sp.Indexed) or str(inner.base) not in definitions or inner.indices != indices:
        return None
    log_softmax = definitions[str(inner.base)].expr
    terms = [t.factor for t in log_softmax.terms]
    plus = [f for f in terms if isinstance(f, sp.Indexed) and f.indices == log_softmax.indices]
    if len(plus) != 1 or len(terms) != 3 or any(t.bound or t.conditions for t in log_softmax.terms):
        return None
    x = replaced(plus[0], dict(zip(log_softmax.indices, indices)))
    return x, [f for f in terms if f is not plus[0]]


def softmax_values(model) -> list[SoftmaxValue]:
    """Every softmax of the model whose log-sum-exp is built from a named exp and sum
    (the same list until the model gains a definition: do not change it)."""
    return remembered(model, "softmax values", lambda: _find_softmax_values(model))


def _find_softmax_values(model) -> list[SoftmaxValue]:
    found = []
    definitions = model.definitions
    for name, definition in definitions.items():
        pieces = _pieces(definition, definitions)
        if pieces is None:
            continue
        x, lse = pieces          # the log-sum-exp's terms, each negated: -m[..], -log(s[..])
        logs = [-f for f in lse if row_of(-f) is not None and row_of(-f).name == "log"]
        shifts = [-f for f in lse if isinstance(-f, sp.Indexed)]
        if len(lse) != 2 or len(logs) != 1 or len(shifts) != 1 or not isinstance(logs[0].args[0], sp.Indexed):
            continue
        total = str(logs[0].args[0].base)
        total_term = _single(definitions[total]) if total in definitions else None
        if total_term is None or len(total_term.bound) != 1 or not isinstance(total_term.factor, sp.Indexed):
            continue
        exp = str(total_term.factor.base)
        inner = _shifted_exp(definitions[exp]) if exp in definitions else None
        if inner is None or str(inner[0].base) != str(x.base) or inner[1].base != shifts[0].base \
                or inner[0].indices != definitions[exp].expr.indices:
            continue
        axis = list(total_term.factor.indices).index(total_term.bound_symbols[0])
        found.append(SoftmaxValue(exp, total, name, axis))
    return found


def read_softmax(factor: sp.Expr, softmaxes: list[SoftmaxValue], model) -> sp.Expr:
    """``factor`` with each ``E[p, q] / s[..]`` (the kept axis's index shared) as ``P[p, q]``."""
    for softmax in softmaxes:
        args = list(sp.Mul.make_args(factor))
        for access in [a for a in args if isinstance(a, sp.Indexed) and str(a.base) == softmax.exp]:
            kept = 1 - softmax.axis
            wanted = [0, 0]
            wanted[kept] = access.indices[kept]
            divisor = model.tensors[softmax.total].entry(tuple(wanted)) ** -1
            if divisor in args and access in args:
                args.remove(divisor)
                args.remove(access)
                args.append(model.tensors[softmax.value].entry(access.indices))
        factor = sympy_mul(args)
    return factor


def from_exponentials(name: str, model) -> IndexExpr | None:
    """``P[i, j] = E[i, j] * s[i, 0]**-1`` if ``name`` is a softmax's value ``P``, else None."""
    for softmax in softmax_values(model):
        if softmax.value == name:
            indices = model.definitions[name].expr.indices
            kept = [0, 0]
            kept[1 - softmax.axis] = indices[1 - softmax.axis]
            factor = model.tensors[softmax.exp].entry(indices) * model.tensors[softmax.total].entry(tuple(kept)) ** -1
            return IndexExpr(indices, (Term(factor, (), ()),))
    return None
