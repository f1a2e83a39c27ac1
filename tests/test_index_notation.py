"""Definitions written directly in index notation give the same gradients as the DSL."""
import numpy as np
import sympy as sp

from symgrad import Model, catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.gradcheck import check_module, dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.emit.module_plan import plan_module
from symgrad.emit.files import render_module, write_atomic
from symgrad.model.functions import FUNCTIONS

from .conftest import GENERATED


def seed000_in_index_notation() -> Model:
    m = Model("two_branch_crelu_index")
    N, M, L = m.dims("N M L")
    X1, X2 = m.constant("X1", (N, L)), m.constant("X2", (N, L))
    Yexp, t = m.constant("Yexp", (1, L)), m.constant("t")
    A1, A2 = m.parameter("A1", (M, N)), m.parameter("A2", (M, N))
    B1, B2 = m.parameter("B1", (M, 1)), m.parameter("B2", (M, 1))
    C, d = m.parameter("C", (1, 2 * M)), m.parameter("d")
    n, r, k = sp.symbols("n r k", integer=True)
    m.define("Z1", shape=(M, L), index=lambda i, j: sp.Sum(A1[i, n] * X1[n, j], (n, 0, N - 1)) + B1[i, 0])
    m.define("Z2", shape=(M, L), index=lambda i, j: sp.Sum(A2[i, n] * X2[n, j], (n, 0, N - 1)) + B2[i, 0])
    Z1, Z2 = m.tensors["Z1"], m.tensors["Z2"]
    m.define("Z", shape=(2 * M, L), index=lambda i, j:
             sp.Sum(sp.KroneckerDelta(i, r) * Z1[r, j], (r, 0, M - 1))
             + sp.Sum(sp.KroneckerDelta(i, M + r) * Z2[r, j], (r, 0, M - 1)))
    Z = m.tensors["Z"]
    m.define("H", shape=(2 * M, L), index=lambda i, j: FUNCTIONS["crelu"](Z[i, j], t[()]))
    H = m.tensors["H"]
    m.define("Y", shape=(1, L), index=lambda _, j: sp.Sum(C[0, k] * H[k, j], (k, 0, 2 * M - 1)) + d[()])
    Y = m.tensors["Y"]
    m.define("Delta", shape=(1, L), index=lambda _, j: Yexp[0, j] - Y[0, j])
    Delta = m.tensors["Delta"]
    m.loss("Loss", index=lambda: sp.Sum(Delta[0, k] ** 2, (k, 0, L - 1)) / L)
    return m


def test_index_notation_matches_the_dsl(tmp_path):
    model = seed000_in_index_notation()
    derivation = derive(model)
    path = tmp_path / f"{model.name}.py"
    write_atomic(path, render_module(plan_module(derivation, "test")))
    module = import_generated(path)
    for check in check_module(model, module, points=2):
        assert check.max_relative_error < 1e-6, check
    reference = derive(catalogue.build("two_branch_crelu"))
    for name in ("A1", "A2", "B1", "B2", "C", "d"):
        assert len(derivation.expanded(name).terms) == len(reference.expanded(name).terms) == 1
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(0))
    generated = import_generated(GENERATED / "two_branch_crelu.py")
    value, grads = module.loss_and_grad(**inputs)
    value_dsl, grads_dsl = generated.loss_and_grad(**inputs)
    assert value == value_dsl
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_dsl[name], rtol=1e-13, atol=1e-15)
