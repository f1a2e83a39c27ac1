"""A gated linear unit (Dauphin et al. 2017): (X W + b) * sigmoid(X V + c), projected, squared error."""
from symgrad import Model, sigmoid, sum_squares


def build():
    m = Model("glu_block", "GLU: (X W + b) sigmoid(X V + c) U, squared error to T")
    N, D, H, K = m.dims("N D H K")
    X, T = m.constant("X", (N, D)), m.constant("T", (N, K))
    W, b = m.parameter("W", (D, H)), m.parameter("b", (1, H))
    V, c = m.parameter("V", (D, H)), m.parameter("c", (1, H))
    U = m.parameter("U", (H, K))
    gate = m.define("gate", sigmoid(X @ V + c))
    hidden = m.define("hidden", (X @ W + b) * gate)
    m.loss("Loss", sum_squares(hidden @ U - T) / 2)
    return m
