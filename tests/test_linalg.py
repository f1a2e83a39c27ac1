"""``inv``, ``det`` and ``logdet`` (``symgrad/linalg.py``): derived from their rules, generated,
checked against finite differences and HIPS autograd, and lowered to ``np.linalg`` without a
Jacobian."""
import numpy as np
import pytest

from symgrad import Model, det, inv, logdet, sum_squares, trace
from symgrad.errors import ShapeError
from symgrad.gradcheck import check_module

from .test_matrix_ops import _agrees_with_autograd, _module


def _identity(rng, shape):
    return np.eye(shape[0])


def _matrix_functions():
    m = Model("matrix_functions")
    n, L = m.dims("n L")
    X = m.constant("X", (n, L))
    I = m.constant("I", (n, n))
    m.sample_with("I", _identity)
    A = m.parameter("A", (n, n))
    B = m.parameter("B", (n, L))
    S = m.define("S", A @ A.T + I)           # positive definite
    Sinv = m.define("Sinv", inv(S))
    M = m.define("M", B @ X.T + I * 3)       # invertible, of either sign of determinant
    m.loss("Loss", logdet(S) + sum_squares(Sinv @ X) + det(M) * 0.1 + logdet(M) + trace(inv(M)))
    return m


def _matrix_functions_reference(np_, i):
    S = i["A"] @ i["A"].T + i["I"]
    M = i["B"] @ i["X"].T + 3 * i["I"]
    return (np_.linalg.slogdet(S)[1] + np_.sum((np_.linalg.inv(S) @ i["X"]) ** 2) + 0.1 * np_.linalg.det(M)
            + np_.linalg.slogdet(M)[1] + np_.trace(np_.linalg.inv(M)))


def test_inv_det_logdet_agree_with_finite_differences_and_autograd(tmp_path):
    m = _matrix_functions()
    module, text = _module(m, tmp_path)
    for check in check_module(m, module, points=2):
        assert check.max_relative_error < 1e-6, check
    assert _agrees_with_autograd(m, module, _matrix_functions_reference) < 1e-8
    assert "Sinv = np.linalg.inv(S)" in text and "np.linalg.slogdet(S)[1]" in text
    assert "np.linalg.det(M)" in text
    assert text.count("np.linalg.inv(") == 2 * 2     # in forward and loss_and_grad: inv(S), inv(M), the
    # latter shared by det(M), logdet(M) and trace(inv(M))


def test_logdet_is_log_abs_det_like_slogdet(tmp_path):
    m = Model("logdet_sign")
    (n,) = m.dims("n")
    A = m.parameter("A", (n, n))
    m.loss("Loss", logdet(A))
    module, _ = _module(m, tmp_path)
    A = np.array([[0.0, 2.0], [3.0, 1.0]])           # det -6
    value, grads = module.loss_and_grad(A=A)
    assert value == pytest.approx(np.log(6.0))
    np.testing.assert_allclose(grads["A"], np.linalg.inv(A).T)


def test_matrix_functions_need_a_square_matrix():
    m = Model("not_square_inv")
    n, L = m.dims("n L")
    X = m.parameter("X", (n, L))
    for op in (inv, det, logdet):
        with pytest.raises(ShapeError, match="square matrix"):
            op(X)
