"""docs/errors.md is kept true: every row is run and its message checked."""
import re
import numpy as np
import pytest

from symgrad import Model, apply, catalogue
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.formulas.verdict import check_formula

from . import error_cases_files, error_cases_formulas, error_cases_models, error_cases_one_line
from .conftest import GENERATED, ROOT
from .error_support import cli, message_of

# Rows of docs/errors.md added by area each live in their own module's case(name, tmp_path),
# which returns None for a row it does not know.
AREA_CASES = (error_cases_files.case, error_cases_formulas.case, error_cases_models.case,
              error_cases_one_line.case)

ROWS = {m.group(1): m.group(2) for m in re.finditer(r"^\| ([a-z][a-z-]+) \|.*\| `?([^|`]+?)`? \|$",
                                                      (ROOT / "docs" / "errors.md").read_text(), re.M)
        if m.group(1) != "id"}


def seed000_inputs():
    model = catalogue.build("two_branch_crelu")
    module = import_generated(GENERATED / "two_branch_crelu.py")
    return model, module, sample_inputs(model, module, dimension_values(model), np.random.default_rng(0))


def case(name, tmp_path):
    for area_case in AREA_CASES:
        message = area_case(name, tmp_path)
        if message is not None:
            return message
    if name == "unknown-model":
        return cli(tmp_path, "generate", "nosuch")[1]
    if name == "missing-file":
        return cli(tmp_path, "generate", "missing.py")[1]
    if name == "syntax-error":
        (tmp_path / "bad.py").write_text("def build(:\n")
        return cli(tmp_path, "generate", "bad.py")[1]
    if name == "no-model":
        (tmp_path / "empty.py").write_text("x = 1\n")
        return cli(tmp_path, "generate", "empty.py")[1]
    m = Model("m")
    n, p, M, N, L = m.dims("n p M N L")
    if name == "shape-matmul":
        w, X = m.parameter("w", (p, 1)), m.constant("X", (n, p))
        return message_of(lambda: w @ X)
    if name == "shape-broadcast":
        A, B = m.parameter("A", (M, L)), m.parameter("B", (N, 1))
        return message_of(lambda: A + B)
    if name == "unknown-function":
        A = m.parameter("A", (M, L))
        return message_of(lambda: apply("gelu", A))
    if name == "index-range":
        A = m.parameter("A", (M, L))
        return message_of(lambda: m.define("Z", shape=(M, L), index=lambda i, j: A[i + M, j]))
    model, module, inputs = seed000_inputs()
    if name == "input-shape":
        return message_of(lambda: module.loss(**{**inputs, "C": np.zeros((1, 7))}))
    if name == "input-dtype":
        return message_of(lambda: module.loss(**{**inputs, "Yexp": np.full(inputs["Yexp"].shape, "a")}))
    if name == "input-list":
        deep = catalogue.build("ntk_relu")
        deep_module = import_generated(GENERATED / "ntk_relu.py")
        deep_inputs = sample_inputs(deep, deep_module, dimension_values(deep), np.random.default_rng(0), 3)
        return message_of(lambda: deep_module.loss(**{**deep_inputs, "W0": deep_inputs["W0"][:2]}))
    if name == "non-finite":
        bad = {**inputs, "X1": inputs["X1"].copy()}
        bad["X1"][0, 0] = np.nan
        with np.errstate(invalid="ignore"):
            value, grads = module.loss_and_grad(**bad)
        assert np.isnan(value) and np.isnan(grads["A1"]).any()
        return "documented behaviour: no error; NaN propagates to the loss and the gradients"
    formulas = {"formula-name": "nosuchname * 2", "formula-arity": "relu(C, C)", "formula-syntax": "C @@ 2",
                "formula-import": "__import__('os').system('touch PWNED')", "formula-attribute": "().__class__",
                "formula-lambda": "(lambda: 1)()", "formula-numpy": "np.system('touch PWNED')", "formula-comprehension": "[x for x in C]"}
    if name in formulas:
        code, message = cli(tmp_path, "check", "two_branch_crelu", "--wrt", "A1", "--formula", formulas[name])
        assert code == 2 and not (tmp_path / "PWNED").exists()
        return message
    if name == "wrt":
        return message_of(lambda: check_formula(model, "Q", "1"))
    if name == "overwrite":
        (tmp_path / "two_branch_crelu.py").write_text("# mine\n")
        return cli(tmp_path, "generate", "two_branch_crelu", "-o", ".")[1]
    usage = {"usage-unknown-option": ("verify", "two_branch_crelu", "--bogus"),
             "usage-missing": ("check", "two_branch_crelu"),
             "usage-choice": ("latex", "two_branch_crelu", "--format", "doc"),
             "points-zero": ("verify", "two_branch_crelu", "--points", "0"),
             "points-not-integer": ("verify", "two_branch_crelu", "--points", "2.5")}
    if name in usage:
        code, message = cli(tmp_path, *usage[name])
        assert code == 2 and len(message.splitlines()) == 1 and "usage:" not in message, message
        return message
    if name == "no-pdflatex":
        return cli(tmp_path, "latex", "two_branch_crelu", "--format", "pdf")[1]
    raise AssertionError(f"docs/errors.md row {name!r} has no test")


def test_the_table_has_its_rows():
    assert len(ROWS) >= 20


@pytest.mark.parametrize("name", sorted(ROWS))
def test_each_row_gets_its_message(name, tmp_path):
    assert ROWS[name] in case(name, tmp_path)
