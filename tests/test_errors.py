"""Bad input gets a clear error naming what is wrong and where."""
import numpy as np
import pytest
import sympy as sp

from symgrad import Model, ModelError, ShapeError, apply, concat_rows
from symgrad.gradcheck import dimension_values, sample_inputs


def _model():
    m = Model("m")
    N, M, L = m.dims("N M L")
    return m, (N, M, L)


def test_matmul_shape_error_names_operation_and_both_shapes():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, N))
    X = m.constant("X", (L, N))
    with pytest.raises(ShapeError, match=r"operation '@': shapes \(M, N\) and \(L, N\) do not match"):
        m.define("Z", A @ X)


def test_broadcast_shape_error():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    B = m.parameter("B", (N, 1))
    with pytest.raises(ShapeError, match=r"operation '\+': shapes \(M, L\) and \(N, 1\) do not broadcast"):
        m.define("Z", A + B)


def test_concat_shape_error():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    B = m.parameter("B", (M, N))
    with pytest.raises(ShapeError, match=r"concat_rows.*\(M, L\) and \(M, N\) differ on axis 1"):
        concat_rows(A, B)


def test_unknown_function_lists_the_known_ones():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    with pytest.raises(ModelError, match=r"unknown elementwise function 'gelu'; known: .*relu.*sigmoid"):
        apply("gelu", A)


def test_scalar_loss_required():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    with pytest.raises(ShapeError, match=r"loss 'Loss' must be a scalar, got shape \(M, L\)"):
        m.loss("Loss", A * 2)


def test_duplicate_and_reserved_names():
    m, (N, M, L) = _model()
    m.parameter("A", (M, L))
    with pytest.raises(ModelError, match="already used"):
        m.constant("A", (M, L))
    with pytest.raises(ModelError, match="reserved"):
        m.constant("np", (M, L))
    with pytest.raises(ModelError, match="reserved"):
        m.constant("grad_A", (M, L))
    with pytest.raises(ShapeError, match="scalars"):
        m.constant("v", (M,))


def test_index_notation_out_of_range_access():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    with pytest.raises(ShapeError, match=r"define 'Z'.*A\[.*reaches"):
        m.define("Z", shape=(M, L), index=lambda i, j: A[i + M, j])


def test_index_notation_rejects_unknown_symbols():
    m, (N, M, L) = _model()
    A = m.parameter("A", (M, L))
    q = sp.Symbol("q")
    with pytest.raises(ModelError, match=r"define 'Z': unknown symbol q"):
        m.define("Z", shape=(M, L), index=lambda i, j: A[i, j] * q)


def test_no_loss_is_an_error():
    from symgrad.differentiate.chain_rule import derive
    m, (N, M, L) = _model()
    m.parameter("A", (M, L))
    with pytest.raises(ModelError, match="has no loss"):
        derive(m)


@pytest.fixture
def seed000(request):
    from symgrad import catalogue
    from symgrad.cli import import_generated
    from .conftest import GENERATED
    model = catalogue.build("two_branch_crelu")
    module = import_generated(GENERATED / "two_branch_crelu.py")
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(0))
    return module, inputs


def test_generated_module_rejects_a_wrong_shape(seed000):
    module, inputs = seed000
    bad = {**inputs, "C": np.zeros((1, 7))}
    with pytest.raises(ValueError, match=r"input C: expected shape \(1, 2\*M\) = \(1, 8\), got \(1, 7\)"):
        module.loss_and_grad(**bad)
    with pytest.raises(ValueError, match=r"input A1: expected shape \(M, N\), got \(4,\)"):
        module.loss(**{**inputs, "A1": np.zeros(4)})
    with pytest.raises(ValueError, match=r"input X2: expected shape \(N, L\) = \(3, 5\), got \(5, 3\)"):
        module.loss(**{**inputs, "X2": inputs["X2"].T})


def test_generated_module_rejects_bad_dtypes_and_scalars(seed000):
    module, inputs = seed000
    with pytest.raises(ValueError, match=r"input Yexp: expected real numbers, got dtype <U1"):
        module.loss(**{**inputs, "Yexp": np.full(inputs["Yexp"].shape, "a")})
    with pytest.raises(ValueError, match=r"input t: expected a real scalar"):
        module.loss(**{**inputs, "t": np.ones(2)})
    with pytest.raises(TypeError):
        module.loss(**{k: v for k, v in inputs.items() if k != "d"})


def test_generated_module_accepts_integer_arrays(seed000):
    module, inputs = seed000
    as_int = {**inputs, "X1": np.round(inputs["X1"] * 10).astype(int)}
    as_float = {**inputs, "X1": np.round(inputs["X1"] * 10)}
    assert module.loss(**as_int) == module.loss(**as_float)
