"""Operations on a square matrix as a whole (``symgrad/matrix_ops.py``): each derived, generated,
checked against finite differences and against HIPS autograd, and lowered without a dense ``diag``
in a product or a Jacobian."""
import numpy as np
import pytest

from symgrad import Model, diagonal, sum_squares, trace
from symgrad.gradcheck import check_module, dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.emit.module_plan import plan_module
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.files import render_module, write_atomic

from .conftest import require


def _module(model, tmp_path):
    path = tmp_path / f"{model.name}.py"
    text = render_module(plan_module(derive(model), "test"))
    write_atomic(path, text)
    return import_generated(path), text


def _agrees_with_autograd(model, module, reference, seed=5):
    autograd, anp = require("autograd"), require("autograd.numpy")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for which in (0, 1):
        inputs = sample_inputs(model, module, dimension_values(model, which), rng)
        value, grads = module.loss_and_grad(**inputs)
        parameters = {k: inputs[k] for k in module.PARAMETERS}
        loss = lambda p: reference(anp, {**inputs, **p})  # noqa: E731
        assert value == pytest.approx(float(loss(parameters)), rel=1e-10)
        expected = autograd.grad(loss)(parameters)
        for name in module.PARAMETERS:
            np.testing.assert_allclose(grads[name], expected[name], rtol=1e-8,
                                       atol=1e-12 * np.max(np.abs(expected[name])), err_msg=name)
            worst = max(worst, float(np.max(np.abs(grads[name] - expected[name]) / np.max(np.abs(expected[name])))))
    return worst


def _diagonals():
    m = Model("diagonals")
    n, L = m.dims("n L")
    X = m.constant("X", (n, L))
    A = m.parameter("A", (n, n))
    W = m.parameter("W", (L, n))
    B = m.define("B", X @ W)
    D = m.define("D", diagonal(B))
    T = m.define("T", trace(A) * 2)
    E = m.define("E", shape=(n, 1), index=lambda i, _: A[i, i] * X[i, 0] ** 2)      # A[i, i] typed
    m.loss("Loss", T * T + sum_squares(D) + E.sum() + sum_squares(A) + trace(A @ B))
    return m


def _diag(np_, A):
    return np_.sum(A * np_.eye(A.shape[0]), axis=1)     # autograd's np.diagonal has no gradient


def _diagonals_reference(np_, i):
    B = i["X"] @ i["W"]
    A = i["A"]
    return ((2 * np_.trace(A)) ** 2 + np_.sum(_diag(np_, B) ** 2)
            + np_.sum(_diag(np_, A) * i["X"][:, 0] ** 2) + np_.sum(A ** 2) + np_.trace(A @ B))


def test_trace_and_diagonal_agree_with_finite_differences_and_autograd(tmp_path):
    m = _diagonals()
    module, text = _module(m, tmp_path)
    for check in check_module(m, module, points=2):
        assert check.max_relative_error < 1e-6, check
    assert _agrees_with_autograd(m, module, _diagonals_reference) < 1e-8
    assert "A.trace()" in text and "B.diagonal()[:, None]" in text
    # the adjoint of the diagonal is written into the diagonal: no dense diag, no product with one
    assert "flat[::n + 1] +=" in text and "np.diag(" not in text and "np.eye" not in text
    assert "grad_D" not in text.split("def loss_and_grad")[1] or "grad_B = " not in text


def test_a_trace_alone_fills_the_diagonal_of_zeros(tmp_path):
    m = Model("trace_only")
    (n,) = m.dims("n")
    A = m.parameter("A", (n, n))
    m.loss("Loss", trace(A))
    module, text = _module(m, tmp_path)
    assert "np.fill_diagonal(grad_A, 1.0)" in text
    _, grads = module.loss_and_grad(A=np.arange(12.0).reshape(3, 4)[:, :3])
    np.testing.assert_array_equal(grads["A"], np.eye(3))


def test_trace_and_diagonal_need_a_square_matrix():
    m = Model("not_square")
    n, L = m.dims("n L")
    X = m.parameter("X", (n, L))
    with pytest.raises(Exception, match="square matrix"):
        trace(X)
    with pytest.raises(Exception, match="square matrix"):
        diagonal(X)


def test_trace_of_a_concatenation_found_by_fuzzing(tmp_path):
    """The diagonal of [[P0, P2a], [P1, P2b]] runs through two blocks: the argument is named first,
    and its adjoint, read at an offset by the blocks, is kept as an array with its diagonal set."""
    from symgrad import concat_cols, concat_rows, tanh
    m = Model("trace_of_blocks")
    N, L = m.dims("N L")
    P0, P1, P2 = m.parameter("P0", (L, L)), m.parameter("P1", (N, L)), m.parameter("P2", (L + N, N))
    m.loss("Loss", sum_squares(trace(tanh(concat_cols(concat_rows(P0, P1), P2) ** 3))))
    module, _ = _module(m, tmp_path)
    for check in check_module(m, module, points=2):
        if check.parameter == "P1":     # below the diagonal: its gradient is 0.0, as are the differences
            assert check.unresolved == check.points and np.isnan(check.max_relative_error), check
        else:
            assert check.max_relative_error < 1e-6, check
