"""Index expressions as sums of terms: the representation every stage works on.

A tensor's entry is a sum of terms; one term is

    sum over its bound indices, within their ranges, of  [conditions] * factor

where ``factor`` is a SymPy expression with no ``Sum`` in it (products of
``Indexed`` entries, scalars, table functions and ``KroneckerDelta``) and each
condition ``lo <= e <= hi`` is an Iverson bracket on an integer index
expression (row blocks of a concatenation). Keeping sums and brackets outside
SymPy avoids the constructs that give silently wrong gradients (``Sum.doit`` collapses only
the innermost sum and leaves ``Piecewise`` range guards naming indices already summed out).

Dimensions are positive integer symbols; index symbols are integer symbols
made by an ``IndexSpace``, which names them uniquely so that no substitution
can capture a bound index. Axes of size 1 are always indexed by 0.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable

import sympy as sp

from symgrad.index.rebuild import replaced, times

Bound = tuple[sp.Symbol, sp.Expr, sp.Expr]       # index, lo, hi (inclusive)
Condition = tuple[sp.Expr, sp.Expr, sp.Expr]     # lo <= expr <= hi


def dimension(name: str) -> sp.Symbol:
    """A dimension symbol: a positive integer."""
    return sp.Symbol(name, positive=True, integer=True)


@dataclass(frozen=True)
class Term:
    """``sum_{bound} [conditions] * factor``."""

    factor: sp.Expr
    bound: tuple[Bound, ...] = ()
    conditions: tuple[Condition, ...] = ()

    def xreplace(self, mapping: dict) -> "Term":
        """Substitute in the factor and the conditions (never in bound ranges' indices)."""
        return Term(
            replaced(self.factor, mapping),
            tuple((s, replaced(lo, mapping), replaced(hi, mapping)) for s, lo, hi in self.bound),
            tuple((replaced(e, mapping), replaced(lo, mapping), replaced(hi, mapping))
                  for e, lo, hi in self.conditions),
        )

    def times(self, other: "Term") -> "Term":
        """The product of two terms whose bound indices are distinct."""
        return Term(times(self.factor, other.factor), self.bound + other.bound,
                    self.conditions + other.conditions)

    def scaled(self, factor: sp.Expr) -> "Term":
        return replace(self, factor=self.factor * factor)

    @property
    def bound_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(s for s, _, _ in self.bound)


@dataclass(frozen=True)
class IndexExpr:
    """A tensor entry as a function of its free indices: a sum of terms.

    ``indices`` holds one free index symbol per axis, or 0 for an axis of size 1.
    """

    indices: tuple[sp.Expr, ...]
    terms: tuple[Term, ...]


@dataclass
class IndexSpace:
    """Makes uniquely named index symbols and remembers each one's range."""

    prefix: str = "i"
    ranges: dict[sp.Symbol, tuple[sp.Expr, sp.Expr]] = field(default_factory=dict)
    _count: int = 0

    def fresh(self, size: sp.Expr, lo: sp.Expr = sp.Integer(0)) -> sp.Expr:
        """A new index over ``lo .. lo + size - 1``; 0 for an axis of size 1."""
        span = _span(size, lo)
        if span is None:
            return sp.Integer(0)
        self._count += 1
        symbol = sp.Symbol(f"{self.prefix}{self._count}", integer=True)
        self.ranges[symbol] = span
        return symbol

    def fresh_like(self, symbol: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> sp.Symbol:
        self._count += 1
        new = sp.Symbol(f"{self.prefix}{self._count}", integer=True)
        self.ranges[new] = (lo, hi)
        return new

    def copy(self) -> "IndexSpace":
        """An independent space that draws the same names next: index symbols and their ranges
        are immutable, so copying the table is a deep copy."""
        return IndexSpace(self.prefix, dict(self.ranges), self._count)

    def ranges_of(self, indices) -> dict:
        """The ranges of ``indices`` (an axis of size 1 has the index 0, which has none)."""
        return {i: self.ranges[i] for i in indices if i != 0}

    def indices_for(self, shape: Iterable[sp.Expr]) -> tuple[sp.Expr, ...]:
        return tuple(self.fresh(n) for n in shape)

    def skip_bound(self, term: Term) -> None:
        """Draw the fresh names ``rename_bound(term)`` would, without renaming the term (for a term
        that is not needed): every name drawn after them is the one it would have been."""
        for s, lo, hi in term.bound:
            self.fresh_like(s, lo, hi)

    def rename_bound(self, term: Term, also: dict | None = None) -> Term:
        """The same term with fresh names for its bound indices, and with ``also`` (a renaming of
        its free indices) substituted in the same pass: ``rename_bound(term).xreplace(also)``,
        with each factor rebuilt once instead of twice."""
        also = also or {}
        if not term.bound:
            return term.xreplace(also) if also else term
        mapping = {s: self.fresh_like(s, lo, hi) for s, lo, hi in term.bound}
        renamed = term.xreplace({**mapping, **also})
        return replace(renamed, bound=tuple((mapping[s], replaced(lo, also), replaced(hi, also))
                                            for s, lo, hi in term.bound))


@lru_cache(maxsize=1 << 12)
def _span(size, lo) -> tuple[sp.Expr, sp.Expr] | None:
    """``(lo, lo + size - 1)`` sympified, or None for a size of 1; remembered by size and start
    (every index of a model's few axis sizes asks it, each building two sums anew)."""
    if sp.sympify(size) == 1:
        return None
    return sp.sympify(lo), sp.sympify(lo + size - 1)


def product(left: Iterable[Term], right: Iterable[Term]) -> tuple[Term, ...]:
    """Distribute the product of two sums of terms (bound indices must differ)."""
    right = tuple(right)
    return tuple(a.times(b) for a in left for b in right)


def read_name(symbol) -> str:
    """What ``str(getattr(symbol, "base", symbol))`` gives for a free symbol of a factor (an entry,
    its tensor, a scalar or an index), without SymPy's printer: the name of the tensor an entry
    reads, or the symbol's own."""
    if isinstance(symbol, sp.Indexed):
        symbol = symbol.base
    if type(symbol) in (sp.Symbol, sp.IndexedBase):
        return symbol.name
    return str(symbol)


def index_symbols(expr: sp.Expr) -> set[sp.Symbol]:
    """The index symbols in ``expr``: integer symbols that are not dimensions."""
    return set(_index_symbols(expr))


@lru_cache(maxsize=1 << 15)
def _index_symbols(expr: sp.Expr) -> frozenset:
    return frozenset(s for s in free_symbols_of(expr)
                     if isinstance(s, sp.Symbol) and s.is_integer and not s.is_positive)


@lru_cache(maxsize=1 << 16)
def atoms_of(expr: sp.Basic, kind: type) -> frozenset:
    """``expr.atoms(kind)``: the nodes of that kind among ``expr`` and its arguments, recursively
    (what SymPy's preorder walk over ``args`` collects), each subtree's remembered. SymPy walks
    the whole tree at every asking; collapsing, lowering and every pass over the statements ask
    it of the same immutable factors and bodies again and again, and of the same entries and
    calls inside different ones (a frozenset: the answer is shared)."""
    own = frozenset((expr,)) if isinstance(expr, kind) else frozenset()
    return own.union(*(atoms_of(arg, kind) for arg in expr.args))


@lru_cache(maxsize=1 << 15)
def sort_key(expr: sp.Basic):
    """``sympy.default_sort_key(expr)``, remembered: an entry's key is built from the printed names
    of its tensor and indices anew at every asking, and sorting a factor's entries asks it of the
    same entries again and again."""
    return sp.default_sort_key(expr)


@lru_cache(maxsize=1 << 12)
def common_product(expr: sp.Expr) -> sp.Expr:
    """``sp.factor_terms(expr)``: ``expr`` with what its sums' terms have in common pulled out as a
    product (``-2*y + 2*yhat`` is ``2*(yhat - y)``), remembered: the lowering, the buffer pass and
    the printers each ask it of the same immutable bodies (and the buffer pass once per chain it
    tries). A sum whose terms plainly share nothing (``_shares_nothing``) is its own answer, without
    SymPy's search: most bodies asked about are such sums (``A[0] - X[1]``, ``G[0]*S[1] + H[2]``)."""
    if expr.is_Add and _shares_nothing(expr):
        return expr
    return sp.factor_terms(expr)


def _shares_nothing(expr: sp.Add) -> bool:
    """True when ``factor_terms`` gives the sum ``expr`` back as it is: no term holds a sum (whose
    content or factors ``factor_terms`` would pull out first), each term is an integer times
    factors whose bases are not numbers (``2**(3/2)`` gives up a 2), no base is in every term, the
    integers have no common divisor and are not all negative (whose -1 would be pulled out).
    False where it cannot tell so cheaply, and ``factor_terms`` is asked."""
    shared = None
    coefficients = []
    for term in expr.args:
        coefficient, rest = term.as_coeff_Mul()
        if not coefficient.is_Integer or atoms_of(term, sp.Add):
            return False
        bases = set()
        if rest is not sp.S.One:
            for factor in sp.Mul.make_args(rest):
                base = factor.as_base_exp()[0]
                if base.is_number:
                    return False
                bases.add(base)
        shared = bases if shared is None else shared & bases
        coefficients.append(int(coefficient))
    return not shared and any(c > 0 for c in coefficients) and math.gcd(*coefficients) == 1


def distributed(expr: sp.Expr) -> sp.Expr:
    """``expr`` with its products multiplied out over the sums they hold, each denominator kept
    as written. ``sp.expand_mul`` (and ``sp.expand``) would also multiply a product's denominators
    out into one: ``1/((V[a, j]**2 + 1)*(V[b, j]**2 + 1))`` becomes one reciprocal of a sum reading
    both entries, three indices in one factor, which no array expression computes; kept apart,
    each reads two. Function arguments and powers are left as written."""
    if isinstance(expr, sp.Add):
        return sp.Add(*(distributed(a) for a in expr.args))
    if isinstance(expr, sp.Mul):
        parts = [sp.Add.make_args(distributed(a)) for a in expr.args]
        if all(len(p) == 1 for p in parts):
            return expr
        return sp.Add(*(sp.Mul(*choice) for choice in itertools.product(*parts)))
    return expr


@lru_cache(maxsize=1 << 16)
def free_symbols_of(expr: sp.Basic) -> frozenset:
    """``expr.free_symbols``, each subtree's remembered as in ``atoms_of``: a node whose class keeps
    SymPy's own rule (the union of its arguments' free symbols) from its arguments' remembered
    sets, any other (a symbol, an entry, a sum binding its index) as SymPy says."""
    if not expr.args or type(expr).free_symbols is not _UNION_OF_ARGUMENTS:
        return frozenset(expr.free_symbols)
    return frozenset().union(*(free_symbols_of(arg) for arg in expr.args))


_UNION_OF_ARGUMENTS = sp.Basic.free_symbols      # the property, for ``free_symbols_of``'s test


def linear_form(expr: sp.Expr, indices: set[sp.Symbol]) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]] | None:
    """Split ``expr`` into ``constant + sum(coeff * index)``; None if it is not linear in the indices."""
    form = _linear_form(expr, frozenset(indices))
    return None if form is None else (form[0], dict(form[1]))


