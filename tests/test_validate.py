"""Validating hand-derived formulas: verdicts, diagnoses, the three syntaxes, safety."""
import json
import subprocess
import sys

import pytest

from symgrad import catalogue
from symgrad.formulas.tree import FormulaError
from symgrad.formulas.verdict import check_formula

from .conftest import ROOT

MASK1 = "((Z[:M] >= 0) & (Z[:M] <= t))"
RIGHT_A1 = f"-2/L * C[:, :M].T * ((Delta * {MASK1}) @ X1.T)"


@pytest.fixture(scope="module")
def seed000():
    return catalogue.build("two_branch_crelu")


@pytest.mark.parametrize("wrt, formula, kind, factor", [
    ("A1", RIGHT_A1, "match", None),
    ("A1", f"-2 * C[:, :M].T * ((Delta * {MASK1}) @ X1.T)", "scale", "L"),
    ("A1", f"2/L * C[:, :M].T * ((Delta * {MASK1}) @ X1.T)", "sign", "-1"),
    ("A1", f"-1/L * C[:, :M].T * ((Delta * {MASK1}) @ X1.T)", "scale", "1/2"),
    ("A1", f"({RIGHT_A1}).T", "transpose", None),
    ("A1", "-2/L * Delta @ H.T", "shape", None),
    ("C", "-2/L * Delta @ H.T", "match", None),
    ("d", "-2/L * Delta.sum()", "match", None),
    ("d", "-2/L * Delta @ ones(L)", "match", None),
    ("B1", f"-2/L * diag(C[:, :M]) @ ((Delta * {MASK1}) @ ones(L))", "match", None),
])
def test_numpy_syntax_verdicts(seed000, wrt, formula, kind, factor):
    verdict = check_formula(seed000, wrt, formula)
    assert (verdict.kind, verdict.factor) == (kind, factor), verdict.detail
    assert verdict.match == (kind == "match")


def test_block_diagnosis_names_the_columns(seed000):
    # columns M..2M-1 of dC doubled, columns 0..M-1 right
    block = "-2/L * Delta @ H.T * (1 + ones(1, M) @ diag(ones(2 * M))[M:])"
    verdict = check_formula(seed000, "C", block)
    assert verdict.kind == "block"
    assert "columns 0..M - 1 match, columns M..2*M - 1 do not match" in verdict.detail


def test_index_syntax_and_offsets(seed000):
    right = "-2/L * sum(c, Delta[0, c] * C[0, M + i] * X2[j, c] * crelu_mask(Z[M + i, c], t))"
    assert check_formula(seed000, "A2", right, "index", "i,j").match
    wrong_mask = "-2/L * sum(c, Delta[0, c] * C[0, M + i] * X2[j, c] * crelu_mask(Z[i, c], t))"
    verdict = check_formula(seed000, "A2", wrong_mask, "index", "i,j")
    assert verdict.kind == "other"
    assert "Z[i, *]" in verdict.detail and "Z[M + i, *]" in verdict.detail


def test_latex_index_and_matrix_forms_of_the_note(seed000):
    collapsed = r"-2 \cdot \sum_{c=1}^{L} \Delta_{c} C_{i} X_{1\,jc} 1_{0 \le Z_{ic} \le t}"
    verdict = check_formula(seed000, "A1", collapsed, "latex")
    assert (verdict.kind, verdict.factor) == ("scale", "L")
    boxed = r"-2 \cdot \operatorname{diag}(C^{(1)}) \cdot \left( ( \Delta \odot M^{(1)} ) \cdot X_1^\top \right)"
    symbols = {"C^{(1)}": "C[:, :M]", "M^{(1)}": MASK1}
    assert check_formula(seed000, "A1", boxed, "latex", symbols=symbols).factor == "L"
    with_lhs = r"(\frac{\partial Loss}{\partial A_1})_{ij} = -2/L \cdot \sum_{c=1}^L \Delta_{c} C_i X_{1 \: jc} 1_{0 \le Z_{ic} \le t}"
    assert check_formula(seed000, "A1", with_lhs, "latex").match


def test_scale_factors_are_named_in_the_dimensions():
    model = catalogue.build("mlp_mse")
    verdict = check_formula(model, "W2", "2 * H.T @ (Y - Ystar)")
    assert (verdict.kind, verdict.factor) == ("scale", "n*o")
    verdict = check_formula(model, "W2", "2/n * H.T @ (Y - Ystar)")
    assert (verdict.kind, verdict.factor) == ("scale", "o")


def test_list_parameters_pick_a_layer():
    model = catalogue.build("ntk_relu")
    # d/dW[0] at depth 2: grad_X_1 = sqrt(m) W_L^T (f - r) masked, times X^T, plus the regulariser
    verdict = check_formula(model, "W[1]", "m**0.5 * (f - r) @ X_prev.T + m * lam * (W - W0)", depth=2)
    assert verdict.match, verdict.detail


