"""``symgrad check`` reads every function a loss may call: one table (``model/callables.py``), whose
NumPy values must mean what the DSL builds, in NumPy, index and LaTeX syntax, with diagnoses."""
import numpy as np
import pytest

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.formulas.evaluate import evaluate_matrix
from symgrad.formulas.python_syntax import CALLABLE, parse_python
from symgrad.formulas.tree import FormulaError
from symgrad.formulas.verdict import _module, check_formula
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.model.callables import FORMULA_ONLY, FUNCTIONS, LOSS_FUNCTIONS
from symgrad.model.one_line import OneLineLoss, dsl_functions

from .error_cases_formulas import check

# one call of each function a loss may call, on X (n, c), A (n, n) and a scalar t; n != c
CALLS = {
    "abs": "abs(X)", "crelu": "crelu(X, t)", "exp": "exp(X)", "log": "log(X * X + 1)", "relu": "relu(X)",
    "maximum": "maximum(X, t)", "minimum": "minimum(X, A @ X / 7) + minimum(mean(X, 0), X)", "sigmoid": "sigmoid(X)",
    "softplus": "softplus(X)", "sqrt": "sqrt(X * X + 1)", "tanh": "tanh(X)",
    "sum": "sum(X, axis=0) @ X.T", "mean": "mean(X, 1) * X", "sum_squares": "sum_squares(X)",
    "logsumexp": "logsumexp(X, axis=-1) * X + logsumexp(X)", "softmax": "softmax(X, axis=0)",
    "log_softmax": "log_softmax(X, 1)", "amax": "amax(X, axis=1) * X", "amin": "amin(X, 0) + X",
    "concat_rows": "concat_rows(X, A @ X)", "concat_cols": "concat_cols(X, A)", "ones": "ones(n, c) * X",
    "trace": "trace(A) * X", "diagonal": "diagonal(A) * X", "inv": "inv(A) @ X", "det": "det(A) * X",
    "logdet": "logdet(A) * X",
}
SHAPES = {"params": ("X=n,c", "A=n,n", "t=")}


def test_the_formula_reader_and_the_loss_reader_share_one_table():
    assert set(dsl_functions()) == LOSS_FUNCTIONS and CALLABLE == set(FUNCTIONS)
    assert LOSS_FUNCTIONS <= CALLABLE and {"step", "crelu_mask", "diag"} <= FORMULA_ONLY
    assert set(CALLS) == LOSS_FUNCTIONS, "give each new function of the table a call here"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_functions_value_in_a_formula_is_what_the_loss_builds(name):
    """The generated loss ``sum_squares(CALL)`` at a random point against the formula's value of
    the same text: the DSL's build and the table's NumPy value agree (shapes and axes included)."""
    text = f"sum_squares({CALLS[name]})"
    model = OneLineLoss(text, **SHAPES).build()
    module = _module(model, derive(model))
    rng = np.random.default_rng(3)
    for which in (0, 1):
        dims = dimension_values(model, which)
        inputs = sample_inputs(model, module, dims, rng)
        loss, _ = module.loss_and_grad(**inputs)
        value = evaluate_matrix(parse_python(text), {**inputs, **dims})
        assert np.isclose(float(loss), float(value), rtol=1e-10), (name, which)


def test_the_values_agree_with_numpy_and_scipy_conventions():
    x = np.random.default_rng(0).normal(size=(3, 4))
    env = {"x": x, "a": x[:, :3]}
    value = lambda text: evaluate_matrix(parse_python(text, numpy_forms=True), env)   # noqa: E731
    top = x.max()
    assert np.isclose(value("logsumexp(x)"), top + np.log(np.exp(x - top).sum()))
    assert value("logsumexp(x, axis=1)").shape == (3, 1)
    assert np.allclose(value("softmax(x, axis=1)").sum(axis=1), 1.0)
    assert np.allclose(value("inv(a) @ a"), np.eye(3)) and np.allclose(value("np.linalg.inv(a)"), np.linalg.inv(x[:, :3]))
    assert np.isclose(value("logdet(a)"), np.log(abs(np.linalg.det(x[:, :3]))))
    assert value("diagonal(a)").shape == (3, 1) and value("np.trace(a)") == value("trace(a)")


ATTENTION_G = "(O - T) @ V.T"
SOFTMAX_VJP = f"softmax(S, axis=1) * ({ATTENTION_G} - (({ATTENTION_G}) * softmax(S, axis=1)).sum(axis=1, keepdims=True))"