@lru_cache(maxsize=1 << 14)
def _linear_form(expr: sp.Expr, indices: frozenset) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]] | None:
    """``linear_form``, remembered: collapsing and lowering ask it of the same few index
    expressions many times (the dict it returns is copied before it leaves)."""
    if expr.is_Symbol:      # what the loop below gives a lone symbol, without SymPy's arithmetic
        return (sp.Integer(0), {expr: sp.Integer(1)}) if expr in indices else (expr, {})
    if not expr.is_Number:
        expr = sp.expand(expr)
    coefficients: dict[sp.Symbol, sp.Expr] = {}
    constant = sp.Integer(0)
    for part in sp.Add.make_args(expr):
        used = part.free_symbols & indices
        if not used:
            constant += part
            continue
        if len(used) > 1:
            return None
        (index,) = used
        coeff, rest = part.as_independent(index, as_Add=False)   # a term of the expansion: coeff * rest
        if rest != index or not coeff.is_number:    # the index squared, in a function, or times a dimension
            return None
        coefficients[index] = coefficients.get(index, sp.Integer(0)) + coeff
    return constant, {k: v for k, v in coefficients.items() if v != 0}


@lru_cache(maxsize=1 << 14)
def is_nonnegative(expr: sp.Expr) -> bool | None:
    """Decide ``expr >= 0`` for a linear expression in dimensions (each at least 1).

    True or False when it holds or fails for every dimension value, None when it depends on them.
    """
    expr = sp.expand(expr)
    if expr.is_number:
        return bool(expr >= 0)
    constant, coefficients = sp.Integer(0), []
    for part in sp.Add.make_args(expr):
        coeff, rest = part.as_coeff_Mul()
        if rest == 1:
            constant += coeff
        elif isinstance(rest, sp.Symbol) and rest.is_positive and rest.is_integer:
            coefficients.append(coeff)
        else:
            return None
    at_ones = constant + sum(coefficients)
    if all(c >= 0 for c in coefficients) and at_ones >= 0:
        return True
    if all(c <= 0 for c in coefficients) and at_ones < 0:
        return False
    return None


