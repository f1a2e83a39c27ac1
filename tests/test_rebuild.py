"""symgrad.index.rebuild builds exactly the nodes SymPy builds: ``replaced`` is ``xreplace``,
``sympy_mul``/``sympy_add``/``times`` are ``Mul``/``Add``/``*``, ``entry`` is ``Indexed`` and
``applied`` is a function's own constructor, compared node for node (types, arguments, an entry's
facts, a call's attributes) on every catalogue model's factors and on the cases where SymPy's
``flatten`` does more than sort."""
import random

import pytest
import sympy as sp

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.index.rebuild import applied, entry, replaced, sympy_add, sympy_mul, times
from symgrad.index.terms import atoms_of, dimension
from symgrad.model.functions import FUNCTIONS


def assert_same(made, expected):
    """The same tree: types, printed form and arguments at every node, an entry's facts and a
    call's instance attributes (``nargs``)."""
    assert type(made) is type(expected) and made == expected, (made, expected)
    assert sp.srepr(made) == sp.srepr(expected)
    if isinstance(made, sp.Indexed):     # the same answer to every fact either was asked
        facts = set(made._assumptions) | set(expected._assumptions)
        assert {f: getattr(made, f"is_{f}") for f in facts} == {f: getattr(expected, f"is_{f}") for f in facts}
    assert getattr(made, "__dict__", None) == getattr(expected, "__dict__", None)
    assert len(made.args) == len(expected.args)
    for a, b in zip(made.args, expected.args):
        assert_same(a, b)


def model_factors(name: str) -> list[sp.Expr]:
    """Every factor a derivation of ``name`` holds: definitions, local partials, adjoints."""
    whole = derive(catalogue.build(name))
    derivations = [p.derivation for p in whole.parts] if hasattr(whole, "parts") else [whole]
    exprs = [e for d in derivations for e in (*(x.expr for x in d.model.definitions.values()), *d.adjoints.values())]
    terms = [t for e in exprs for t in e.terms] + [t for d in derivations for p in d.partials for t in p.terms]
    return list(dict.fromkeys(t.factor for t in terms))


def renamings(factor, rng: random.Random):
    """Index renamings of the kinds the stages make: fresh names, merging indices (collapsing),
    an index set to 0 or an offset, a delta and an index replaced together."""
    indices = sorted((s for s in atoms_of(factor, sp.Symbol) if s.is_integer and not s.is_positive), key=str)
    deltas = sorted(atoms_of(factor, sp.KroneckerDelta), key=str)
    if not indices:
        return
    for _ in range(3):
        chosen = rng.sample(indices, rng.randint(1, len(indices)))
        yield {s: sp.Symbol(f"r{rng.randint(0, 10 ** 6)}", integer=True) for s in chosen}
        yield {s: rng.choice(indices) for s in chosen}
        yield {chosen[0]: rng.choice([sp.Integer(0), chosen[-1] + dimension("N")])}
    if deltas:
        yield {deltas[0]: sp.Integer(1), indices[0]: indices[-1]}


@pytest.mark.parametrize("name", catalogue.names())
def test_rebuild_gives_what_sympy_builds_on_every_catalogue_factor(name):
    rng = random.Random(name)
    for factor in model_factors(name):
        for mapping in renamings(factor, rng):
            assert_same(replaced(factor, mapping), factor.xreplace(mapping))
        args = list(sp.Mul.make_args(factor))
        for _ in range(2):
            part = [a for a in args if rng.random() < 0.6]
            assert_same(sympy_mul(part), sp.Mul(*part))
            rng.shuffle(part)
            assert_same(sympy_mul(part), sp.Mul(*part))
            if len(part) > 1:
                cut = rng.randint(1, len(part) - 1)
                left, right = sp.Mul(*part[:cut]), sp.Mul(*part[cut:])
                assert_same(times(left, right), left * right)
        terms = list(sp.Add.make_args(factor))
        if len(terms) > 1:
            rng.shuffle(terms)
            assert_same(sympy_add(terms), sp.Add(*terms))


N = dimension("N")
i, j, k = sp.symbols("i7 i8 i9", integer=True)
x, y = sp.symbols("x y", real=True)
A = sp.IndexedBase("A", shape=(N, N), real=True)
B = sp.IndexedBase("B", shape=(N, N))
tanh = FUNCTIONS["tanh"]


