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


def test_an_exponent_that_is_not_a_number_is_named():
    """A tensor exponent was read by SymPy's sympify, which indexed it and said
    ``tensor 'Y' has 2 axes, indexed with 1``; a string was parsed as SymPy text."""
    m, (N, M, L) = _model()
    X, Y, g = m.parameter("X", (N, L)), m.constant("Y", (N, L)), m.constant("g")
    for exponent, told in ((Y, r"tensor 'Y' of shape \(N, L\)"), (g, r"tensor 'g' of shape scalar \(\)"),
                           (X + 1, r"a tensor expression of shape \(N, L\)"), ("2", "str '2'"), (True, "bool True")):
        with pytest.raises(ModelError, match=rf"operation '\*\*': the exponent must be a number, got {told} "
                                             r"\(for a tensor exponent p of a positive x, write exp\(p \* log\(x\)\)\)$"):
            X ** exponent
    assert (X ** np.float64(3.0)).shape == (X ** sp.Rational(1, 3)).shape == (N, L)


def test_a_model_file_error_says_on_which_line(tmp_path):
    """An error raised while a model file builds its model names the file's line, as an error in
    the file's own code does."""
    from .error_support import cli
    (tmp_path / "shapes.py").write_text(
        "from symgrad import Model, sum_squares\n\n\ndef build():\n    m = Model('shapes')\n"
        "    N, D, K = m.dims('N D K')\n    X, W = m.constant('X', (N, D)), m.parameter('W', (K, D))\n"
        "    m.loss('Loss', sum_squares(X @ W))\n    return m\n")
    assert cli(tmp_path, "show", "shapes.py") == (
        2, "symgrad: error: operation '@': shapes (N, D) and (K, D) do not match (D != K) (line 8 of shapes.py)")


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
