"""A mixture of two softmaxes (Yang et al. 2018, MoS with two components), a sigmoid gate, cross-entropy."""
import numpy as np

from symgrad import Model, log, sigmoid, softmax


def build():
    m = Model("mixture_softmax", "mixture of softmaxes: p = g softmax(H A) + (1 - g) softmax(H B), -mean log p_y")
    N, D, C = m.dims("N D C")
    Hx, Y = m.constant("Hx", (N, D)), m.constant("Y", (N, C))
    A, B, w = m.parameter("A", (D, C)), m.parameter("B", (D, C)), m.parameter("w", (D, 1))
    g = m.define("g", sigmoid(Hx @ w))
    p = m.define("p", g * softmax(Hx @ A, axis=1) + (1 - g) * softmax(Hx @ B, axis=1))
    m.loss("Loss", -(Y * log(p)).sum() / N)
    m.sample_with("Y", lambda rng, shape: np.eye(shape[1])[rng.integers(shape[1], size=shape[0])])
    return m
