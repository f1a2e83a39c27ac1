"""A zoo of models from outside the seed notes, each written as its source writes it.

Every builder names its source in the model's description; ``docs/zoo_audit.md`` checks the
source's hand-derived backward formulas against these models with ``symgrad check``.
"""
import numpy as np
import sympy as sp

from symgrad import Model, exp, inv, log, logdet, mean, relu, softmax, sqrt, sum_squares, tanh
from symgrad.model.unroll import unroll

RNN_STEPS = 4


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def _one_hot(rng, shape):
    return np.eye(shape[1])[rng.integers(shape[1], size=shape[0])]


def _positive(rng, shape):
    return float(rng.uniform(0.5, 1.5)) if not shape else rng.uniform(0.5, 1.5, shape)


def build_logistic_regression() -> Model:
    m = Model("logistic_regression", "logistic regression, labels +-1 (ESL 4.4): "
              "mean of log(1 + exp(-y (X w + b)))")
    N, D = m.dims("N D")
    X, y = m.constant("X", (N, D)), m.constant("y", (N, 1))
    w, b = m.parameter("w", (D, 1)), m.parameter("b")
    margin = m.define("margin", y * (X @ w + b))
    m.loss("Loss", log(1 + exp(-margin)).sum() / N)   # rewritten as softplus(-margin)
    m.sample_with("y", _signs)
    return m


def build_ridge_regression() -> Model:
    m = Model("ridge_regression", "ridge regression (Hoerl and Kennard 1970): ||X w - y||^2 + lam ||w||^2")
    N, D = m.dims("N D")
    X, y, lam = m.constant("X", (N, D)), m.constant("y", (N, 1)), m.constant("lam")
    w = m.parameter("w", (D, 1))
    r = m.define("r", X @ w - y)
    m.loss("Loss", sum_squares(r) + lam * sum_squares(w))
    return m


def _normalize(name: str, description: str, axis: int) -> Model:
    m = Model(name, description)
    # the normalized axis's dimension first: the checker's sizes for it are then 3, 5 and 7, not 2
    N, D = m.dims("N D") if axis == 0 else reversed(m.dims("D N"))
    T, eps = m.constant("T", (N, D)), m.constant("eps")
    X = m.parameter("X", (N, D))          # the layer's input: its gradient is the paper's dx
    gamma, beta = m.parameter("gamma", (1, D)), m.parameter("beta", (1, D))
    mu = m.define("mu", mean(X, axis))
    Xc = m.define("Xc", X - mu)
    var = m.define("var", mean(Xc ** 2, axis))
    std = m.define("std", sqrt(var + eps))
    xhat = m.define("xhat", Xc / std)
    Y = m.define("Y", gamma * xhat + beta)
    m.loss("Loss", sum_squares(Y - T) / 2)
    m.sample_with("eps", lambda rng, shape: 1e-5)
    return m


def build_rmsnorm_proj() -> Model:
    m = Model("rmsnorm_proj", "RMS layer normalization (Zhang and Sennrich 2019, Root Mean Square Layer "
              "Normalization): Y = g X / sqrt(mean(X^2, features) + eps), then a projection Z = Y W, "
              "squared error to T")
    D, N, K = m.dims("D N K")             # the normalized axis's dimension first, as for layer_norm
    T, eps = m.constant("T", (N, K)), m.constant("eps")
    X = m.parameter("X", (N, D))          # the layer's input: its gradient is the paper's dL/da
    g, W = m.parameter("g", (1, D)), m.parameter("W", (D, K))
    ms = m.define("ms", mean(X ** 2, 1))
    rms = m.define("rms", sqrt(ms + eps))
    xhat = m.define("xhat", X / rms)
    Y = m.define("Y", g * xhat)
    Z = m.define("Z", Y @ W)
    m.loss("Loss", sum_squares(Z - T) / 2)
    m.sample_with("eps", lambda rng, shape: 1e-5)
    return m


def build_batch_norm() -> Model:
    return _normalize("batch_norm", "batch normalization (Ioffe and Szegedy 2015): statistics over the "
                      "batch axis, Y = gamma xhat + beta, squared error to T", 0)


def build_layer_norm() -> Model:
    return _normalize("layer_norm", "layer normalization (Ba, Kiros and Hinton 2016): statistics over "
                      "the feature axis, Y = gamma xhat + beta, squared error to T", 1)


def build_self_attention() -> Model:
    m = Model("self_attention", "single-head self-attention (Vaswani et al. 2017): "
              "softmax(Q K^T / sqrt(dk)) V, squared error to T")
    n, d, dk, dv = m.dims("n d dk dv")
    X, T = m.constant("X", (n, d)), m.constant("T", (n, dv))
    Wq, Wk, Wv = m.parameter("Wq", (d, dk)), m.parameter("Wk", (d, dk)), m.parameter("Wv", (d, dv))
    Q, K, V = m.define("Q", X @ Wq), m.define("K", X @ Wk), m.define("V", X @ Wv)
    S = m.define("S", (Q @ K.T) / sqrt(dk))
    P = m.define("P", softmax(S, axis=1))
    O = m.define("O", P @ V)
    m.loss("Loss", sum_squares(O - T) / 2)
    return m


MASKED = -1e9       # the additive mask's entry above the diagonal: exp of it is 0, as of -inf


def _causal_mask(rng, shape):
    """0 on and below the diagonal (a query sees its own and earlier keys), MASKED above."""
    return np.triu(np.full(shape, MASKED), k=1)


