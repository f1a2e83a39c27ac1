"""Seed 003: Linear-f-Linear-g on one sample (column vectors), in the note's names.

s1 = W1 x + b1, z1 = f(s1), s2 = W2 z1 + b2, yhat = g(s2);
`hw1_relu_mse`: f = relu, g = identity, l = ||yhat - y||^2;
`hw1_sigmoid_mse`: f = g = sigmoid, the same loss;
`hw1_sigmoid_bce`: f = g = sigmoid, l = -(1/K) sum[y log yhat + (1 - y) log(1 - yhat)], K = dy
(computed through softplus of s2: see symgrad/model/stable_forms.py).
"""
from symgrad import Model, log, relu, sigmoid, sum_squares


def _layers(name: str, description: str, hidden, output):
    m = Model(name, description)
    dx, ds, dy = m.dims("dx ds dy")
    x = m.constant("x", (dx, 1))
    y = m.constant("y", (dy, 1))
    W1 = m.parameter("W1", (ds, dx))
    b1 = m.parameter("b1", (ds, 1))
    W2 = m.parameter("W2", (dy, ds))
    b2 = m.parameter("b2", (dy, 1))
    s1 = m.define("s1", W1 @ x + b1)
    z1 = m.define("z1", hidden(s1))
    s2 = m.define("s2", W2 @ z1 + b2)
    yhat = m.define("yhat", output(s2))
    return m, y, yhat, dy


def build_relu_mse() -> Model:
    m, y, yhat, _ = _layers("hw1_relu_mse", "seed 003: Linear-ReLU-Linear-identity, squared loss",
                            relu, lambda s: s)
    m.loss("l", sum_squares(yhat - y))
    return m


def build_sigmoid_mse() -> Model:
    m, y, yhat, _ = _layers("hw1_sigmoid_mse", "seed 003: sigmoid activations, squared loss",
                            sigmoid, sigmoid)
    m.loss("l", sum_squares(yhat - y))
    return m


def build_sigmoid_bce() -> Model:
    m, y, yhat, K = _layers("hw1_sigmoid_bce", "seed 003: sigmoid activations, binary cross-entropy",
                            sigmoid, sigmoid)
    m.loss("l", -(y * log(yhat) + (1 - y) * log(1 - yhat)).sum() / K)
    m.sample_with("y", lambda rng, shape: rng.uniform(0.05, 0.95, shape))
    return m