@pytest.mark.parametrize("wrt, formula, kind, factor", [
    ("S", SOFTMAX_VJP, "match", None),
    ("S", f"softmax(S, axis=1) * (1 - softmax(S, axis=1)) * ({ATTENTION_G})", "other", None),   # off-diagonal dropped
    ("S", f"softmax(S, axis=1) * ({ATTENTION_G})", "other", None),
    ("S", f"softmax(S, -1) * ({ATTENTION_G} - (({ATTENTION_G}) * P).sum(axis=1, keepdims=True))", "match", None),
    ("Wq", f"X.T @ (({SOFTMAX_VJP}) @ K) / sqrt(dk)", "match", None),
    ("Wq", f"X.T @ (({SOFTMAX_VJP}) @ K)", "scale", "sqrt(dk)"),
    ("Wq", f"-X.T @ (({SOFTMAX_VJP}) @ K) / sqrt(dk)", "sign", "-1"),
])
def test_softmax_gradients_are_diagnosed(wrt, formula, kind, factor):
    verdict = check_formula(catalogue.build("self_attention"), wrt, formula)
    assert (verdict.kind, verdict.factor) == (kind, factor), verdict.detail


SOFTMAX_REGRESSION = OneLineLoss("sum(logsumexp(X @ W, axis=1)) - sum(Y * (X @ W))", params=("W=d,k",),
                                 consts=("X=n,d", "Y=n,k"))


@pytest.mark.parametrize("model, wrt, formula, call", [
    (SOFTMAX_REGRESSION.build(), "W", "X.T @ (softmax(X @ W, axis=0) - Y)", "softmax(..., axis=0) at column 8"),
    (SOFTMAX_REGRESSION.build(), "W", "X.T @ (softmax(X @ W, 0) - Y)", "softmax(..., 0) at column 8"),
    (SOFTMAX_REGRESSION.build(), "W", "X.T @ (exp(X @ W - logsumexp(X @ W, axis=-2)) - Y)",
     "logsumexp(..., axis=-2) at column 20"),
    (catalogue.build("self_attention"), "S", SOFTMAX_VJP.replace("sum(axis=1", "sum(axis=0"),
     ".sum(..., axis=0) at column 39"),
])
def test_a_reduction_along_the_wrong_axis_is_named(model, wrt, formula, call):
    verdict = check_formula(model, wrt, formula)
    assert verdict.kind == "axis", verdict.detail
    assert verdict.detail.startswith(f"{call} runs along the wrong axis"), verdict.detail
    assert check_formula(model, wrt, formula.replace("axis=0", "axis=1").replace("W, 0)", "W, 1)")
                         .replace("axis=-2", "axis=-1")).match


LAYER_NORM_AS_BATCH_NORM = ("(1 / D) / std * (D * dxhat - dxhat.sum(axis=0, keepdims=True)"
                            " - xhat * (dxhat * xhat).sum(axis=0, keepdims=True))")


def test_reductions_all_along_the_wrong_axis_are_named_together():
    """Batch norm's closed form pasted for layer norm: both sums run over the batch and neither alone
    moved matches; both together do, and with one already right the other is named alone."""
    model, symbols = catalogue.build("layer_norm"), {"dxhat": "(Y - T) * gamma"}
    verdict = check_formula(model, "X", LAYER_NORM_AS_BATCH_NORM, symbols=symbols)
    assert verdict.kind == "axis", verdict.detail
    assert verdict.detail.startswith("every reduction along axis 0 (.sum(..., axis=0) at columns 30, 72) runs "
                                     "along the wrong axis: with axis=1"), verdict.detail
    assert check_formula(model, "X", LAYER_NORM_AS_BATCH_NORM.replace("axis=0", "axis=1"), symbols=symbols).match
    one_moved = LAYER_NORM_AS_BATCH_NORM.replace("axis=0", "axis=1", 1)
    assert check_formula(model, "X", one_moved, symbols=symbols).detail.startswith(
        ".sum(..., axis=0) at column 72 runs along the wrong axis")


def test_numpys_reduction_methods_read_as_numpy_computes_them():
    """Layer norm's closed form with ``.mean(1, keepdims=True)`` matches; ``.mean(axis=0)`` is named."""
    model, symbols = catalogue.build("layer_norm"), {"dxhat": "(Y - T) * gamma"}
    right = "(dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std"
    assert check_formula(model, "X", right, symbols=symbols).match
    verdict = check_formula(model, "X", right.replace("mean(1,", "mean(0,"), symbols=symbols)
    assert verdict.detail.startswith(".mean(..., axis=0) at column 10 runs along the wrong axis"), verdict.detail
    assert not check_formula(model, "X", right.replace(".mean(1, keepdims=True)", ".max(1, keepdims=True)"),
                             symbols=symbols).match


def test_a_formula_wrong_beyond_its_axis_is_not_called_an_axis_slip():
    """Moving the axis fixes the softmax but not the dropped ``- Y``: no single move matches."""
    verdict = check_formula(SOFTMAX_REGRESSION.build(), "W", "X.T @ softmax(X @ W, axis=0)")
    assert verdict.kind == "other", verdict.detail


TRACE_INV = OneLineLoss("trace(inv(A) @ B)", params=("A=n,n",), consts=("B=n,n",))
RIGHT_INV = "-inv(A).T @ B.T @ inv(A).T"


