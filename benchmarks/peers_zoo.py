"""The zoo models' losses for the autodiff peers, and the matrix products of their floor.

Each loss is a plain implementation of the model's forward pass over the namespace `o` of
ops that ``peers.py`` builds for jax, torch and HIPS autograd (the autodiff does the
gradient); `MODELS` maps a name to (loss, its parameters in the generated module's order).
`products(name, inputs, make)` lists the matrix products (and, for gaussian_nll, the one
inverse) of one forward and backward pass, as ``peers.floor`` runs them.
"""
import math

import numpy as np


def _logistic_regression(o, X, y, w, b):
    return o.sum(o.softplus(-(y * (X @ w + b)))) / X.shape[0]


def _ridge_regression(o, X, y, lam, w):
    r = X @ w - y
    return o.sum(r * r) + lam * o.sum(w * w)


def _normalize(axis):
    def loss(o, T, eps, X, gamma, beta):
        Xc = X - o.mean(X, axis)
        xhat = Xc / o.sqrt(o.mean(Xc * Xc, axis) + eps)
        R = gamma * xhat + beta - T
        return 0.5 * o.sum(R * R)
    return loss


def _rmsnorm_proj(o, T, eps, X, g, W):
    R = (g * X / o.sqrt(o.mean(X * X, 1) + eps)) @ W - T
    return 0.5 * o.sum(R * R)


def _self_attention(o, X, T, Wq, Wk, Wv):
    S = (X @ Wq) @ (X @ Wk).T / math.sqrt(Wq.shape[1])
    R = o.softmax_rows(S) @ (X @ Wv) - T
    return 0.5 * o.sum(R * R)


def _causal_attention(o, X, T, mask, Wq, Wk, Wv):
    S = (X @ Wq) @ (X @ Wk).T / math.sqrt(Wq.shape[1]) + mask
    R = o.softmax_rows(S) @ (X @ Wv) - T
    return 0.5 * o.sum(R * R)


def _cs231n_two_layer(o, X, Y, reg, W1, b1, W2, b2):
    scores = o.relu(X @ W1 + b1) @ W2 + b2
    log_probs = scores - o.logsumexp_rows(scores)
    return -o.sum(Y * log_probs) / X.shape[0] + 0.5 * reg * (o.sum(W1 * W1) + o.sum(W2 * W2))


def _residual_block(o, T, x, W1, b1, W2, b2):
    R = x + W2 @ o.relu(W1 @ x + b1) + b2 - T
    return 0.5 * o.sum(R * R)


def _rnn_unrolled(o, h0, Y, Wx, Wh, b, Wy, **steps):
    h = h0
    for t in range(1, len(steps) + 1):
        h = o.tanh(Wx @ steps[f"x{t}"] + Wh @ h + b)
    R = Wy @ h - Y
    return 0.5 * o.sum(R * R)


def _gaussian_nll(o, X, I, A, mu):
    d, N = X.shape
    Sigma = A @ A.T + I
    D = X - mu
    return (0.5 * N * o.logdet(Sigma) + 0.5 * o.sum(D * o.solve(Sigma, D))
            + 0.5 * N * d * math.log(2 * math.pi))


MODELS = {
    "logistic_regression": (_logistic_regression, ("w", "b")),
    "ridge_regression": (_ridge_regression, ("w",)),
    "batch_norm": (_normalize(0), ("X", "gamma", "beta")),
    "layer_norm": (_normalize(1), ("X", "gamma", "beta")),
    "rmsnorm_proj": (_rmsnorm_proj, ("X", "g", "W")),
    "self_attention": (_self_attention, ("Wq", "Wk", "Wv")),
    "causal_attention": (_causal_attention, ("Wq", "Wk", "Wv")),
    "cs231n_two_layer": (_cs231n_two_layer, ("W1", "b1", "W2", "b2")),
    "residual_block": (_residual_block, ("x", "W1", "b1", "W2", "b2")),
    "rnn_unrolled": (_rnn_unrolled, ("Wx", "Wh", "b", "Wy")),
    "gaussian_nll": (_gaussian_nll, ("A", "mu")),
}


def _steps(inputs):
    """How many steps rnn_unrolled's inputs x1, x2, ... unroll."""
    t = 0
    while f"x{t + 1}" in inputs:
        t += 1
    return t


