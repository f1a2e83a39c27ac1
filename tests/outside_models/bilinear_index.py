"""A bilinear score in index notation (a user's own sum): s[i, 0] = sum_a sum_b X[i, a] W[a, b] Z[i, b],
with a logistic loss on +-1 labels."""
import numpy as np
import sympy as sp

from symgrad import Model, log, exp


def build():
    m = Model("bilinear_index", "bilinear logistic regression typed in index notation")
    N, P, Q = m.dims("N P Q")
    X, Z, y = m.constant("X", (N, P)), m.constant("Z", (N, Q)), m.constant("y", (N, 1))
    W = m.parameter("W", (P, Q))
    a, b = sp.symbols("a b", integer=True)
    s = m.define("s", shape=(N, 1), index=lambda i, j: sp.Sum(sp.Sum(X[i, a] * W[a, b] * Z[i, b],
                                                                     (a, 0, P - 1)), (b, 0, Q - 1)))
    m.loss("Loss", log(1 + exp(-y * s)).sum() / N)
    m.sample_with("y", lambda rng, shape: rng.choice([-1.0, 1.0], size=shape))
    return m