@pytest.mark.parametrize("syntax, formula, kind", [
    ("numpy", RIGHT_INV, "match"),
    ("numpy", "-np.linalg.inv(A).T @ B.T @ np.linalg.inv(A).T", "match"),
    ("numpy", "-inv(A) @ B @ inv(A)", "transpose"),
    ("numpy", "inv(A).T @ B.T @ inv(A).T", "sign"),
    ("numpy", "-inv(A).T @ inv(A).T", "other"),
    ("index", "-sum(k, sum(l, inv(A)[k, i] * B[l, k] * inv(A)[j, l]))", "match"),
    ("index", "-sum(k, sum(l, inv(A)[i, k] * B[k, l] * inv(A)[l, j]))", "transpose"),
    ("latex", r"-A^{-\top} B^\top A^{-\top}", "match"),
    ("latex", r"-\left(A^{-1} B A^{-1}\right)^\top", "match"),
    ("latex", r"-A^{-1} B A^{-1}", "transpose"),
    ("latex", r"\left(\frac{\partial L}{\partial A}\right)_{ij} = -\sum_{k=1}^{n} \sum_{l=1}^{n} "
              r"\left(A^{-1}\right)_{ki} B_{lk} \left(A^{-1}\right)_{jl}", "match"),
])
def test_inverse_gradients_in_every_syntax(syntax, formula, kind):
    verdict = check_formula(TRACE_INV.build(), "A", formula, syntax, "i,j" if syntax == "index" else None)
    assert verdict.kind == kind, verdict.detail


@pytest.mark.parametrize("loss, formula, syntax", [
    ("det(A)", "det(A) * inv(A).T", "numpy"),
    ("det(A)", r"\det A \cdot A^{-\top}", "latex"),
    ("logdet(A)", r"A^{-\top}", "latex"),
    ("trace(A @ A)", r"2 \operatorname{tr}\left(A\right) A^\top / \operatorname{trace}(A)", "latex"),
    ("trace(A) * sum(A)", "trace(A) + sum(k, sum(l, A[k, l])) * (i == j)", "index"),
])
def test_matrix_functions_read_in_each_syntax(loss, formula, syntax):
    model = OneLineLoss(loss, params=("A=n,n",)).build()
    assert check_formula(model, "A", formula, syntax, "i,j" if syntax == "index" else None).match


def test_logsumexp_without_an_axis_is_the_whole_sum():
    """``logsumexp(x)`` as scipy writes it: every entry, for a column, a row and a matrix."""
    for loss, formula in (("logsumexp(X @ w)", "X.T @ softmax(X @ w, axis=0)"),
                          ("logsumexp(w.T @ X.T)", "X.T @ softmax(X @ w, 0)"),
                          ("logsumexp(X @ w @ v.T)", "X.T @ exp(X @ w @ v.T - logsumexp(X @ w @ v.T)) @ v")):
        model = OneLineLoss(loss, params=("w=d,1",), consts=("X=n,d", "v=m,1")).build()
        assert check_formula(model, "w", formula).match, loss
    assert check_formula(OneLineLoss("logsumexp(t) + t", params=("t=",)).build(), "t", "2").match


def test_a_parameter_the_loss_does_not_depend_on_has_gradient_zero():
    model = OneLineLoss("sum(t * A) / t", params=("t=",), consts=("A=n,n",)).build()
    with pytest.warns(Warning, match="does not affect"):
        assert check_formula(model, "t", "0").match
        assert check_formula(model, "t", "1").kind == "other"


@pytest.mark.parametrize("args, message", [
    (("--formula", "softmax(S)"), "softmax(x, axis) takes 2 arguments, got 1"),
    (("--formula", "softmax(S, axis=2)"), "operation 'softmax(axis=2)': needs a matrix and axis 0 or 1"),
    (("--formula", "softmax(S, axis=1, keepdims=False)"), "softmax(keepdims=False) is not available"),
    (("--formula", "trace(S, axis=0)"), "trace(...) takes no keywords"),
    (("--formula", "inv(X)"), "operation 'inv': needs a square matrix, got shape (3, 4)"),
    (("--formula", "np.mean(S, axis=1)"), "write mean(...) without np. for symgrad's own"),
    (("--formula", "concat_rows(S)"), "operation 'concat_rows': needs at least two tensors"),
    (("--formula", "inv(S) @ S", "--syntax", "index", "--indices", "i,j"), "'@' is matrix notation"),
    (("--formula", "inv(Q.T @ Q) * S[i, j]", "--syntax", "index", "--indices", "i,j"),
     "inv(...) is a matrix of shape (5, 5) here: write its entries, e.g. inv(...)[i, j]"),
    (("--formula", "S[i, j] * softmax(S[i, j], axis=1)", "--syntax", "index", "--indices", "i,j"),
     "unknown name 'i'"),
    (("--formula", r"\operatorname{softmax}(S)", "--syntax", "latex"), "softmax(x, axis) takes 2 arguments"),
    (("--formula", r"\operatorname{nosuch}(S)", "--syntax", "latex"), "unknown operator 'nosuch'"),
])
def test_a_call_that_does_not_fit_is_one_line(args, message):
    code, _, err = check("self_attention", "--wrt", "S", *args)
    assert code == 2 and "\n" not in err and message in err, err