@pytest.mark.parametrize("formula, message", [
    ("__import__('os').system('touch PWNED')", "not allowed"),
    ("().__class__.__bases__", "not allowed"),
    ("(lambda: 1)()", "only functions of the table can be called"),
    ("[x for x in C]", "not allowed"),
    ("open('PWNED', 'w')", "unknown function 'open'"),
    ("C.__dict__", "not allowed"),
    ("C @@ 2", "syntax error"),
    ("nosuchname * 2", "unknown name 'nosuchname'"),
    ("relu(C, C)", r"relu\(x\) takes 1 argument"),
    ("'text'", "only numbers"),
])
def test_bad_formulas_are_rejected_and_nothing_runs(seed000, tmp_path, formula, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormulaError, match=message):
        check_formula(seed000, "A1", formula)
    assert not (tmp_path / "PWNED").exists()


def test_cli_exit_codes_and_json(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "symgrad", "check", "two_branch_crelu", *args],
                              capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    ok = run("--wrt", "A1", "--formula", RIGHT_A1, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["kind"] == "match"
    wrong = run("--wrt", "A1", "--formula", RIGHT_A1.replace("-2/L", "-2"))
    assert wrong.returncode == 1 and "MISMATCH (scale, factor L)" in wrong.stdout and "correct:" in wrong.stdout
    payload = run("--wrt", "A1", "--formula", "__import__('os').system('touch PWNED')")
    assert payload.returncode == 2 and "Traceback" not in payload.stderr
    assert not (tmp_path / "PWNED").exists()
    bad = run("--wrt", "Q", "--formula", "1")
    assert bad.returncode == 2 and "not a parameter" in bad.stderr


@pytest.mark.parametrize("wrt, formula, symbols, kind, factor", [
    # the note's whole chain of local partials, Kronecker deltas included (with its 1_{k>M} typo: 0)
    ("A1", r"\sum_{l=1}^L 2\Delta_{l} \sum_{s=1}^L - \delta_{ls} \sum_{m=1}^{2M}\sum_{n=1}^L C_m \delta_{sn} "
           r"\sum_{k=1}^{2M}\sum_{q=1}^L \delta_{mk} \delta_{nq} 1_{0 \le Z_{kq} \le t} \sum_{r=1}^M\sum_{c=1}^L "
           r"\delta_{kr} \delta_{qc} 1_{k \le M} \delta_{ri} X_{1 \: jc}", None, "scale", "L"),
    ("A1", r"\sum_{l=1}^L 2\Delta_{l} \sum_{s=1}^L - \delta_{ls} \sum_{m=1}^{2M}\sum_{n=1}^L C_m \delta_{sn} "
           r"\sum_{k=1}^{2M}\sum_{q=1}^L \delta_{mk} \delta_{nq} 1_{0 \le Z_{kq} \le t} \sum_{r=1}^M\sum_{c=1}^L "
           r"\delta_{kr} \delta_{qc} 1_{k>M} \delta_{ri} X_{1 \: jc}", None, "other", None),
    # an upper limit is used, not ignored: summing c only to M is wrong
    ("A1", r"-2 \cdot \sum_{c=1}^{M} \Delta_{c} C_{i} X_{1\,jc} 1_{0 \le Z_{ic} \le t}", None, "other", None),
    ("d", r"-\frac{2}{L} \sum_{s=1}^{L} \Delta_{s}", None, "match", None),
    ("C", r"-\frac{2}{L} \cdot \boldsymbol{\Delta} \cdot \mathbf{H}^\top", None, "match", None),
])
def test_latex_deltas_limits_and_typography(seed000, wrt, formula, symbols, kind, factor):
    verdict = check_formula(seed000, wrt, formula, "latex", "i,j" if wrt == "A1" else None, symbols=symbols)
    assert (verdict.kind, verdict.factor) == (kind, factor), verdict.detail


def test_latex_square_roots_stars_and_underscored_names():
    ntk = catalogue.build("ntk_relu")
    verdict = check_formula(ntk, "W[1]", r"\sqrt{m} (f - r) X_{prev}^\top + m \lambda (W - W_0)", "latex",
                            depth=2)
    assert verdict.match, verdict.detail
    mlp = catalogue.build("mlp_mse")
    verdict = check_formula(mlp, "W2", r"\frac{2}{n} H^T (Y - Y^*)", "latex")
    assert (verdict.kind, verdict.factor) == ("scale", "o")
    assert check_formula(mlp, "B2", "(2/n * (Y - Ystar)).sum(axis=0)").factor == "o"   # a 1-D vector
    hw1 = catalogue.build("hw1_sigmoid_mse")
    verdict = check_formula(hw1, "W2", r"2 \boldsymbol{z}^{(1)} (\hat{\boldsymbol{y}} - \boldsymbol{y})^T "
                            r"\odot 1", "latex")
    assert verdict.kind == "shape" and "transposed shape" in verdict.detail   # no sigmoid' in it