def build_causal_attention() -> Model:
    # The mask is added to the logits: exp(s + MASKED - max) is exactly 0 in float64 and float32
    # for logits below 1e8 in size, so P is exactly what a mask of -inf gives here (every row keeps
    # its diagonal), the softmax's own shift keeps it stable, and the mask, a constant, never
    # enters a derivative. Finite rather than -inf: a row with every key masked gets finite
    # weights, not 0/0, and a product with the mask is never 0 * -inf. A 0/1 mask multiplying
    # the logits would not mask at all (exp(0) = 1); one multiplying exp(S - max) would lose every
    # allowed key of a row whose maximum is a masked logit far above them (0/0).
    m = Model("causal_attention", "single-head causal self-attention (Vaswani et al. 2017, the "
              "decoder's masked attention; Radford et al. 2018, GPT): softmax(Q K^T / sqrt(dk) + mask) V, "
              "mask 0 on and below the diagonal and -1e9 above, squared error to T")
    n, d, dk, dv = m.dims("n d dk dv")
    X, T, mask = m.constant("X", (n, d)), m.constant("T", (n, dv)), m.constant("mask", (n, n))
    Wq, Wk, Wv = m.parameter("Wq", (d, dk)), m.parameter("Wk", (d, dk)), m.parameter("Wv", (d, dv))
    Q, K, V = m.define("Q", X @ Wq), m.define("K", X @ Wk), m.define("V", X @ Wv)
    S = m.define("S", (Q @ K.T) / sqrt(dk) + mask)
    P = m.define("P", softmax(S, axis=1))
    O = m.define("O", P @ V)
    m.loss("Loss", sum_squares(O - T) / 2)
    m.sample_with("mask", _causal_mask)
    return m


def build_cs231n_two_layer() -> Model:
    m = Model("cs231n_two_layer", "CS231n two-layer net: affine-ReLU-affine, softmax cross-entropy, "
              "L2 0.5 reg (||W1||^2 + ||W2||^2)")
    N, D, H, C = m.dims("N D H C")
    X, Y, reg = m.constant("X", (N, D)), m.constant("Y", (N, C)), m.constant("reg")
    W1, b1 = m.parameter("W1", (D, H)), m.parameter("b1", (1, H))
    W2, b2 = m.parameter("W2", (H, C)), m.parameter("b2", (1, C))
    z1 = m.define("z1", X @ W1 + b1)
    hidden = m.define("hidden", relu(z1))
    scores = m.define("scores", hidden @ W2 + b2)
    probs = m.define("probs", softmax(scores, axis=1))
    data_loss = m.define("data_loss", -(Y * log(probs)).sum() / N)   # log(probs): the log-softmax
    m.loss("Loss", data_loss + 0.5 * reg * (sum_squares(W1) + sum_squares(W2)))
    m.sample_with("Y", _one_hot)
    m.sample_with("reg", _positive)
    return m


def build_residual_block() -> Model:
    m = Model("residual_block", "residual block (He et al. 2016): y = x + W2 relu(W1 x + b1) + b2, "
              "squared error to T")
    D, H, N = m.dims("D H N")
    T = m.constant("T", (D, N))
    x = m.parameter("x", (D, N))
    W1, b1 = m.parameter("W1", (H, D)), m.parameter("b1", (H, 1))
    W2, b2 = m.parameter("W2", (D, H)), m.parameter("b2", (D, 1))
    z = m.define("z", W1 @ x + b1)
    a = m.define("a", relu(z))
    out = m.define("out", x + W2 @ a + b2)
    m.loss("Loss", sum_squares(out - T) / 2)
    return m


def build_rnn_unrolled() -> Model:
    m = Model("rnn_unrolled", f"Elman RNN unrolled for {RNN_STEPS} steps, shared weights: "
              "h_t = tanh(Wx x_t + Wh h_(t-1) + b), squared error of Wy h_T to Y")
    D, H, N, K = m.dims("D H N K")
    xs = [m.constant(f"x{t}", (D, N)) for t in range(1, RNN_STEPS + 1)]
    h0 = m.constant("h0", (H, N))
    Y = m.constant("Y", (K, N))
    Wx, Wh = m.parameter("Wx", (H, D)), m.parameter("Wh", (H, H))
    b, Wy = m.parameter("b", (H, 1)), m.parameter("Wy", (K, H))
    states = unroll(m, lambda t, h: tanh(Wx @ xs[t - 1] + Wh @ h + b), h0, RNN_STEPS)
    m.loss("Loss", sum_squares(Wy @ states[-1] - Y) / 2)
    return m



def _identity(rng, shape):
    return np.eye(shape[0])


def build_gaussian_nll() -> Model:
    m = Model("gaussian_nll", "Gaussian negative log-likelihood with a full covariance (Bishop, PRML "
              "2.3.4): Sigma = A A^T + I, N/2 log|Sigma| + 1/2 sum_n (x_n - mu)^T Sigma^-1 (x_n - mu) "
              "+ N d/2 log(2 pi)")
    d, N = m.dims("d N")
    X, I = m.constant("X", (d, N)), m.constant("I", (d, d))
    A, mu = m.parameter("A", (d, d)), m.parameter("mu", (d, 1))
    Sigma = m.define("Sigma", A @ A.T + I)        # positive definite at every A
    P = m.define("P", inv(Sigma))                 # the precision matrix
    D = m.define("D", X - mu)
    half = sp.Rational(1, 2)
    m.loss("Loss", half * N * logdet(Sigma) + half * ((P @ D) * D).sum() + half * N * d * sp.log(2 * sp.pi))
    m.sample_with("I", _identity)
    return m
