"""Sharper diagnoses: square transposes, factors with roots, intermediates, the correct form."""
import json

import pytest

from symgrad import Model, catalogue, sum_squares
from symgrad.model.sources import load
from symgrad.formulas.verdict import check_formula

from .error_cases_formulas import ATTENTION, check


@pytest.fixture(scope="module")
def attention(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "attention.py"
    path.write_text(ATTENTION)
    return load(str(path))


RIGHT_W = "2/n * Q.T @ scores @ K / sqrt(dk)"


def test_a_square_parameter_transposed_is_a_transpose(attention):
    assert check_formula(attention, "W", RIGHT_W).match
    verdict = check_formula(attention, "W", f"({RIGHT_W}).T")
    assert verdict.kind == "transpose", verdict.detail


def test_a_dropped_square_root_is_named(attention):
    verdict = check_formula(attention, "W", "2/n * Q.T @ scores @ K")
    assert (verdict.kind, verdict.factor) == ("scale", "sqrt(dk)")


MLP_W2 = "(-2/(n*o)) * H.T @ (Ystar - Y)"


@pytest.mark.parametrize("factor, named", [
    ("h", "h"), ("1/h", "1/h"), ("sqrt(p)", "sqrt(p)"), ("n*o", "n*o"), ("p**1.5", "p**(3/2)"),
    ("2*sqrt(o)/3", "2*sqrt(o)/3"), ("o**2/n", "o**2/n"), ("3", "3"), ("h/sqrt(n)", "h/sqrt(n)"),
    ("1/(n*o)", "1/(n*o)"), ("n**3", "n**3"),
])
def test_every_monomial_factor_is_named_as_it_is(factor, named):
    verdict = check_formula(catalogue.build("mlp_mse"), "W2", f"{factor} * {MLP_W2}")
    assert (verdict.kind, verdict.factor) == ("scale", named)


def test_a_factor_outside_the_monomials_is_not_misnamed():
    verdict = check_formula(catalogue.build("mlp_mse"), "W2", f"(n + 1) * {MLP_W2}")
    assert verdict.kind == "other" and verdict.factor is None


def seven_dimensions():
    """The seventh dimension is 9 in both checking sets: only the confirming set tells it from 9."""
    m = Model("seven", "a loss scaled by its seventh dimension")
    a, b, c, d, e, f, g = m.dims("a b c d e f g")
    X = m.constant("X", (a, g))
    w = m.parameter("w", (g, 1))
    m.loss("Loss", sum_squares(X @ w) / g)
    return m


def test_a_dimension_equal_in_both_sets_is_still_named():
    verdict = check_formula(seven_dimensions(), "w", "2 * X.T @ (X @ w)")
    assert (verdict.kind, verdict.factor) == ("scale", "g")
    verdict = check_formula(seven_dimensions(), "w", "18/g * X.T @ (X @ w)")
    assert (verdict.kind, verdict.factor) == ("scale", "9")


@pytest.mark.parametrize("wrt, formula", [
    ("Delta", "2/L * Delta"), ("Y", "-2/L * Delta"), ("H", "-2/L * C.T * Delta"),
    ("Z1", "-2/L * C[:, :M].T * Delta * ((Z1 >= 0) & (Z1 <= t))"),
])
def test_named_intermediates_are_checked_against_their_adjoints(wrt, formula):
    seed000 = catalogue.build("two_branch_crelu")
    assert check_formula(seed000, wrt, formula).match
    verdict = check_formula(seed000, wrt, formula.replace("/L", ""))
    assert (verdict.kind, verdict.factor) == ("scale", "L")


def test_an_intermediate_adjoint_agrees_with_the_parameter_gradients():
    mlp = catalogue.build("mlp_mse")
    assert check_formula(mlp, "Z1", "(-2/(n*o)) * (Z1 > 0) * ((Ystar - Y) @ W2.T)").match
    assert check_formula(mlp, "Y", "2/(n*o) * (Y - Ystar)").match


def test_intermediates_of_layers_and_the_loss_are_refused_clearly():
    code, _, err = check("ntk_relu", "--wrt", "X_prev", "--formula", "W.T")
    assert code == 2 and "is not a parameter of 'ntk_relu': a layer's named intermediates" in err
    code, _, err = check("two_branch_crelu", "--wrt", "Loss", "--formula", "1")
    assert code == 2 and "is the loss itself" in err
    code, _, err = check("two_branch_crelu", "--wrt", "Q", "--formula", "1")
    assert code == 2 and "is not a parameter of 'two_branch_crelu' nor a named intermediate" in err


@pytest.mark.parametrize("name", ["two_branch_crelu", "hw1_relu_mse", "hw1_sigmoid_bce"])
def test_the_correct_numpy_form_is_itself_a_match(name):
    model = catalogue.build(name)
    for parameter in model.parameter_names:
        verdict = check_formula(model, parameter, "0 * 1")
        assert verdict.correct != verdict.index_form and verdict.index_form.startswith(f"dLoss/d{parameter}")
        assert check_formula(model, parameter, verdict.correct).match, (parameter, verdict.correct)


def test_each_syntax_gets_its_own_correct_form_and_the_cli_prints_both():
    seed000 = catalogue.build("two_branch_crelu")
    numpy = check_formula(seed000, "C", "-2 * Delta @ H.T")
    assert numpy.correct == "(-2/L) * Delta @ H.T"
    latex = check_formula(seed000, "C", r"-2 \cdot \Delta \cdot H^\top", "latex")
    assert latex.correct == r"- \frac{2}{L} \cdot \Delta H^{\top}"
    index = check_formula(seed000, "C", "-2 * sum(c, Delta[0, c] * H[i, c])", "index", "i")
    assert index.correct == index.index_form == numpy.index_form
    code, out, _ = check("two_branch_crelu", "--wrt", "C", "--formula=-2 * Delta @ H.T")
    assert code == 1 and "  correct:    (-2/L) * Delta @ H.T\n" in out
    assert f"  index form: {numpy.index_form}\n" in out
    code, out, _ = check("two_branch_crelu", "--wrt", "C", "--formula=-2 * Delta @ H.T", "--json")
    data = json.loads(out)
    assert data["correct"] == numpy.correct and data["index_form"] == numpy.index_form
