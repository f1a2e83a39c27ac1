"""``common_product``: SymPy's ``factor_terms``, which it skips for sums whose terms share nothing."""
import pytest
import sympy as sp

from symgrad.index import terms
from symgrad.index.terms import common_product

A, X, G, S, H, P = (sp.IndexedBase(name, real=True) for name in "AXGSHP")
y, yhat = sp.IndexedBase("y", real=True), sp.IndexedBase("yhat", real=True)
i, j = sp.symbols("i j", integer=True)
L = sp.Symbol("L", positive=True, integer=True)

# sums as the buffer pass and the printers meet them (elementwise bodies): nothing in common
SHARING_NOTHING = [
    A[0] - X[1],
    G[0] * S[2] + X[1],
    A[0] + H[1] - S[2],
    1 - G[0],
    -A[0] + 2 * X[1],
    3 * A[i, j] - 2 * X[i, j] ** 2,
    sp.tanh(A[0]) * G[1] + 1 / H[2],
]

# sums with something to pull out: factor_terms's answer, pinned as printed (SymPy would multiply
# a number back out over the sum if the answer were built here)
SHARING = [
    (-2 * y[0] + 2 * yhat[1], "2*(-y[0] + yhat[1])"),
    (-A[0] - X[1], "-(A[0] + X[1])"),
    (A[0] * G[1] + A[0] * H[2], "(G[1] + H[2])*A[0]"),
    (A[0] ** 2 + A[0] ** 3 * G[1], "(A[0]*G[1] + 1)*A[0]**2"),
    (G[0] / H[1] + S[2] / H[1], "(G[0] + S[2])/H[1]"),
    (A[0] / L + X[1] / L, "(A[0] + X[1])/L"),
    (2 * A[0] * (X[1] + X[2]) + 4 * G[3], "2*((X[1] + X[2])*A[0] + 2*G[3])"),
    (2 * sp.sqrt(2) * A[0] + 2 * G[1], "2*(sqrt(2)*A[0] + G[1])"),
    (sp.Rational(1, 2) * A[0] + sp.Rational(1, 2) * X[1], "(A[0] + X[1])/2"),
]


@pytest.fixture
def fresh():
    """The remembered answers forgotten before and after, so each case is worked out here."""
    common_product.cache_clear()
    yield
    common_product.cache_clear()


@pytest.mark.parametrize("expr", SHARING_NOTHING, ids=str)
def test_a_sum_sharing_nothing_is_its_own_answer_without_factor_terms(expr, fresh, monkeypatch):
    assert sp.factor_terms(expr) == expr         # what SymPy would say
    monkeypatch.setattr(terms.sp, "factor_terms", lambda e: pytest.fail(f"factor_terms asked of {e}"))
    assert common_product(expr) is expr


@pytest.mark.parametrize("expr, product", SHARING, ids=lambda e: str(e))
def test_a_sum_with_something_in_common_gives_factor_terms_answer(expr, product, fresh):
    assert str(sp.factor_terms(expr)) == product
    assert str(common_product(expr)) == product
    assert common_product(expr).is_Mul


@pytest.mark.parametrize("expr", [
    (A[0] - X[1]) * (G[0] - S[1]),                     # not a sum: factor_terms looks inside
    1 / (2 * A[0] * H[1] + 2 * A[0]),
    sp.tanh(2 * A[0] + 2 * X[1]),
    (1 - H[0]) * H[0] * G[1] - (2 * H[0] - 1) * S[2],    # a sum inside a term: asked
    sp.Float(1.0) - A[0],                              # a float: asked
    sp.exp(A[0]) - 1,                                  # a power of E (how exp reads as a power): asked
    sp.sqrt(2) * A[0] + G[1],                          # a power of a number: asked
], ids=str)
def test_anything_else_is_factor_terms_answer(expr, fresh):
    assert common_product(expr) == sp.factor_terms(expr)
