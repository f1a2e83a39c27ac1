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
