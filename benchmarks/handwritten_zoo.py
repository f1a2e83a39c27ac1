"""Hand-written NumPy loss-and-gradient for every zoo model (``symgrad/model/catalogue/zoo.py``).

As in ``handwritten.py``: one function per model, written from the math the way a careful
user would (vectorized, numerically stable: log-sum-exp softmax, ``logaddexp`` for the
logistic loss, the closed-form normalization backward, a Cholesky log-determinant), plain
NumPy without preallocated buffers. Each takes the generated module's keyword inputs and
returns ``(loss: float, {parameter: gradient})``.

    from handwritten_zoo import HANDWRITTEN_ZOO, make_inputs
    inputs = make_inputs("layer_norm", {"N": 1024, "D": 512})
    value, grads = HANDWRITTEN_ZOO["layer_norm"](**inputs)

``tests/test_benchmark_zoo.py`` checks every function against the generated module and
central finite differences on shapes whose dimensions all differ.
"""
import math

import numpy as np


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def logistic_regression(X, y, w, b):
    N = X.shape[0]
    margin = y * (X @ w + b)
    loss = float(np.logaddexp(0.0, -margin).sum()) / N
    # d/dm log(1 + exp(-m)) = -sigmoid(-m)
    dz = (-1.0 / N) * _sigmoid(-margin) * y
    return loss, {"w": X.T @ dz, "b": float(dz.sum())}


def ridge_regression(X, y, lam, w):
    r = X @ w - y
    loss = float(np.vdot(r, r) + lam * np.vdot(w, w))
    return loss, {"w": 2.0 * (X.T @ r) + (2.0 * lam) * w}


def _normalize(T, eps, X, gamma, beta, axis):
    """Normalization over `axis` (0: batch norm, 1: layer norm), gamma and beta per column.

    The backward is the closed form dX = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / std,
    both means over the normalized axis."""
    mu = X.mean(axis=axis, keepdims=True)
    Xc = X - mu
    var = (Xc * Xc).mean(axis=axis, keepdims=True)
    std = np.sqrt(var + eps)
    xhat = Xc / std
    dY = gamma * xhat + beta - T
    loss = 0.5 * float(np.vdot(dY, dY))
    dxhat = dY * gamma
    dX = (dxhat - dxhat.mean(axis=axis, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True)) / std
    return loss, {"X": dX,
                  "gamma": (dY * xhat).sum(axis=0, keepdims=True),
                  "beta": dY.sum(axis=0, keepdims=True)}


def batch_norm(T, eps, X, gamma, beta):
    return _normalize(T, eps, X, gamma, beta, axis=0)


def layer_norm(T, eps, X, gamma, beta):
    return _normalize(T, eps, X, gamma, beta, axis=1)


def rmsnorm_proj(T, eps, X, g, W):
    """RMSNorm over the features of each row, then the projection Z = Y W.

    The backward is the paper's: with xhat = X / rms and dxhat = g dY,
    dX = (dxhat - xhat mean(dxhat xhat)) / rms, the mean over the features."""
    inv_rms = 1.0 / np.sqrt((X * X).mean(axis=1, keepdims=True) + eps)
    xhat = X * inv_rms
    Y = g * xhat
    dZ = Y @ W - T
    loss = 0.5 * float(np.vdot(dZ, dZ))
    dY = dZ @ W.T
    dxhat = dY * g
    dX = (dxhat - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) * inv_rms
    return loss, {"X": dX, "g": (dY * xhat).sum(axis=0, keepdims=True), "W": Y.T @ dZ}


def _attention(X, T, Wq, Wk, Wv, mask=None):
    """One head, softmax over each row's keys; `mask` (0 or a large negative number per entry)
    added to the scaled logits."""
    scale = 1.0 / math.sqrt(Wq.shape[1])
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    S = (Q @ K.T) * scale
    if mask is not None:
        S += mask
    S -= S.max(axis=1, keepdims=True)
    P = np.exp(S)
    P /= P.sum(axis=1, keepdims=True)
    dO = P @ V - T
    loss = 0.5 * float(np.vdot(dO, dO))
    dP = dO @ V.T
    # softmax backward per row: dS = P * (dP - rowsum(P * dP)), then the 1/sqrt(dk); a masked
    # entry has P = 0, so its dS is 0 without the mask applied again
    dS = P * (dP - (P * dP).sum(axis=1, keepdims=True))
    dS *= scale
    return loss, {"Wq": X.T @ (dS @ K), "Wk": X.T @ (dS.T @ Q), "Wv": X.T @ (P.T @ dO)}


