"""Seed 002: two-layer MLP in batch-row form with an MSE loss.

Z1 = X W1 + B1, H = f(Z1), Y = H W2 + B2, loss = mean over all n*o entries
of (Ystar - Y)^2; f is relu (`mlp_mse`), sigmoid or tanh (the note's generic f).
"""
from symgrad import Model, apply, sum_squares

ACTIVATIONS = {"mlp_mse": "relu", "mlp_mse_sigmoid": "sigmoid", "mlp_mse_tanh": "tanh"}


def build_with(name: str) -> Model:
    activation = ACTIVATIONS[name]
    m = Model(name, f"seed 002: two-layer MLP (batch rows), f = {activation}, MSE over all entries")
    n, p, h, o = m.dims("n p h o")
    X = m.constant("X", (n, p))
    Ystar = m.constant("Ystar", (n, o))
    W1 = m.parameter("W1", (p, h))
    B1 = m.parameter("B1", (1, h))
    W2 = m.parameter("W2", (h, o))
    B2 = m.parameter("B2", (1, o))
    Z1 = m.define("Z1", X @ W1 + B1)
    H = m.define("H", apply(activation, Z1))
    Y = m.define("Y", H @ W2 + B2)
    m.loss("Loss", sum_squares(Ystar - Y) / (n * o))
    return m


def build() -> Model:
    return build_with("mlp_mse")


def build_sigmoid() -> Model:
    return build_with("mlp_mse_sigmoid")


def build_tanh() -> Model:
    return build_with("mlp_mse_tanh")
