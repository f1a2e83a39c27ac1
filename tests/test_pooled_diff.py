"""pooled_diff gives exactly what sympy.diff gives, and remembered model scans follow the model."""
import sympy as sp

from symgrad import Model, exp, softmax, sum_squares, tanh
from symgrad.differentiate.pooled_diff import pooled_diff
from symgrad.differentiate.softmax_value import softmax_values
from symgrad.index.terms import dimension

N, M = dimension("N"), dimension("M")
a, b, c, k, l = sp.symbols("a7 a9 a3 a12 a2", integer=True)
H = sp.IndexedBase("H", shape=(N, M), real=True)
W = sp.IndexedBase("W", shape=(M, M), real=True)
Z = sp.IndexedBase("Z", shape=(2 * N, M), real=True)
t, d = sp.Symbol("t", real=True), sp.Symbol("d", real=True)


def _table_functions():
    from symgrad.model.functions import FUNCTIONS
    return FUNCTIONS["crelu"], FUNCTIONS["tanh"], FUNCTIONS["exp"]


def test_pooled_diff_matches_sympy_diff():
    crelu, th, ex = _table_functions()
    cases = [
        (H[a, c] * W[c, b], W[k, l]),                 # one reader: the entry
        (H[a, c] * W[c, b], H[k, l]),
        (3 * th(H[a, b]) * W[b, c], H[k, l]),         # a table function of the entry
        (crelu(Z[N + a, b], t) * W[b, c], Z[k, l]),   # an offset: KroneckerDelta decides
        (H[a, b] * H[a, c], H[k, l]),                 # two readers: a product for each
        (H[a, b] * H[a, c] * W[b, c], H[k, l]),
        (3 * th(H[a, b]) * H[a, c], H[k, l]),
        (H[a, b] ** 2 * H[b, c] / N, H[k, l]),
        (crelu(Z[N + a, b], t) * Z[a, b], Z[k, l]),
        (H[a, b] * (1 - H[a, c]), H[k, l]),           # a reader inside a sum
        (ex(-H[a, b] ** 2), H[k, l]),                 # a function of a power
        (sp.Mul(W[a, b], sp.Pow(sp.sqrt(H[a, c]), -1, evaluate=False), evaluate=False), H[k, l]),   # a power of a power
        (-(H[a, b] - Z[a, b]) * W[a, b] / N, Z[k, l]),
        (th(H[a, b] * W[b, c] + 2 * H[a, c]) * H[a, c], H[k, l]),
        (sp.log(H[a, b]) * H[a, c], H[k, l]),         # a function outside the table: SymPy on the pool
        (crelu(Z[N + a, b], Z[a, b]), Z[k, l]),       # a parameter reading the tensor: SymPy on the pool
        (H[a, b] ** 2 * W[b, c], H[k, l]),            # a power
        (H[a, b] ** 2 / (N * M), H[k, l]),            # a power and scalars
        (W[a, b] / sp.sqrt(H[a, c]), H[k, l]),         # a negative fractional power
        (H[a, b] ** N * W[b, c], H[k, l]),            # a power with a dimension for exponent
        (Z[N + a, b] ** 3 * W[b, c], Z[k, l]),        # a power of an entry at an offset
        (H[a, b] ** H[b, c], H[k, l]),                # the exponent reads the tensor too: SymPy
        (th(H[a, b] * W[b, c] + H[a, c]), H[k, l]),   # the entry inside a sum inside a function
        (sp.KroneckerDelta(a, c) * H[a, b], H[k, l]),
        (H[a, b] * d, d),                             # a scalar
        (W[a, b], H[k, l]),                           # another tensor: zero
        (H[a, a] * W[a, c], H[k, k]),
    ]
    for factor, wrt in cases:
        expected = sp.diff(factor, wrt)
        got = pooled_diff(factor, wrt)
        assert got == expected and str(got) == str(expected), (factor, wrt, got, expected)


def test_remembered_scan_follows_new_definitions():
    m = Model("scan_follows", "")
    n, w = m.dims("n w")
    X = m.constant("X", (n, w))
    Wp = m.parameter("W", (w, w))
    Z1 = m.define("Z1", X @ Wp)
    assert softmax_values(m) == []
    P = m.define("P", softmax(Z1, axis=1))
    found = softmax_values(m)
    assert [s.value for s in found] == ["P"] and found[0].axis == 1
    m.loss("Loss", sum_squares(P - exp(tanh(X))))
    assert [s.value for s in softmax_values(m)] == ["P"]
