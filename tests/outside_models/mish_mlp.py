"""A two-layer MLP with the Mish activation (Misra 2019), x tanh(softplus(x)), squared error."""
from symgrad import Model, softplus, sum_squares, tanh


def build():
    m = Model("mish_mlp", "Mish MLP: H = X W1 + b1, A = H tanh(softplus(H)), ||A W2 - T||^2 / (2N)")
    N, D, H, K = m.dims("N D H K")
    X, T = m.constant("X", (N, D)), m.constant("T", (N, K))
    W1, b1, W2 = m.parameter("W1", (D, H)), m.parameter("b1", (1, H)), m.parameter("W2", (H, K))
    pre = m.define("pre", X @ W1 + b1)
    act = m.define("act", pre * tanh(softplus(pre)))
    m.loss("Loss", sum_squares(act @ W2 - T) / (2 * N))
    return m
