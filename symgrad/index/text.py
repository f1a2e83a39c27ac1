"""Index expressions as readable one-line formulas, with index names a reader expects.

Internal index symbols (``i7``, ``a42``) are renamed per formula: free indices
to ``i, j``, summed ones to ``c, k, l, ...``, skipping any letter the model
already uses as a name. Used for the comments in generated code and the CLI.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from symgrad.index.terms import IndexExpr, Term, index_symbols

_STR = StrPrinter()
FREE_NAMES = "ijpqrs"
BOUND_NAMES = "cklmnuvwxyz"


def _pick(pool: str, taken: set[str]) -> str:
    for letter in pool:
        if letter not in taken:
            taken.add(letter)
            return letter
    n = 1
    while f"{pool[0]}{n}" in taken:
        n += 1
    taken.add(f"{pool[0]}{n}")
    return f"{pool[0]}{n}"


def pretty_indices(expr: IndexExpr, reserved: set[str]) -> tuple[dict, list[dict]]:
    """Display names: one map for the free indices, one per term for its bound ones."""
    taken = set(reserved)
    free = {i: sp.Symbol(_pick(FREE_NAMES, taken), integer=True) for i in expr.indices if i != 0}
    per_term = []
    for term in expr.terms:
        local = set(taken)
        per_term.append({s: sp.Symbol(_pick(BOUND_NAMES, local), integer=True) for s in term.bound_symbols})
    return free, per_term


def _split(factor: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    scalar, rest = [], []
    for arg in sp.Mul.make_args(factor):
        (rest if index_symbols(arg) else scalar).append(arg)
    return sp.Mul(*scalar), sp.Mul(*rest)


def term_text(term: Term) -> str:
    coeff, rest = _split(term.factor)
    body = _STR.parenthesize(rest, PRECEDENCE["Mul"], strict=True) if coeff != 1 or term.conditions else str(rest)
    if term.conditions:
        brackets = "*".join(f"[{lo} <= {e} <= {hi}]" for e, lo, hi in term.conditions)
        body = brackets if rest == 1 else f"{brackets}*{body}"
    if term.bound:
        names = ",".join(str(s) for s in term.bound_symbols)
        body = f"sum_{names if len(term.bound) == 1 else '{' + names + '}'} {body}"
    if coeff == 1:
        return body
    if coeff == -1:
        return f"-{body}"
    return f"{coeff} * {body}" if (rest != 1 or term.bound or term.conditions) else str(coeff)


def formula_text(lhs: str, expr: IndexExpr, reserved: set[str]) -> str:
    """``lhs[i, j] = ...`` with readable index names."""
    free, per_term = pretty_indices(expr, reserved)
    parts = [term_text(rename_term_bound(t, {**free, **names}))
             for t, names in zip(expr.terms, per_term)]
    indices = [str(free.get(i, i)) for i in expr.indices]
    head = f"{lhs}[{', '.join(indices)}]" if indices else lhs
    text = " + ".join(parts) if parts else "0"
    return f"{head} = {text.replace('+ -', '- ')}"


def rename_term_bound(term: Term, names: dict) -> Term:
    """Rename bound indices (used with ``pretty_indices``)."""
    renamed = term.xreplace(names)
    return Term(renamed.factor, tuple((names.get(s, s), lo, hi) for s, lo, hi in term.bound),
                renamed.conditions)
