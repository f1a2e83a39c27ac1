"""What ``symgrad check`` prints as ``correct:`` (NumPy code, from symgrad's own printer) can be
given back to it: ``np.sign``, ``np.ones((1, N))``, ``np.einsum(..., optimize=[...])``,
``.reshape(-1)`` and ``[None, :]`` are read, and nothing else on ``np`` is reachable."""
import pytest

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.formulas.tree import FormulaError
from symgrad.formulas.verdict import check_formula

FLAT = [name for name in catalogue.names() if catalogue.build(name).stack is None]


@pytest.mark.parametrize("name", FLAT)
def test_every_correct_formula_given_back_matches(name):
    model = catalogue.build(name)
    for parameter in derive(model).parameters:
        correct = check_formula(model, parameter, "0").correct
        assert check_formula(model, parameter, correct).match, (parameter, correct)


def test_numpy_spellings_of_the_table_and_of_a_contraction():
    model = catalogue.build("two_branch_crelu")
    right = "-2/L * C[:, :M].T * ((Delta * ((Z[:M] >= 0) & (Z[:M] <= t))) @ X1.T)"
    for formula in (right,
                    ("-2/L * np.transpose(C[:, :M]) * np.einsum('ic,jc->ij', Delta * crelu_mask(Z[:M], t), X1, "
                     "optimize=['einsum_path', (0, 1)])"),
                    ("-2/L * C[:, :M].reshape(-1)[:, None] * ((Delta * np.minimum(np.sign(Z[:M] + 1e-300) + 1, 1) "
                     "* ((Z[:M] <= t) * 1.0)) @ X1.T)")):
        assert check_formula(model, "A1", formula).match, formula
    assert not check_formula(model, "A1", f"np.exp(0) * np.pi / np.pi * 2 * {right}").match


@pytest.mark.parametrize("formula, message", [
    ("np.system('ls')", "np.system is not allowed"),
    ("np.einsum('ij->i', C, optimize=__import__('os'))", "optimize= takes True, False"),
    ("np.einsum(\"i'j->\", C)", "write letters, commas and an explicit -> output"),
    ("np.einsum('ij->ii', C)", "each output letter once"),
    ("np.einsum('ijk->i', C)", "operand 1 has 2 axes (shape (1, 8)), its subscripts 'ijk' name 3"),
    ("np.einsum('i->i', C, C)", "np.einsum subscripts 'i->i' name 1 operand(s), given 2 at column 11"),
    ("numpy.linalg.pinv(C)", "np.linalg.pinv is not allowed; known: np.linalg.inv, np.linalg.det"),
    ("np.linalg.inv.__class__", "attribute .__class__ is not allowed"),
    ("np.linalg(C)", "np.linalg is not allowed"),
    ("np.mean(C, axis=1)", "write mean(...) without np. for symgrad's own"),
    ("C.reshape(3, 4)", "only .reshape(-1) is allowed"),
    ("np.ones.__class__", "attribute .__class__ is not allowed"),
])
def test_anything_else_on_numpy_is_refused(formula, message):
    with pytest.raises(FormulaError) as error:
        check_formula(catalogue.build("two_branch_crelu"), "C", formula)
    assert message in str(error.value)


def test_numpy_forms_stay_out_of_index_notation():
    with pytest.raises(FormulaError, match="method .exp"):
        check_formula(catalogue.build("two_branch_crelu"), "C", "np.exp(C[0, i])", syntax="index", indices="i,j")


# the LaTeX matrix view as correct: prints it; what it cannot yet be read back from
LATEX_NOT_READ_BACK = {"two_branch_crelu": "row blocks A_{[a:b,:]} are not read",
                       "layer_norm": "an einsum's vector result is a row in NumPy ([None, :]); the view does not say"}


@pytest.mark.parametrize("name", [n for n in FLAT if n not in LATEX_NOT_READ_BACK])
def test_every_correct_latex_matrix_view_given_back_matches(name):
    """\\mathrm{margin} (a multi-letter name), \\operatorname{einsum}_{ac,bc\\to ab}(...),
    \\operatorname{sum}(...) and \\operatorname{sign} were 'unknown operator's: 55 of 75 failed."""
    model = catalogue.build(name)
    for parameter in derive(model).parameters:
        correct = check_formula(model, parameter, "0", syntax="latex").correct
        assert check_formula(model, parameter, correct, syntax="latex").match, (parameter, correct)


def test_latex_names_einsum_sum_and_pi():
    model = catalogue.build("logistic_regression")
    formula = r"- \frac{1}{N} \cdot X^{\top} \left(\left(1 - \sigma\left(\mathrm{margin}\right)\right) \odot y\right)"
    assert check_formula(model, "w", formula, syntax="latex").match
    einsum = (r"- \frac{1}{N} \cdot \operatorname{einsum}_{ci,c\to i}\left(X, \left(1 - \sigma\left(\mathrm{margin}"
              r"\right)\right) \odot y\right) \cdot \frac{\pi}{\pi}")
    assert check_formula(model, "w", einsum, syntax="latex").match
    total = r"- \frac{1}{N} \cdot \operatorname{sum}\left(\left(1 - \sigma\left(\mathrm{margin}\right)\right) \odot y\right)"
    assert check_formula(model, "b", total, syntax="latex").match
    with pytest.raises(FormulaError, match="unknown operator 'nosuch'"):
        check_formula(model, "w", r"\operatorname{nosuch}(X)", syntax="latex")
    with pytest.raises(FormulaError, match="einsum subscripts 'ci->ii'"):
        check_formula(model, "w", r"\operatorname{einsum}_{ci\to ii}(X)", syntax="latex")
