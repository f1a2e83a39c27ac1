"""Triplet margin loss (Schroff et al. 2015) on a linear embedding shared by anchor, positive and negative."""
from symgrad import Model, relu


def build():
    m = Model("triplet_margin", "triplet: mean relu(||(A - P) W||^2 - ||(A - Q) W||^2 + margin)")
    N, D, E = m.dims("N D E")
    A, P, Q = m.constant("A", (N, D)), m.constant("P", (N, D)), m.constant("Q", (N, D))
    margin = m.constant("margin", ())
    W = m.parameter("W", (D, E))
    ea, ep, en = m.define("ea", A @ W), m.define("ep", P @ W), m.define("en", Q @ W)
    pos = m.define("pos", ((ea - ep) ** 2).sum(axis=1, keepdims=True))
    neg = m.define("neg", ((ea - en) ** 2).sum(axis=1, keepdims=True))
    m.loss("Loss", relu(pos - neg + margin).sum() / N)
    return m
