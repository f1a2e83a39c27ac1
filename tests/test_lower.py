"""The array IR: lowering gives nodes that know their shapes; both printers dispatch per node type."""
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.backends import render_backend
from symgrad.index.conventions import adjoint_name
from symgrad.errors import LoweringError
from symgrad.lower.assembly import lower_expression
from symgrad.lower.latex_printer import LatexArrayPrinter
from symgrad.lower.nodes import Add, AxisSum, Elementwise, MatMul, Node, Product, Tensor, Transpose, same_shape
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.model.one_line import OneLineLoss

FLAT = [name for name in catalogue.names() if catalogue.build(name).stack is None]


def walk(node):
    yield node
    for value in vars(node).values():
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, tuple) and len(child) == 2 and isinstance(child[1], Node):
                child = child[1]       # (entry, node) of an Elementwise, (letters, node) of an Einsum
            if isinstance(child, Node):
                yield from walk(child)


@pytest.mark.parametrize("catalogue_name", FLAT)
def test_every_lowered_value_has_its_tensors_shape(catalogue_name):
    model = catalogue.build(catalogue_name)
    derivation = derive(model)
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
    values = [(name, d.expr, model.space.ranges_of) for name, d in model.definitions.items() if d.origin != "max"]
    values += [(name, derivation.adjoints[name], derivation.space.ranges_of)
               for name in derivation.order if name != model.loss_name]
    for name, expr, ranges in values:
        lowering = lower_expression(expr, model.tensors[name].shape, shapes, ranges(expr.indices))
        assert same_shape(lowering.code.shape, model.tensors[name].shape), name
        for node in walk(lowering.code):
            assert len(node.shape) in (0, len(expr.indices), 2), (name, node)


def test_a_matrix_product_plus_a_broadcast_column():
    model = catalogue.build("two_branch_crelu")
    expr = model.definitions["Z1"].expr
    shapes = {n: t.shape for n, t in model.tensors.items()}
    code = lower_expression(expr, model.tensors["Z1"].shape, shapes, model.space.ranges_of(expr.indices)).code
    assert isinstance(code, Add) and len(code.terms) == 2
    matmul = [f for t in code.terms for f in t.factors if isinstance(f, MatMul)][0]
    M, L = model.dimensions["M"], model.dimensions["L"]
    assert matmul.shape == (M, L)
    assert NumPyPrinter().doprint(code) == "A1 @ X1 + B1"
    assert LatexArrayPrinter().doprint(code) == "A_{1} X_{1} + B_{1}"


def _entry(name, shape, *indices):
    access = sp.IndexedBase(name)[indices]
    return Elementwise(access, ((access, Tensor(name, shape)),))


def test_parentheses_come_from_precedence():
    N, M = sp.symbols("N M", positive=True, integer=True)
    x, y = _entry("x", (N, M), 0, 0), _entry("y", (N, M), 0, 1)
    pair = Product(sp.Integer(1), (x, y))
    printer = NumPyPrinter()
    assert printer.doprint(MatMul(pair, Product(sp.Integer(1), (x,)))) == "(x * y) @ x"
    assert printer.doprint(Product(sp.Integer(3), (x, AxisSum(pair, 1)))) == "3 * x * ((x * y) @ np.ones((M, 1)))"
    assert printer.doprint(Transpose(Tensor("x", (N, M)))) == "x.T"
    assert LatexArrayPrinter().doprint(MatMul(pair, Product(sp.Integer(1), (x,)))) == r"\left(x \odot y\right) x"


def test_a_bodys_scalar_factors_are_multiplied_before_its_entries():
    """``2*x/N`` would be two passes over ``x`` (Python multiplies left to right); ``2/N*x`` is
    one, and evaluates to the same numbers."""
    import numpy as np

    from symgrad.lower.elementwise_code import ElementwiseCodePrinter
    N, L = sp.symbols("N L", positive=True, integer=True)
    x, y, z = (sp.IndexedBase(name)[0] for name in "xyz")
    printer = ElementwiseCodePrinter(lambda access: access.base.name)
    cases = {2 * x / N: "2/N*x", -2 * x * y / (L * z**2): "-2/L*x*y/z**2", x / (2 * N): "(1/2)/N*x",
             2 / (N * y): "2/N/y", z - x / N: "z - x/N", 3 * x: "3*x", x * y / N: "x*y/N"}
    rng = np.random.default_rng(0)
    scope = {"np": np, "N": 3, "L": 5, **{name: rng.standard_normal(4) for name in "xyz"}}
    for expr, text in cases.items():
        assert printer.doprint(expr) == text
        want = sp.lambdify([N, L, sp.Symbol("x"), sp.Symbol("y"), sp.Symbol("z")],
                           expr.xreplace({x: sp.Symbol("x"), y: sp.Symbol("y"), z: sp.Symbol("z")}))
        np.testing.assert_allclose(eval(text, dict(scope)), want(*(scope[k] for k in "NLxyz")), rtol=1e-14)