def self_attention(X, T, Wq, Wk, Wv):
    return _attention(X, T, Wq, Wk, Wv)


def causal_attention(X, T, mask, Wq, Wk, Wv):
    return _attention(X, T, Wq, Wk, Wv, mask)


def cs231n_two_layer(X, Y, reg, W1, b1, W2, b2):
    """Y holds one-hot rows (the labels), as the model samples them: dscores = (probs - Y) / N."""
    N = X.shape[0]
    z1 = X @ W1 + b1
    hidden = np.maximum(z1, 0.0)
    scores = hidden @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sums)
    loss = (-float(np.sum(Y * log_probs)) / N
            + 0.5 * reg * float(np.vdot(W1, W1) + np.vdot(W2, W2)))
    dscores = (exp / sums - Y) / N
    dz1 = dscores @ W2.T
    dz1 *= z1 > 0                                   # relu'(0) = 0
    return loss, {"W1": X.T @ dz1 + reg * W1, "b1": dz1.sum(axis=0, keepdims=True),
                  "W2": hidden.T @ dscores + reg * W2, "b2": dscores.sum(axis=0, keepdims=True)}


def residual_block(T, x, W1, b1, W2, b2):
    z = W1 @ x + b1
    a = np.maximum(z, 0.0)
    dout = x + W2 @ a + b2 - T
    loss = 0.5 * float(np.vdot(dout, dout))
    dz = W2.T @ dout
    dz *= z > 0
    return loss, {"x": dout + W1.T @ dz, "W1": dz @ x.T, "b1": dz.sum(axis=1, keepdims=True),
                  "W2": dout @ a.T, "b2": dout.sum(axis=1, keepdims=True)}


def rnn_unrolled(h0, Y, Wx, Wh, b, Wy, **steps):
    """steps: the inputs x1, x2, ... of the unrolled steps, in order of their number."""
    xs = [steps[f"x{t}"] for t in range(1, len(steps) + 1)]
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(Wx @ x + Wh @ hs[-1] + b))
    r = Wy @ hs[-1] - Y
    loss = 0.5 * float(np.vdot(r, r))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh = Wy.T @ r
    for t in range(len(xs), 0, -1):                # backpropagation through time
        dz = dh * (1.0 - hs[t] * hs[t])
        dWx += dz @ xs[t - 1].T
        dWh += dz @ hs[t - 1].T
        db += dz.sum(axis=1, keepdims=True)
        if t > 1:
            dh = Wh.T @ dz
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "Wy": r @ hs[-1].T}


def gaussian_nll(X, I, A, mu):
    """Sigma = A A^T + I is symmetric positive definite: log|Sigma| from its Cholesky factor.

    dLoss/dSigma = (N P - P D D^T P) / 2 with P = Sigma^-1, symmetric, so dA = 2 dSigma A."""
    d, N = X.shape
    Sigma = A @ A.T + I
    logdet = 2.0 * float(np.log(np.diag(np.linalg.cholesky(Sigma))).sum())
    P = np.linalg.inv(Sigma)
    D = X - mu
    PD = P @ D
    loss = 0.5 * N * logdet + 0.5 * float(np.vdot(D, PD)) + 0.5 * N * d * math.log(2 * math.pi)
    dSigma = 0.5 * (N * P - PD @ PD.T)
    return loss, {"A": 2.0 * (dSigma @ A), "mu": -PD.sum(axis=1, keepdims=True)}


HANDWRITTEN_ZOO = {
    "logistic_regression": logistic_regression,
    "ridge_regression": ridge_regression,
    "batch_norm": batch_norm,
    "layer_norm": layer_norm,
    "rmsnorm_proj": rmsnorm_proj,
    "self_attention": self_attention,
    "causal_attention": causal_attention,
    "cs231n_two_layer": cs231n_two_layer,
    "residual_block": residual_block,
    "rnn_unrolled": rnn_unrolled,
    "gaussian_nll": gaussian_nll,
}

RNN_STEPS = 4     # the zoo's rnn_unrolled: inputs x1 .. x4

