"""Focal loss (Lin et al. 2017) over a softmax, gamma = 2, on a linear classifier."""
import numpy as np

from symgrad import Model, log_softmax, softmax


def build():
    m = Model("focal_loss", "focal loss: -1/N sum Y (1 - p)^2 log p, p = softmax(X W + b)")
    N, D, C = m.dims("N D C")
    X, Y = m.constant("X", (N, D)), m.constant("Y", (N, C))
    W, b = m.parameter("W", (D, C)), m.parameter("b", (1, C))
    s = m.define("s", X @ W + b)
    p = m.define("p", softmax(s, axis=1))
    logp = m.define("logp", log_softmax(s, axis=1))
    m.loss("Loss", -(Y * (1 - p) ** 2 * logp).sum() / N)
    m.sample_with("Y", lambda rng, shape: np.eye(shape[1])[rng.integers(shape[1], size=shape[0])])
    return m
