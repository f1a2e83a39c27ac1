"""Deriving keeps adjoints named: their size does not grow with depth (so time is linear)."""
import sympy as sp

from symgrad import Model, sum_squares, tanh
from symgrad.differentiate.chain_rule import derive


def chain(depth: int) -> Model:
    m = Model(f"chain{depth}")
    n, b = m.dims("n b")
    X = m.constant("X", (n, b))
    for layer in range(1, depth + 1):
        W = m.parameter(f"W{layer}", (n, n))
        X = m.define(f"X{layer}", tanh(W @ X))
    m.loss("Loss", sum_squares(X))
    return m


def _sizes(depth: int) -> list[int]:
    derivation = derive(chain(depth))
    return [sum(sp.count_ops(t.factor) + len(t.bound) for t in expr.terms)
            for expr in derivation.adjoints.values()]


def test_adjoint_size_is_bounded_independently_of_depth():
    shallow, deep = _sizes(3), _sizes(24)
    assert max(deep) == max(shallow)
    assert sum(deep) <= 9 * sum(shallow)


def test_a_deep_chain_generates_without_expanding_its_early_gradients(tmp_path):
    """The comment above each gradient shows its fully expanded form only within EXPANDED_LIMIT
    adjoints of the loss: that form grows with the depth, and expanding it for every layer made
    generating a chain of 16 layers take minutes. The code is the same chain rule either way."""
    from symgrad.gradcheck import check_module
    from symgrad.cli import import_generated
    from symgrad.emit.module_plan import EXPANDED_LIMIT
    from symgrad.emit.files import render_module
    from symgrad.emit.layer_plan import plan_for
    model = chain(12)
    text = render_module(plan_for(derive(model), "test"))
    assert f"# dLoss/dW1: more than {EXPANDED_LIMIT} adjoints deep, not expanded" in text
    assert "# dLoss/dW12[i, j] = " in text
    path = tmp_path / "chain12.py"
    path.write_text(text)
    results = check_module(model, import_generated(path), points=1)
    assert all(r.shape_ok and r.max_relative_error < 1e-6 for r in results), results
