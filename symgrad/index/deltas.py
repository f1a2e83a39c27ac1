"""Collapsing Kronecker deltas and index-range conditions, to a fixed point.

Rules, applied to one term until none applies:

1. ``sum_s delta(a, b) f``, where ``a - b`` holds the bound index ``s`` with
   coefficient +-1: solve for ``s``, substitute it everywhere, and keep the
   range of ``s`` as a condition on the solution.
2. ``delta(a, b)`` with no bound index: 1 if ``a - b`` is identically 0, the
   whole term is 0 if ``a - b`` can never be 0 over the index ranges;
   otherwise it stays (a delta between free indices, as in a local partial).
3. A condition ``lo <= e <= hi`` is dropped when it holds for every index and
   dimension value, kills the term when it never holds, and tightens the
   range of ``s`` when ``e`` is ``s`` plus a constant.
4. A bound index that nothing mentions any more is summed out as a count.

Each rule removes a delta, a condition or a bound index, so the loop ends.
Every elimination is recorded, so a derivation can show which deltas were
summed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from symgrad.index.rebuild import replaced
from symgrad.index.terms import Term, atoms_of, distributed, free_symbols_of, interval, is_nonnegative, linear_form

Ranges = dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]


@dataclass(frozen=True)
class Elimination:
    """``index := value`` was set by summing out ``delta``."""

    index: sp.Symbol
    value: sp.Expr
    delta: sp.Expr


def _deltas(factor: sp.Expr) -> list[sp.Expr]:
    return [f for f in sp.Mul.make_args(factor) if isinstance(f, sp.KroneckerDelta)]


def _decide(condition, ranges: Ranges) -> bool | None:
    """Whether ``lo <= expr <= hi`` holds always (True), never (False) or depends (None)."""
    expr, lo, hi = condition
    span = interval(expr, ranges)
    return None if span is None else _decide_span(*span, lo, hi)


@lru_cache(maxsize=1 << 14)
def _decide_span(low, high, lo, hi) -> bool | None:
    """``_decide`` for an expression that takes the values ``low .. high`` (remembered: every pass
    of the collapse loop asks it again of the conditions and deltas that stay)."""
    """``_decide`` for an expression that takes the values ``low .. high``."""
    if is_nonnegative(low - lo) and is_nonnegative(hi - high):
        return True
    if is_nonnegative(lo - high - 1) or is_nonnegative(low - hi - 1):
        return False
    return None


def _tighten(condition, bound: dict, ranges: Ranges):
    """New (lo, hi) for the one bound index a condition restricts, or None."""
    expr, lo, hi = condition
    form = linear_form(expr, set(ranges))
    if form is None:
        return None
    constant, coefficients = form
    if len(coefficients) != 1:
        return None
    (index, coeff), = coefficients.items()
    if index not in bound or coeff not in (1, -1):
        return None
    if coeff == 1:
        new_lo, new_hi = lo - constant, hi - constant
    else:
        new_lo, new_hi = constant - hi, constant - lo
    old_lo, old_hi = bound[index]
    pick_lo = _larger(old_lo, new_lo)
    pick_hi = _smaller(old_hi, new_hi)
    if pick_lo is None or pick_hi is None:
        return None
    return index, sp.expand(pick_lo), sp.expand(pick_hi)


def _larger(a, b):
    if is_nonnegative(a - b):
        return a
    if is_nonnegative(b - a):
        return b
    return None


def _smaller(a, b):
    if is_nonnegative(b - a):
        return a
    if is_nonnegative(a - b):
        return b
    return None


def _between_indices(delta: sp.Expr, ranges: Ranges) -> bool:
    """Whether ``delta`` is between two distinct index symbols with known ranges, the usual case
    (a local partial's ``delta(a7, a9)``), which ``_solution`` and ``_never_equal`` decide from the
    two symbols and their ranges alone, without forming and expanding ``a7 - a9`` (SymPy's
    arithmetic on symbols it has not met yet is slow)."""
    a, b = delta.args
    return (isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol) and a in ranges and b in ranges
            and a.name != b.name)


def _solution(delta: sp.Expr, bound: dict, ranges: Ranges) -> tuple[sp.Symbol, sp.Expr] | None:
    """(index, value): summing over the bound ``index`` sets it to ``value`` and removes ``delta``
    (``index`` the first by name of the bound indices ``delta(a, b)`` can be solved for, with
    coefficient +-1 in ``a - b``); None when no bound index can be."""
    if _between_indices(delta, ranges):
        a, b = delta.args
        solvable = [s for s in (a, b) if s in bound]
        if not solvable:
            return None
        index = min(solvable, key=str)     # a - b solved for a is b, for b is a
        return index, (b if index == a else a)
    difference = _difference(delta)
    form = linear_form(difference, set(ranges))
    solvable = [] if form is None else [s for s, c in form[1].items() if s in bound and c in (1, -1)]
    if not solvable:
        return None
    index = sorted(solvable, key=str)[0]
    return index, sp.expand(index - difference / form[1][index])


def _never_equal(delta: sp.Expr, ranges: Ranges) -> bool:
    """Whether ``delta``'s two sides differ for every value of the indices."""
    if _between_indices(delta, ranges):
        a, b = delta.args
        return _equal_verdict(ranges[a], ranges[b]) is False
    return _decide((_difference(delta), sp.Integer(0), sp.Integer(0)), ranges) is False


@lru_cache(maxsize=1 << 12)
def _equal_verdict(first: tuple, second: tuple) -> bool | None:
    """``_decide`` of ``a - b == 0`` for index symbols over the ranges ``first`` and ``second``
    (``interval`` of ``a - b`` is ``first_lo - second_hi .. first_hi - second_lo``): False when the
    ranges are disjoint for every dimension value."""
    zero = sp.Integer(0)
    return _decide_span(sp.expand(zero + first[0] - second[1]), sp.expand(zero + first[1] - second[0]), zero, zero)


@lru_cache(maxsize=1 << 14)
def _difference(delta: sp.Expr) -> sp.Expr:
    """``delta(a, b)``'s ``a - b``, expanded (a delta is met again at every pass of the loop)."""
    return sp.expand(delta.args[0] - delta.args[1])


def _expand_deltas(factor: sp.Expr) -> sp.Expr:
    """Bring deltas hidden inside sums up to the top-level product."""
    args = sp.Mul.make_args(factor)
    top = {f for f in args if isinstance(f, sp.KroneckerDelta)}
    # the deltas below the top-level product: only its compound factors can hold one
    nested = set().union(*(atoms_of(a, sp.KroneckerDelta) for a in args if not (a.is_Atom or a in top)))
    if nested - top:   # a delta inside a sum, e.g. d1 * (d2 * f + 1)
        return distributed(factor)
    return factor


def collapse_term(term: Term, free: Ranges, log: list[Elimination] | None = None) -> list[Term]:
    """Collapse one term; returns 0 or more terms (a delta inside a sum may split it)."""
    factor = _expand_deltas(term.factor)
    if isinstance(factor, sp.Add):
        return [t for part in factor.args
                for t in collapse_term(Term(part, term.bound, term.conditions), free, log)]
    bound = {s: (lo, hi) for s, lo, hi in term.bound}
    conditions = list(term.conditions)
    while True:
        if factor == 0:
            return []
        ranges = {**free, **bound}
        changed = False
        for delta in _deltas(factor):
            solution = _solution(delta, bound, ranges)
            if solution is not None:
                index, value = solution
                lo, hi = bound.pop(index)
                # one pass: the delta is replaced whole, before its own arguments would be
                factor = replaced(factor, {delta: sp.Integer(1), index: value})
                conditions = [(replaced(e, {index: value}), a, b) for e, a, b in conditions]
                conditions.append((value, lo, hi))
                if log is not None:
                    log.append(Elimination(index, value, delta))
                changed = True
                break
            if not _between_indices(delta, ranges) and _difference(delta) == 0:
                factor = replaced(factor, {delta: sp.Integer(1)})
                changed = True
                break
            if _never_equal(delta, ranges):
                return []
        if changed:
            continue
        kept = []
        for condition in conditions:
            verdict = _decide(condition, ranges)
            if verdict is False:
                return []
            if verdict is True:
                changed = True
                continue
            tightened = _tighten(condition, bound, ranges)
            if tightened is not None:
                index, lo, hi = tightened
                if is_nonnegative(lo - hi - 1):
                    return []
                bound[index] = (lo, hi)
                changed = True
                continue
            kept.append(condition)
        conditions = kept
        used = free_symbols_of(factor).union(*(free_symbols_of(c[0]) for c in conditions))
        for index in [s for s in bound if s not in used]:
            lo, hi = bound.pop(index)
            factor = factor * (hi - lo + 1)
            changed = True
        if not changed:
            break
    order = [b for b in term.bound if b[0] in bound]
    return [Term(factor, tuple((s, *bound[s]) for s, _, _ in order), tuple(conditions))]


def collapse(terms, free: Ranges, log: list[Elimination] | None = None) -> tuple[Term, ...]:
    """Collapse every term of a sum, then combine like terms."""
    return combine_like_terms([t for term in terms for t in collapse_term(term, free, log)], frozenset(free))


def combine_like_terms(terms, free: frozenset = frozenset()) -> tuple[Term, ...]:
    """Add up terms that sum over the same ranges under the same conditions, and simplify.

    Terms with at most one summed index are grouped (their summed indices renamed
    to the first one's); when expanding a group's sum makes it smaller, it becomes
    one term: ``-y (1 - s) + (1 - y) s`` becomes ``s - y``. Otherwise the terms stay
    as written; so they do when the factored sum has a factor that reads three of the
    indices (``free`` and the summed one) at once, which no array expression vectorizes:
    the terms as written are products of factors over at most two.
    """
    groups: dict = {}
    order = []
    for term in terms:
        if len(term.bound) > 1:
            key = ("alone", len(order))
        else:
            key = (tuple((lo, hi) for _, lo, hi in term.bound), term.conditions)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(term)
    out = []
    for key in order:
        group = groups[key]
        if len(group) == 1:
            out.append(group[0])
            continue
        first = group[0]
        factors = [t.factor if not t.bound else replaced(t.factor, {t.bound[0][0]: first.bound[0][0]})
                   for t in group]
        expanded = sp.expand(sp.Add(*factors))
        if sp.count_ops(expanded) >= sp.count_ops(sp.Add(*factors)):
            out.extend(group)  # nothing cancels: keep the terms as written
        elif expanded != 0:
            factored = _factored(expanded)
            indices = free | {b[0] for b in first.bound}
            if all(len(f.free_symbols & indices) <= 2 for f in sp.Mul.make_args(factored)):
                out.append(Term(factored, first.bound, first.conditions))
            else:
                out.extend(group)
    return tuple(out)


def _factor_count(expr: sp.Expr) -> int:
    """How many factors, with their multiplicities, ``expr`` is the product of (its number aside)."""
    return sum(e for f, e in (p.as_base_exp() for p in sp.Mul.make_args(expr)) if not f.is_Number)


def _factored(expanded: sp.Expr) -> sp.Expr:
    """``expanded`` factored; where it has numbers in floating point, over the rationals their
    decimals stand for (``repr``: ``1.702`` is ``851/500``) if that finds more factors, the numbers
    then back in floating point.

    Over floating-point coefficients SymPy factors out only a number and a monomial. GELU's
    ``z*sigmoid(1.702 z)`` has the second derivative ``1.702 s (1 - s) (2 + 1.702 z (1 - 2 s))``
    (``s = sigmoid(1.702 z)``); expanded (``8.690412 = 3*1.702**2``, ...) it came back as
    ``8.69 s (0.667 s**2 z - s z - 0.392 s + 0.333 z + 0.392)``, which is 0 at ``s = 1`` only in
    exact arithmetic: in float64 it is ``z`` times the rounding of ``0.667 + 0.333``, 1e-10 at
    ``z = 1e6``. Over the rationals the factor ``s - 1`` is found, and a saturated ``s`` gives 0."""
    plain = sp.factor(expanded)
    floats = expanded.atoms(sp.Float)
    if not floats:
        return plain
    exact = sp.factor(expanded.xreplace({f: sp.Rational(repr(float(f))) for f in floats}))
    if _factor_count(exact) <= _factor_count(plain):
        return plain
    powers = {p.exp for p in exact.atoms(sp.Pow)}        # a square root stays one
    return exact.xreplace({r: sp.Float(r) for r in exact.atoms(sp.Rational) if not r.is_Integer and r not in powers})


def term_ranges(term: Term, free: Ranges) -> Ranges:
    """Ranges of every index in a term, free ones narrowed by the term's block conditions."""
    ranges = {**free, **{s: (lo, hi) for s, lo, hi in term.bound}}
    for condition in term.conditions:
        narrowed = _tighten(condition, dict(ranges), ranges)
        if narrowed is not None:
            index, lo, hi = narrowed
            ranges[index] = (lo, hi)
    return ranges