def interval(expr: sp.Expr, ranges: dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]) -> tuple[sp.Expr, sp.Expr] | None:
    """The range of a linear index expression, given the ranges of its indices."""
    if expr in ranges:      # an index alone: its own range, as ``_interval`` finds it (0 + 1*lo, expanded)
        return _expanded_range(*ranges[expr])
    return _interval(expr, frozenset((s, ranges[s]) for s in expr.free_symbols if s in ranges))


@lru_cache(maxsize=1 << 12)
def _expanded_range(lo: sp.Expr, hi: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``(expand(lo), expand(hi))``, remembered by the bounds alone: every fresh index over the
    same range asks it, and a cache keyed by the index itself never hits."""
    return sp.expand(lo), sp.expand(hi)


@lru_cache(maxsize=1 << 14)
def _interval(expr: sp.Expr, within: frozenset) -> tuple[sp.Expr, sp.Expr] | None:
    """``interval`` given the ranges of ``expr``'s own indices (all it depends on), remembered:
    checking a model's accesses and collapsing ask it of the same index expressions many times."""
    ranges = dict(within)
    form = linear_form(expr, set(ranges))
    if form is None:
        return None
    low = high = form[0]
    for index, coeff in form[1].items():
        lo, hi = ranges[index]
        if coeff > 0:
            low, high = low + coeff * lo, high + coeff * hi
        else:
            low, high = low + coeff * hi, high + coeff * lo
    return sp.expand(low), sp.expand(high)
