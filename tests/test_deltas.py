"""Collapsing Kronecker deltas and range conditions over symbolic index ranges."""
import sympy as sp

from symgrad.index.deltas import Elimination, collapse
from symgrad.index.terms import Term, dimension, interval, is_nonnegative

M, N = dimension("M"), dimension("N")
i, k, r, s = sp.symbols("i k r s", integer=True)
f = sp.Function("f")
KD = sp.KroneckerDelta


def test_offset_delta_collapses_with_its_range_decided():
    log = []
    (term,) = collapse([Term(KD(k, M + r) * f(k), ((k, 0, 2 * M - 1),))], {r: (0, M - 1)}, log)
    assert term == Term(f(M + r))
    assert log == [Elimination(k, M + r, KD(k, M + r))]


def test_undecidable_range_is_kept_as_a_condition():
    (term,) = collapse([Term(KD(k, r) * f(k), ((k, 0, M - 1),))], {r: (0, N - 1)})
    assert term.factor == f(r) and term.conditions == ((r, 0, M - 1),) and not term.bound


def test_delta_that_can_never_hold_kills_the_term():
    assert collapse([Term(KD(i, M + r) * f(i))], {i: (0, M - 1), r: (0, M - 1)}) == ()


def test_delta_between_free_indices_stays():
    (term,) = collapse([Term(KD(i, r) * f(i))], {i: (0, M - 1), r: (0, M - 1)})
    assert term.factor.has(KD(i, r))


def test_condition_tightens_a_bound_range_and_unused_indices_count():
    (term,) = collapse([Term(f(k), ((k, 0, 2 * M - 1), (s, 0, N - 1)), ((k, M, 2 * M - 1),))], {})
    assert term.bound == ((k, M, 2 * M - 1),) and term.factor == N * f(k) and not term.conditions


def test_delta_inside_a_sum_factor_is_found():
    terms = collapse([Term((f(k) + 1) * KD(k, r) * 2 + 0 * k, ((k, 0, M - 1),))], {r: (0, M - 1)})
    assert sp.expand(sum(t.factor for t in terms)) == 2 * f(r) + 2


def test_nonnegative_and_interval():
    assert is_nonnegative(2 * M - 1 - (M - 1)) is True
    assert is_nonnegative(M - N) is None
    assert is_nonnegative(-M) is False
    assert interval(M + r, {r: (0, M - 1)}) == (M, 2 * M - 1)
    assert interval(r * r, {r: (0, M - 1)}) is None


def test_like_terms_cancel():
    y, z = sp.symbols("y z")
    terms = collapse([Term(-y * (1 - z)), Term((1 - y) * z)], {})
    assert len(terms) == 1 and terms[0].factor == z - y
    kept = collapse([Term(y), Term(-z)], {})
    assert [t.factor for t in kept] == [y, -z]


def test_like_terms_with_float_coefficients_keep_the_factors_of_their_exact_sum():
    """GELU's f'' as the chain rule leaves it (``sg = sigmoid(1.702 z)``): over the rationals that
    1.702 stands for, the sum has the factor ``sg - 1``, so a saturated sigmoid gives 0 exactly."""
    z, g = sp.symbols("z g", real=True)
    sg = sp.Function("sg")(z)
    parts = [1.702 * (1 - sg) * sg * g, 5.793608 * sg ** 3 * g * z, -8.690412 * sg ** 2 * g * z,
             -1.702 * sg ** 2 * g, 2.896804 * sg * g * z, 1.702 * sg * g]
    (term,) = collapse([Term(part) for part in parts], {})
    assert sg - 1 in sp.Mul.make_args(term.factor) or 1 - sg in sp.Mul.make_args(term.factor), term.factor
    exact = 1.702 * sg * (1 - sg) * (2 + 1.702 * z * (1 - 2 * sg)) * g
    assert abs(float((term.factor - exact).subs({sg: 0.25, z: 0.5, g: 1.0}))) < 1e-14


def test_a_sum_holding_a_delta_is_multiplied_out_with_each_denominator_kept():
    """SymPy's expand_mul would make 1/((1 + V[i, j]**2) (1 + V[k, j]**2)) one reciprocal reading
    i, j and k at once, which no array expression computes."""
    V, j = sp.IndexedBase("V"), sp.Symbol("j", integer=True)
    factor = (KD(k, r) * f(k) + 1) * V[k, j] / ((1 + V[i, j] ** 2) * (1 + V[k, j] ** 2))
    terms = collapse([Term(factor, ((k, 0, M - 1),))], {i: (0, M - 1), r: (0, M - 1), j: (0, N - 1)})
    assert len(terms) == 2
    for term in terms:
        assert all(len(a.free_symbols & {i, j, k, r}) <= 2 for a in sp.Mul.make_args(term.factor)), term


def test_an_adjoint_inside_a_sum_is_substituted_with_each_denominator_kept():
    from symgrad.differentiate.chain_rule import substitute
    from symgrad.index.terms import IndexExpr, IndexSpace
    V, G, j = sp.IndexedBase("V"), sp.IndexedBase("grad_Z"), sp.Symbol("j", integer=True)
    factor = (G[i, k] + G[k, i]) * V[i, j] * V[k, j] / ((1 + V[i, j] ** 2) * (1 + V[k, j] ** 2))
    a, b = sp.symbols("a b", integer=True)
    definition = IndexExpr((a, b), (Term(f(a) * f(b)),))
    terms = substitute([Term(factor, ((k, 0, M - 1),))], "grad_Z", definition, IndexSpace())
    assert len(terms) == 2 and all(t.factor.has(f(i) * f(k)) for t in terms)
    for term in terms:
        assert all(len(a.free_symbols & {i, j, k}) <= 2 for a in sp.Mul.make_args(term.factor)), term