def test_a_node_type_without_a_printer_is_a_lowering_error():
    @dataclass(frozen=True)
    class Unknown(Node):
        shape: tuple = ()

    for printer in (NumPyPrinter(), LatexArrayPrinter()):
        with pytest.raises(LoweringError, match="Unknown"):
            printer.doprint(Unknown())


def test_an_adjoint_equal_at_every_entry_is_folded_into_its_users():
    """The adjoint of a mean's rows is the number ``1/(2*N)`` at every entry (a user's InfoNCE loss
    averaged two log-sum-exps): it was made as an array, ``np.broadcast_to(1/2/N, (N, 1)).astype(float)``
    (11 us at small sizes, more than the whole rest of its use), and multiplied in; folded, the
    number multiplies its users directly."""
    import numpy as np
    from symgrad import Model, logsumexp
    from symgrad.api import derive as derive_model
    m = Model("mean_of_row_lse")
    N, M = m.dims("N M")
    P = m.parameter("P", (N, M))
    m.loss("Loss", m.define("r", logsumexp(P, axis=1)).sum() / (2 * N))
    derived = derive_model(m)
    source = derived.source()
    assert "grad_r =" not in source and "np.broadcast_to" not in source
    p = np.random.default_rng(0).standard_normal((3, 5))
    _, grads = derived.module().loss_and_grad(P=p)
    softmax = np.exp(p) / np.exp(p).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grads["P"], softmax / 6, rtol=1e-13)


def test_a_one_by_one_adjoint_spread_over_a_row_is_folded_into_its_users():
    """A log-softmax over one row (a user's mixture weights): the adjoint of its exp part is the
    one entry ``grad_lp_lse_sum[0, 0]`` at every position, and was made as a row,
    ``np.broadcast_to(grad_lp_lse_sum[0, 0], (1, K)).astype(float)``; folded, the entry
    multiplies its user."""
    import numpy as np
    from symgrad import Model, log_softmax
    from symgrad.api import derive as derive_model
    m = Model("row_log_softmax")
    (K,) = m.dims("K")
    a, C = m.parameter("a", (1, K)), m.constant("C", (1, K))
    m.loss("Loss", (m.define("lp", log_softmax(a, axis=1)) * C).sum())
    derived = derive_model(m)
    assert "np.broadcast_to" not in derived.source()
    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((1, 5)), rng.standard_normal((1, 5))
    _, grads = derived.module().loss_and_grad(a=x, C=c)
    softmax = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(grads["a"], c - softmax * c.sum(), rtol=1e-13)


@pytest.mark.parametrize("loss", ["sum(y * (X @ w))", "sum(exp(X @ w + b) - y * (X @ w + b)) / n"])
def test_a_vector_matrix_vector_sum_is_matrix_products_not_an_entrywise_matrix(loss):
    # sum_{c,k} y[c] X[c, k] w[k] as (w.T * y * X).sum() makes two (n, d) temporaries; as X @ w
    # and an inner product it reads X once, and the X @ w of the forward is the same value
    model = OneLineLoss(loss, params=("w=d,1", "b="), consts=("X=n,d", "y=n,1")).build() if "b" in loss else \
        OneLineLoss(loss, params=("w=d,1",), consts=("X=n,d", "y=n,1")).build()
    source = render_backend(derive(model), "symgrad generate x", "numpy")
    statements = [line.strip() for line in source.splitlines() if not line.strip().startswith("#")]
    assert not any("* X" in line or "X *" in line for line in statements), source
    scope: dict = {}
    exec(compile(source, "<generated>", "exec"), scope)   # noqa: S102  (symgrad's own output)
    rng = np.random.default_rng(3)
    X, y, w = rng.standard_normal((7, 4)), rng.standard_normal((7, 1)), 0.1 * rng.standard_normal((4, 1))
    inputs = {"X": X, "y": y, "w": w} | ({"b": 0.3} if "b" in loss else {})
    value, _ = scope["loss_and_grad"](**inputs)
    expected = (y.T @ X @ w).item() if "b" not in loss else \
        float(np.sum(np.exp(X @ w + 0.3) - y * (X @ w + 0.3)) / 7)
    assert value == pytest.approx(expected, rel=1e-13)