def test_products_where_flatten_does_more_than_sort():
    a, b = A[i, j], A[j, k]
    cases = [
        (2, a + b),                            # a number over a sum: distributed
        (2, a + b, b),                         # not with a third factor
        (a, 2),                                # the number not first
        (a, a),                                # equal bases gather
        (a, a ** 2), (a ** -1, a),
        (sp.exp(x), sp.exp(y)), (sp.exp(x), a),   # exp's base is E
        (sp.Mul(2, a + b, evaluate=False), b),    # a product among the arguments
        (sp.Integer(0), a), (sp.oo, a), (sp.S.One, a), (sp.nan, a),
        (sp.I, a), (sp.Float(1.5), a), (sp.Rational(1, 2), sp.sqrt(2), a),
        (sp.Pow(a, 2, evaluate=False), b), (2 ** x, a),
        (tanh(a), 1 - tanh(a) ** 2, 3),
        (), (a,), (a, 1, b), (1, 2, a), (2, 1, a + b), (sp.KroneckerDelta(i, i), a, sp.Integer(1)),
    ]
    for args in cases:
        args = tuple(sp.sympify(arg) for arg in args)
        assert_same(sympy_mul(args), sp.Mul(*args))
    for left, right in [(2, a + b), (a + b, sp.Rational(1, 3)), (2 * a, a + b), (sp.Integer(1), a),
                        (sp.Mul(2, a + b, evaluate=False), 3), (a * b, a), (-a, -b), (sp.Integer(0), a)]:
        left, right = sp.sympify(left), sp.sympify(right)
        assert_same(times(left, right), left * right)


def test_sums_where_flatten_does_more_than_sort():
    a, b = A[i, j], A[j, k]
    cases = [
        (a, a), (2 * a, a), (a, -a), (1, a, 2), (a, 1), (0, a), (sp.oo, a),
        (sp.Mul(2, a + b, evaluate=False), b), (sp.Mul(1, a, evaluate=False), b),
        (sp.Mul(2, a * b, evaluate=False), b),
        (3, 2 * a * b), (sp.Float(0.5), a), (sp.Pow(2, -1, evaluate=False), a), (a + b, a),
        (a, 0, b), (0, 2, a), (0, 0), (sp.Float(0.0), a),
    ]
    for args in cases:
        args = tuple(sp.sympify(arg) for arg in args)
        assert_same(sympy_add(args), sp.Add(*args))


def test_entries_and_calls_are_sympys_own():
    assert_same(entry(A, (i, 0)), sp.Indexed(A, i, 0))
    assert_same(entry(B, (i, j)), B[i, j])
    assert_same(entry(A, (i, j)), entry(A, (i, j)))
    # asking an entry a fact it does not know stores the answer in it, not in the others
    p, q = sp.symbols("p3 q3", integer=True)
    first, second = entry(A, (p, q)), entry(A, (q, p))
    assert "positive" not in first._assumptions and first.is_positive is None and "positive" in first._assumptions
    assert dict(second._assumptions) == dict(sp.Indexed(A, q, p)._assumptions)
    for function, args in [(sp.KroneckerDelta, (i, j)), (sp.KroneckerDelta, (j, i)), (sp.KroneckerDelta, (i, i)),
                           (sp.tanh, (A[i, j],)), (sp.tanh, (-A[i, j],)), (sp.tanh, (sp.Integer(0),)),
                           (tanh, (A[i, j],)), (tanh, (sp.Float(0.25),)), (sp.tanh, (x - y,))]:
        for _ in range(2):       # the first call learns the class's argument counts
            assert_same(applied(function, args), function(*args))
            assert_same(applied(function, args, evaluate=False), function(*args, evaluate=False))
    with sp.evaluate(False):
        assert_same(applied(sp.KroneckerDelta, (i, i)), sp.KroneckerDelta(i, i))
        a, b = A[i, j], A[j, k]
        assert_same(sympy_mul((b, 2, a)), sp.Mul(b, 2, a))
        assert_same(sympy_add((b, a)), sp.Add(b, a))
        assert_same(times(b, a), b * a)