def products(name, inputs, make):
    """(np.matmul or np.linalg.inv, operands) for the floor; intermediates from make(shape).

    As for the catalogue: every matrix product of the forward and the backward pass, none of
    the elementwise work or reductions. Batch and layer norm have none."""
    mm = np.matmul
    if name in ("logistic_regression", "ridge_regression"):
        # forward X @ w; backward X.T @ dz
        X = inputs["X"]
        return [(mm, (X, inputs["w"])), (mm, (X.T, make((X.shape[0], 1))))]
    if name in ("batch_norm", "layer_norm"):
        return []
    if name == "rmsnorm_proj":
        # forward Z = Y W; backward dY = dZ W^T, dW = Y^T dZ (the normalization has none)
        X, W = inputs["X"], inputs["W"]
        N, (D, K) = X.shape[0], W.shape
        Y, dZ = make((N, D)), make((N, K))
        return [(mm, (Y, W)), (mm, (dZ, W.T)), (mm, (Y.T, dZ))]
    if name in ("self_attention", "causal_attention"):
        # forward Q, K, V, S = Q K^T, O = P V; backward dV = P^T dO, dP = dO V^T, dQ = dS K,
        # dK = dS^T Q, and the three weight gradients X^T dQ, X^T dK, X^T dV (a causal mask,
        # added to S, changes none of them)
        X, Wq, Wk, Wv = (inputs[k] for k in ("X", "Wq", "Wk", "Wv"))
        n, (d, dk), dv = X.shape[0], Wq.shape, Wv.shape[1]
        Q, K, V = make((n, dk)), make((n, dk)), make((n, dv))
        P, dS, dO = make((n, n)), make((n, n)), make((n, dv))
        return [(mm, (X, Wq)), (mm, (X, Wk)), (mm, (X, Wv)), (mm, (Q, K.T)), (mm, (P, V)),
                (mm, (P.T, dO)), (mm, (dO, V.T)), (mm, (dS, K)), (mm, (dS.T, Q)),
                (mm, (X.T, make((n, dk)))), (mm, (X.T, make((n, dk)))), (mm, (X.T, make((n, dv))))]
    if name == "cs231n_two_layer":
        # forward X W1, h W2; backward dW2 = h^T ds, dh = ds W2^T, dW1 = X^T dz1
        X, W1, W2 = inputs["X"], inputs["W1"], inputs["W2"]
        N, (H, C) = X.shape[0], W2.shape
        hidden, dscores, dz1 = make((N, H)), make((N, C)), make((N, H))
        return [(mm, (X, W1)), (mm, (hidden, W2)), (mm, (hidden.T, dscores)),
                (mm, (dscores, W2.T)), (mm, (X.T, dz1))]
    if name == "residual_block":
        # forward W1 x, W2 a; backward dW2 = dout a^T, da = W2^T dout, dW1 = dz x^T, dx ~ W1^T dz
        x, W1, W2 = inputs["x"], inputs["W1"], inputs["W2"]
        (H, D), N = W1.shape, x.shape[1]
        a, dout, dz = make((H, N)), make((D, N)), make((H, N))
        return [(mm, (W1, x)), (mm, (W2, a)), (mm, (dout, a.T)), (mm, (W2.T, dout)),
                (mm, (dz, x.T)), (mm, (W1.T, dz))]
    if name == "rnn_unrolled":
        # per step t: forward Wx x_t and Wh h_(t-1); backward dWx += dz_t x_t^T,
        # dWh += dz_t h_(t-1)^T and, except at the first step, dh_(t-1) = Wh^T dz_t;
        # the readout Wy h_T, dWy = r h_T^T, dh_T = Wy^T r
        Wx, Wh, Wy = inputs["Wx"], inputs["Wh"], inputs["Wy"]
        xs = [inputs[f"x{t}"] for t in range(1, _steps(inputs) + 1)]
        (H, _), N, K = Wx.shape, xs[0].shape[1], Wy.shape[0]
        hs = [inputs["h0"]] + [make((H, N)) for _ in xs]
        dz, r = make((H, N)), make((K, N))
        ops = [op for t, x in enumerate(xs) for op in ((mm, (Wx, x)), (mm, (Wh, hs[t])))]
        ops += [(mm, (Wy, hs[-1])), (mm, (r, hs[-1].T)), (mm, (Wy.T, r))]
        for t in range(len(xs), 0, -1):
            ops += [(mm, (dz, xs[t - 1].T)), (mm, (dz, hs[t - 1].T))]
            if t > 1:
                ops.append((mm, (Wh.T, dz)))
        return ops
    if name == "gaussian_nll":
        # Sigma = A A^T (+ I), its inverse P (the gradient needs P itself), P D; backward
        # (P D)(P D)^T and dSigma A
        X, A = inputs["X"], inputs["A"]
        d, N = X.shape
        Sigma = A @ A.T + inputs["I"]
        PD, dSigma = make((d, N)), make((d, d))
        return [(mm, (A, A.T)), (np.linalg.inv, (Sigma,)), (mm, (make((d, d)), make((d, N)))),
                (mm, (PD, PD.T)), (mm, (dSigma, A))]
    raise KeyError(name)
