"""Index expressions as readable one-line formulas, with index names a reader expects.

Internal index symbols (``i7``, ``a42``) are renamed per formula: free indices
to ``i, j``, summed ones to ``c, k, l, ...``, skipping any letter the model
already uses as a name. Used for the comments in generated code and the CLI;
the documents draw their LaTeX index names from the same ``index_name``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from symgrad.index.rebuild import replaced, sympy_mul
from symgrad.index.terms import IndexExpr, Term, index_symbols


class _RememberingStrPrinter(StrPrinter):
    """``str`` of SymPy expressions, each (sub)expression's text remembered: the formulas of one
    model print the same entries and calls (``W2[c, j]``, ``tanh(Z1[i, j])``) over and over, and
    a printer's text for an expression depends on the expression alone (equal expressions are
    the same tree; a Float's precision is part of its equality).

    That holds only with ``full_prec`` off: StrPrinter's default prints a Float at full precision
    when it is the whole expression (``1.00000000000000``) and short inside one (``1.0*reg``), so
    the text remembered for a Float would depend on where it was first printed, and a formula's
    text on which formulas this process printed before it."""

    LIMIT = 1 << 15

    def __init__(self):
        super().__init__({"full_prec": False})
        self._texts: dict = {}

    def _print(self, expr, **kwargs) -> str:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        text = self._texts.get(expr)
        if text is None:
            text = super()._print(expr)
            if len(self._texts) >= self.LIMIT:
                self._texts.clear()
            self._texts[expr] = text
        return text


_STR = _RememberingStrPrinter()
FREE_NAMES = "ijpqrs"               # free indices, as the notes name them
BOUND_NAMES = "cklmnuvwxyzabefgh"   # summed indices


def index_name(kind: str, used: set[str], reserved: set[str]) -> str:
    """The display name of a new free (``kind="free"``) or summed (``"bound"``) index, for the
    formulas of the CLI and the code comments and for the documents' LaTeX alike: the first letter
    of its kind's pool, then of the other kind's, that is neither ``used`` (by the formula's other
    indices) nor ``reserved`` (a name of the model); past both pools, the first of those letters
    numbered by how many names are used (``c17``; the documents print it ``c_{17}``)."""
    own, other = (FREE_NAMES, BOUND_NAMES) if kind == "free" else (BOUND_NAMES, FREE_NAMES)
    pool = [letter for letter in own + other if letter not in reserved]
    fresh = next((letter for letter in pool if letter not in used), None)
    if fresh is not None:
        return fresh
    first, number = (pool or [own[0]])[0], len(used)
    while f"{first}{number}" in used or f"{first}{number}" in reserved:
        number += 1
    return f"{first}{number}"


def _draw(symbols, kind: str, used: set[str], reserved: set[str]) -> dict:
    names = {}
    for symbol in symbols:
        name = index_name(kind, used, reserved)
        names[symbol] = _display_index(name)
        used.add(name)
    return names


@lru_cache(maxsize=1 << 10)
def _display_index(name: str) -> sp.Symbol:
    """The index symbol a formula shows as ``name`` (the same few letters for every formula)."""
    return sp.Symbol(name, integer=True)


def pretty_indices(expr: IndexExpr, reserved: set[str]) -> tuple[dict, list[dict]]:
    """Display names: one map for the free indices, one per term for its bound ones (a term's
    summed indices are its own, so each term starts from the free indices' names)."""
    used: set[str] = set()
    free = _draw([i for i in expr.indices if i != 0], "free", used, reserved)
    per_term = [_draw(term.bound_symbols, "bound", set(used), reserved) for term in expr.terms]
    return free, per_term


def _split(factor: sp.Expr) -> tuple[list, list]:
    """The factors of ``factor`` that read no index (numbers, dimensions, scalars), and those that do."""
    scalar, rest = [], []
    for arg in sp.Mul.make_args(factor):
        (rest if index_symbols(arg) else scalar).append(arg)
    return scalar, rest


def term_text(term: Term, names: dict | None = None) -> str:
    """One term as text, its indices renamed by ``names`` (display symbols, ``pretty_indices``).
    Only the parts that read an index are renamed (the factors, and the sides of a condition): the
    others would come back as they are, and renaming the whole product would rebuild it and then
    split it again."""
    names = names or {}
    scalar, reading = _split(term.factor)
    coeff, rest = sympy_mul(scalar), sympy_mul([replaced(arg, names) for arg in reading])
    conditions = tuple(tuple(replaced(x, names) if index_symbols(x) else x for x in condition)
                       for condition in term.conditions)
    # ``_STR.doprint(x)`` is ``str(x)`` without a new printer for every expression
    text = _STR.doprint
    body = _STR.parenthesize(rest, PRECEDENCE["Mul"], strict=True) if coeff != 1 or conditions else text(rest)
    if conditions:
        brackets = "*".join(f"[{text(lo)} <= {text(e)} <= {text(hi)}]" for e, lo, hi in conditions)
        body = brackets if rest == 1 else f"{brackets}*{body}"
    if term.bound:
        shown = ",".join(text(names.get(s, s)) for s in term.bound_symbols)
        body = f"sum_{shown if len(term.bound) == 1 else '{' + shown + '}'} {body}"
    if coeff == 1:
        return body
    if coeff == -1:
        return f"-{body}"
    return f"{text(coeff)} * {body}" if (rest != 1 or term.bound or conditions) else text(coeff)


def formula_text(lhs: str, expr: IndexExpr, reserved: set[str]) -> str:
    """``lhs[i, j] = ...`` with readable index names."""
    free, per_term = pretty_indices(expr, reserved)
    parts = [term_text(t, {**free, **names}) for t, names in zip(expr.terms, per_term)]
    indices = [_STR.doprint(free.get(i, i)) for i in expr.indices]
    head = f"{lhs}[{', '.join(indices)}]" if indices else lhs
    text = " + ".join(parts) if parts else "0"
    return f"{head} = {text.replace('+ -', '- ')}"
