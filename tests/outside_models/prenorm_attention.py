"""A pre-norm self-attention block (Xiong et al. 2020): layer norm, one softmax head, output projection,
residual, squared error to a target."""
from symgrad import Model, softmax, sqrt, sum_squares


def build():
    m = Model("prenorm_attention", "pre-norm attention: X + softmax(Xn Wq (Xn Wk)^T / sqrt(k)) Xn Wv Wo, Xn = LN(X)")
    n, d, k, v = m.dims("n d k v")
    X, T = m.constant("X", (n, d)), m.constant("T", (n, d))
    eps = m.constant("eps", ())
    g, b = m.parameter("g", (1, d)), m.parameter("b", (1, d))
    Wq, Wk = m.parameter("Wq", (d, k)), m.parameter("Wk", (d, k))
    Wv, Wo = m.parameter("Wv", (d, v)), m.parameter("Wo", (v, d))
    mu = m.define("mu", X.mean(axis=1, keepdims=True))
    Xc = m.define("Xc", X - mu)
    var = m.define("var", (Xc ** 2).mean(axis=1, keepdims=True))
    Xn = m.define("Xn", g * Xc / sqrt(var + eps) + b)
    P = m.define("P", softmax((Xn @ Wq) @ (Xn @ Wk).T / sqrt(k), axis=1))
    out = m.define("out", X + P @ (Xn @ Wv) @ Wo)
    m.loss("Loss", sum_squares(out - T) / 2)
    m.sample_with("eps", lambda rng, shape: 1e-5)
    return m
