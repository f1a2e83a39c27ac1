"""Deriving keeps adjoints named: their size does not grow with depth (so time is linear)."""
import sympy as sp

from symgrad import Model, derive, sum_squares, tanh


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
