"""Two hidden layers, softplus then a sigmoid-approximated GELU (x sigmoid(1.702 x)), MSE, weight decay."""
from symgrad import Model, mean, sigmoid, softplus, sum_squares


def build():
    m = Model("softplus_gelu_mlp", "softplus and GELU-like hidden layers, mean squared error, weight decay")
    N, D, H1, H2, K = m.dims("N D H1 H2 K")
    X, T, wd = m.constant("X", (N, D)), m.constant("T", (N, K)), m.constant("wd")
    W1, b1 = m.parameter("W1", (D, H1)), m.parameter("b1", (1, H1))
    W2, b2 = m.parameter("W2", (H1, H2)), m.parameter("b2", (1, H2))
    W3 = m.parameter("W3", (H2, K))
    a1 = m.define("a1", softplus(X @ W1 + b1))
    z2 = m.define("z2", a1 @ W2 + b2)
    a2 = m.define("a2", z2 * sigmoid(1.702 * z2))
    out = m.define("out", a2 @ W3)
    m.loss("Loss", mean((out - T) ** 2) + wd / 2 * (sum_squares(W1) + sum_squares(W2) + sum_squares(W3)))
    return m