# small shapes, every dimension different, for the checks (the benchmark's sizes: bench_peers.py)
SMALL = {
    "logistic_regression": {"N": 7, "D": 5},
    "ridge_regression": {"N": 7, "D": 5},
    "batch_norm": {"N": 7, "D": 5},
    "layer_norm": {"N": 7, "D": 5},
    "rmsnorm_proj": {"D": 5, "N": 7, "K": 4},
    "self_attention": {"n": 7, "d": 6, "dk": 4, "dv": 5},
    "causal_attention": {"n": 7, "d": 6, "dk": 4, "dv": 5},
    "cs231n_two_layer": {"N": 7, "D": 6, "H": 5, "C": 4},
    "residual_block": {"D": 5, "H": 6, "N": 7},
    "rnn_unrolled": {"D": 3, "H": 5, "N": 7, "K": 4},
    "gaussian_nll": {"d": 5, "N": 7},
}


def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def make_inputs(name, size, seed=0):
    """Float64 inputs for zoo model `name` at `size` (a dict of its dimensions), pre-activations O(1)."""
    rng = np.random.default_rng(seed)
    s = size
    if name in ("logistic_regression", "ridge_regression"):
        N, D = s["N"], s["D"]
        X, w = _normal(rng, (N, D)), _normal(rng, (D, 1), 1 / math.sqrt(D))
        if name == "ridge_regression":
            return {"X": X, "y": _normal(rng, (N, 1)), "lam": 0.1, "w": w}
        return {"X": X, "y": rng.choice([-1.0, 1.0], size=(N, 1)), "w": w, "b": 0.3}
    if name in ("batch_norm", "layer_norm"):
        N, D = s["N"], s["D"]
        return {"T": _normal(rng, (N, D)), "eps": 1e-5, "X": 0.5 + _normal(rng, (N, D), 2.0),
                "gamma": 1.0 + _normal(rng, (1, D), 0.1), "beta": _normal(rng, (1, D), 0.1)}
    if name == "rmsnorm_proj":
        D, N, K = s["D"], s["N"], s["K"]
        return {"T": _normal(rng, (N, K)), "eps": 1e-5, "X": _normal(rng, (N, D)),
                "g": 1.0 + _normal(rng, (1, D), 0.1), "W": _normal(rng, (D, K), 1 / math.sqrt(D))}
    if name in ("self_attention", "causal_attention"):
        n, d, dk, dv = s["n"], s["d"], s["dk"], s["dv"]
        inputs = {"X": _normal(rng, (n, d)), "T": _normal(rng, (n, dv)),
                  "Wq": _normal(rng, (d, dk), 1 / math.sqrt(d)), "Wk": _normal(rng, (d, dk), 1 / math.sqrt(d)),
                  "Wv": _normal(rng, (d, dv), 1 / math.sqrt(d))}
        if name == "causal_attention":     # the zoo model's mask: -1e9 above the diagonal
            inputs["mask"] = np.triu(np.full((n, n), -1e9), k=1)
        return inputs
    if name == "cs231n_two_layer":
        N, D, H, C = s["N"], s["D"], s["H"], s["C"]
        return {"X": _normal(rng, (N, D)), "Y": np.eye(C)[rng.integers(C, size=N)], "reg": 0.05,
                "W1": _normal(rng, (D, H), math.sqrt(2 / D)), "b1": _normal(rng, (1, H), 0.1),
                "W2": _normal(rng, (H, C), 1 / math.sqrt(H)), "b2": _normal(rng, (1, C), 0.1)}
    if name == "residual_block":
        D, H, N = s["D"], s["H"], s["N"]
        return {"T": _normal(rng, (D, N)), "x": _normal(rng, (D, N)),
                "W1": _normal(rng, (H, D), math.sqrt(2 / D)), "b1": _normal(rng, (H, 1), 0.1),
                "W2": _normal(rng, (D, H), 1 / math.sqrt(H)), "b2": _normal(rng, (D, 1), 0.1)}
    if name == "rnn_unrolled":
        D, H, N, K = s["D"], s["H"], s["N"], s["K"]
        steps = {f"x{t}": _normal(rng, (D, N)) for t in range(1, RNN_STEPS + 1)}
        return {**steps, "h0": _normal(rng, (H, N), 0.5), "Y": _normal(rng, (K, N)),
                "Wx": _normal(rng, (H, D), 1 / math.sqrt(D)), "Wh": _normal(rng, (H, H), 0.8 / math.sqrt(H)),
                "b": _normal(rng, (H, 1), 0.1), "Wy": _normal(rng, (K, H), 1 / math.sqrt(H))}
    if name == "gaussian_nll":
        d, N = s["d"], s["N"]
        return {"X": _normal(rng, (d, N)), "I": np.eye(d),
                "A": _normal(rng, (d, d), 1 / math.sqrt(d)), "mu": _normal(rng, (d, 1), 0.1)}
    raise KeyError(name)
