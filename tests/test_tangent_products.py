"""differentiate.tangent_products: a term holding an earlier tangent's entrywise definition reads
that tangent by name, with the same value, and only where that is fewer operations."""
import sympy as sp

from symgrad.differentiate.tangent_products import products_reused
from symgrad.index.terms import IndexExpr, Term

i, j, c = sp.symbols("i j c", integer=True)
M, N = sp.symbols("M N", integer=True, positive=True)


def _base(name):
    return sp.IndexedBase(name, shape=(M, N), real=True)


a, g, dot_z, dot_a, dot_g = (_base(n) for n in ("a", "grad_a", "dot_z", "dot_a", "dot_grad_z"))
dot_a_definition = IndexExpr((i, j), (Term((1 - a[i, j]) * a[i, j] * dot_z[i, j]),))


def test_sigmoid_second_order_term_reads_the_tangent_of_the_value():
    second = (a[i, j] - 1) * (2 * a[i, j] - 1) * a[i, j] * dot_z[i, j] * g[i, j]
    first = (1 - a[i, j]) * a[i, j] * dot_g[i, j]
    statements = [("a", "dot_a", dot_a_definition),
                  ("grad_z", "dot_grad_z", IndexExpr((i, j), (Term(second), Term(first))))]
    _, (_, _, reused) = products_reused(statements)
    new_second, new_first = (t.factor for t in reused.terms)
    assert dot_a[i, j] in new_second.atoms(sp.Indexed) and dot_z[i, j] not in new_second.atoms(sp.Indexed)
    assert sp.simplify(new_second.xreplace({dot_a[i, j]: (1 - a[i, j]) * a[i, j] * dot_z[i, j]}) - second) == 0
    assert new_first == first                       # no dot_z in it: left alone


def test_entries_at_other_indices_and_sums_keep_their_bound_indices():
    summed = Term(a[c, j] * (1 - a[c, j]) * dot_z[c, j] * g[c, i], ((c, 0, M - 1),))
    statements = [("a", "dot_a", dot_a_definition), ("W", "dot_grad_W", IndexExpr((i, j), (summed,)))]
    _, (_, _, reused) = products_reused(statements)
    (term,) = reused.terms
    assert term.bound == summed.bound and term.factor == dot_a[c, j] * g[c, i]


def test_a_term_without_the_definition_is_left_as_it_is():
    other = Term(a[i, j] * dot_z[i, j] * g[i, j])        # a*dot_z: (1 - a) would be a new denominator
    statements = [("a", "dot_a", dot_a_definition), ("grad_z", "dot_grad_z", IndexExpr((i, j), (other,)))]
    _, (_, _, reused) = products_reused(statements)
    assert reused.terms == (other,)
