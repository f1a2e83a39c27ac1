"""One pool of display index names, for the text formulas (CLI, code comments) and the documents' LaTeX."""
import sympy as sp

from symgrad.documents.derivation import _IndexPrinter, _namer, index_latex
from symgrad.index.terms import IndexExpr, Term
from symgrad.index.text import BOUND_NAMES, FREE_NAMES, formula_text, index_name


def test_each_kind_takes_its_own_letters_first_and_skips_the_models_names():
    assert index_name("free", set(), set()) == "i"
    assert index_name("free", {"i"}, {"j"}) == "p"
    assert index_name("bound", {"i", "j"}, {"c", "l"}) == "k"


def test_past_its_own_letters_a_kind_takes_the_others_then_numbered_ones():
    everything_free = set(FREE_NAMES)
    assert index_name("free", everything_free, set()) == BOUND_NAMES[0]
    assert index_name("bound", set(BOUND_NAMES), set()) == FREE_NAMES[0]
    used = set(FREE_NAMES) | set(BOUND_NAMES)
    assert index_name("bound", used, set()) == f"c{len(used)}"
    assert index_name("free", used, set()) == f"i{len(used)}"
    assert index_name("bound", used, {f"c{len(used)}"}) == f"c{len(used) + 1}"   # never a model's name
    assert index_name("bound", used - {"c"}, {"c"}) == f"k{len(used) - 1}"        # c is the model's


def _sum_over(count: int) -> IndexExpr:
    """x[i] = sum over ``count`` summed indices of a product: more summed indices than letters."""
    x = sp.IndexedBase("x")
    bound = tuple((sp.Symbol(f"a{k}", integer=True), sp.Integer(0), sp.Integer(4)) for k in range(count))
    i = sp.Symbol("i0", integer=True)
    return IndexExpr((i,), (Term(sp.Mul(*(x[s] for s, _, _ in bound)) * x[i], bound),))


def test_text_and_latex_name_the_same_indices_alike():
    expr = _sum_over(3)
    assert formula_text("y", expr, {"x", "k"}) == "y[i] = sum_{c,l,m} x[c]*x[i]*x[l]*x[m]"
    table, name = _namer({"x", "k"})
    name(expr.indices[0])
    latex = index_latex(expr, _IndexPrinter({}, table, name))
    assert latex == r"\sum_{c,l,m} x_{c} \allowbreak x_{l} \allowbreak x_{m} \allowbreak x_{i}"


def test_numbered_names_are_text_in_formulas_and_subscripts_in_latex():
    many = len(FREE_NAMES) + len(BOUND_NAMES)
    expr = _sum_over(many)
    text = formula_text("y", expr, set())
    body = text.split("=", 1)[1]
    assert all(f"x[{letter}]" in body for letter in BOUND_NAMES + FREE_NAMES)   # every letter, then
    assert f"x[c{many}]" in body                                                # one numbered
    table, name = _namer(set())
    name(expr.indices[0])
    latex = index_latex(expr, _IndexPrinter({}, table, name))
    assert f"x_{{c_{{{many}}}}}" in latex


def test_a_formulas_text_does_not_depend_on_what_was_printed_before_it():
    """The remembering printer once kept a Float's text from wherever it was first printed: a
    lone Float prints at full precision, so a later ``1.0*reg`` came out ``1.00000000000000*reg``
    (a generated comment that changed with the order the models were generated in)."""
    reg, x, i = sp.Symbol("reg"), sp.IndexedBase("x"), sp.Symbol("i0", integer=True)
    one = sp.Float(1.0)
    scaled = IndexExpr((i,), (Term(one * reg * x[i], ()),))
    alone = IndexExpr((i,), (Term(one, ()),))
    assert formula_text("s", alone, set()) == "s[i] = 1.0"
    assert formula_text("y", scaled, set()) == "y[i] = 1.0*reg * x[i]"


def _mixed_term() -> IndexExpr:
    """A gradient-like formula: numbers, a dimension and a scalar in front, entries whose order
    changes with the display names, a function of an entry, a condition and two summed indices."""
    L, M = sp.Symbol("L", positive=True, integer=True), sp.Symbol("M", positive=True, integer=True)
    reg, t = sp.Symbol("reg", real=True), sp.Symbol("t", real=True)
    W, Z, X, Y = (sp.IndexedBase(n, real=True) for n in ("W", "Z", "X", "Y"))
    i, j = sp.Symbol("i7", integer=True), sp.Symbol("i8", integer=True)
    a, b = sp.Symbol("a41", integer=True), sp.Symbol("a3", integer=True)
    factor = -2 * reg / L * W[a, i] * X[j, b] * Y[b] * Y[a] * sp.tanh(Z[M + a, b] * t) ** 2   # Y[a3]*Y[a41]
    bound = ((a, sp.Integer(0), M - 1), (b, sp.Integer(0), L - 1))
    return IndexExpr((i, j), (Term(factor, bound, ((M + a, M, 2 * M - 1),)), Term(reg * X[j, i] / L)))


def test_a_comment_renames_only_the_factors_that_read_an_index(monkeypatch):
    from symgrad.index import text
    asked = []
    real = text.replaced
    monkeypatch.setattr(text, "replaced", lambda expr, names: asked.append(expr) or real(expr, names))
    shown = formula_text("grad_W", _mixed_term(), {"W", "Z", "X", "Y", "L", "M", "reg", "t"})
    assert shown == ("grad_W[i, j] = -2*reg/L * sum_{c,k} [M <= M + c <= 2*M - 1]*tanh(t*Z[M + c, k])**2"
                     "*W[c, i]*X[j, k]*Y[c]*Y[k] + reg/L * X[j, i]")
    reg, L = sp.Symbol("reg", real=True), sp.Symbol("L", positive=True, integer=True)
    assert asked and all(text.index_symbols(expr) and not expr.has(reg, L) for expr in asked)
