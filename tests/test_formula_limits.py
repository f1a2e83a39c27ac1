"""Formulas beyond symgrad check's limits are refused in one line, before any work is done."""
import numpy as np
import pytest

from symgrad import catalogue
from symgrad.gradcheck import _draw, dimension_values
from symgrad.formulas.evaluate import evaluate_matrix
from symgrad.formulas.latex_syntax import parse_latex
from symgrad.formulas.limits import MAX_ENTRIES, MAX_LAYERS, MAX_NESTING
from symgrad.formulas.python_syntax import parse_python
from symgrad.formulas.tree import FormulaError
from symgrad.formulas.verdict import check_formula

from .error_cases_formulas import check


@pytest.fixture(scope="module")
def seed000():
    return catalogue.build("two_branch_crelu")


@pytest.mark.parametrize("formula, syntax, message", [
    ("C[0, 1e999]", "numpy", "number 1e999 is too large for a float at column 6"),
    ("C[0, 0/0]", "numpy", "an index must be a whole number, got nan at column 6"),
    ("1" * 400, "numpy", "integer literal of 400 digits"),
    ("ones(-5, 3)", "numpy", "a size must not be negative, got -5"),
    ("C[0, 10**20]", "index", "index 100000000000000000000 is past axis 1 of size 8 at column 6"),
    ("C[0, 8] * X1[j, 0] * A1[i, j]", "index", "C: index 8 is past axis 1 of size 8"),
    ("-" * 2000 + "C", "latex", f"nested too deeply (the limit is {MAX_NESTING} levels) at column 201"),
    ("+".join(["C"] * 5000), "latex", "formula of 9,999 characters; the limit is 4,000"),
    ("+".join(["C"] * 1000), "latex", "nested too deeply"),
    ("+".join(["C"] * 1000), "numpy", "nested too deeply"),
    ("-" * 2000 + "C", "numpy", "nested too deeply"),
    ("ones(100000, 100000)", "numpy", "would make an array of 10,000,000,000 entries at column 1; the limit is"),
    ("diag(ones(100000))", "numpy", "diag of a vector of 100,000 entries would make an array of 10,000,000,000"),
    ("ones(3000, 3000) @ ones(3000, 3000) @ ones(3000, 3000) @ ones(3000, 1)", "numpy",
     "costs 27,000,000,000 at column 1; the limit is 100,000,000 per evaluation"),
])
def test_bad_input_is_a_formula_error_with_its_place(seed000, formula, syntax, message):
    indices = "i,j" if syntax == "index" else None
    with pytest.raises(FormulaError) as caught:
        check_formula(seed000, "A1", formula, syntax, indices)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_size_and_cost_are_refused_before_the_work(monkeypatch):
    """The refusal comes from the shapes alone: nothing large is allocated or multiplied."""
    def refuse(*args, **kwargs):
        raise AssertionError("allocated")
    monkeypatch.setattr(np, "ones", refuse)
    with pytest.raises(FormulaError, match="would make an array"):
        evaluate_matrix(parse_python("ones(100000, 100000)"), {})
    big = np.lib.stride_tricks.as_strided(np.zeros(1), (3000, 3000), (0, 0))   # no memory behind it
    monkeypatch.setattr(np, "matmul", refuse)
    with pytest.raises(FormulaError, match="floating-point operations"):
        evaluate_matrix(parse_python("B @ B"), {"B": big})


def test_the_limits_are_generous_for_gradient_formulas():
    assert evaluate_matrix(parse_python("ones(1000, 1000).sum()"), {}) == 1e6
    entries = int(np.sqrt(MAX_ENTRIES))
    assert evaluate_matrix(parse_python(f"diag(ones({entries}))[0, 0]"), {}) == 1.0
    deep = "(" * 150 + "C" + ")" * 150
    parse_python(deep)
    parse_latex(deep, {"C"})
    parse_latex("+".join(["C"] * 190), {"C"})


def test_the_cost_is_counted_over_the_whole_formula():
    big = "ones(1000, 1000)"
    with pytest.raises(FormulaError, match="bringing the total to"):
        evaluate_matrix(parse_python(" + ".join([big] * 60)), {})


@pytest.mark.parametrize("depth", [0, -3])
def test_depth_below_one_is_refused(depth):
    code, _, err = check("ntk_relu", "--wrt", "W[0]", "--depth", str(depth), "--formula", "1")
    assert code == 2 and f"--depth {depth}: the number of layers must be a whole number, 1 or more" in err


def test_depth_beyond_the_limit_and_without_layers_are_refused():
    code, _, err = check("ntk_relu", "--wrt", "W[0]", "--depth", str(MAX_LAYERS + 1), "--formula", "1")
    assert code == 2 and f"at most {MAX_LAYERS} layers" in err
    code, _, err = check("two_branch_crelu", "--wrt", "A1", "--depth", "2", "--formula", "1")
    assert code == 2 and "has no layers" in err


OUTPUT_LAYER = {"ntk_relu": ("W", "m**0.5 * (f - r) @ X_prev.T + m * lam * (W - W0)"),
                "softmax_ce": ("Theta", "1/M * (exp(log_p) - Y).T @ a_prev")}


@pytest.mark.parametrize("name", sorted(OUTPUT_LAYER))
@pytest.mark.parametrize("depth", [6, 8, 9, 12, 20, MAX_LAYERS])
def test_every_depth_can_be_checked(name, depth):
    parameter, formula = OUTPUT_LAYER[name]
    verdict = check_formula(catalogue.build(name), f"{parameter}[{depth - 1}]", formula, depth=depth)
    assert verdict.match, verdict.detail
    assert check_formula(catalogue.build(name), f"{parameter}[0]", "1", depth=depth).kind == "shape"


def test_widths_stay_distinct_and_unchanged_up_to_depth_five():
    model = catalogue.build("ntk_relu")
    dims = dimension_values(model, 0)
    shallow = [np.shape(w) for w in _draw(model, dims, np.random.default_rng(0), 5)["W"]]
    assert shallow == [(5, 3), (7, 5), (6, 7), (8, 6), (1, 8)]
    deep = [np.shape(w) for w in _draw(model, dims, np.random.default_rng(0), MAX_LAYERS)["W"]]
    widths = [shape[0] for shape in deep[:-1]]
    assert deep[:4] == shallow[:4] and len(set(widths)) == len(widths)
    assert not set(widths) & set(dims.values())
