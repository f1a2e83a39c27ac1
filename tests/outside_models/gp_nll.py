"""Gaussian-process regression's negative log marginal likelihood (Rasmussen and Williams 2006, eq. 2.30):
an RBF kernel on learned inputs, its amplitude and noise as log-parameters."""
import numpy as np
import sympy as sp

from symgrad import Model, exp, inv, logdet, ones


def build():
    m = Model("gp_nll", "GP NLL: K = sf2 exp(-|x_i - x_j|^2 / (2 ell^2)) + sn2 I; "
              "1/2 y^T K^-1 y + 1/2 log|K| + n/2 log 2 pi")
    n, d = m.dims("n d")
    y, I, ell = m.constant("y", (n, 1)), m.constant("I", (n, n)), m.constant("ell")
    Xin = m.parameter("Xin", (n, d))
    log_sf, log_sn = m.parameter("log_sf"), m.parameter("log_sn")
    sq = m.define("sq", (Xin * Xin).sum(axis=1))
    dist = m.define("dist", sq @ ones(1, n) + ones(n, 1) @ sq.T - 2 * (Xin @ Xin.T))
    K = m.define("K", exp(2 * log_sf) * exp(-dist / (2 * ell ** 2)) + exp(2 * log_sn) * I)
    alpha = m.define("alpha", inv(K) @ y)
    m.loss("Loss", (y * alpha).sum() / 2 + logdet(K) / 2 + n / 2 * sp.log(2 * sp.pi))
    m.sample_with("I", lambda rng, shape: np.eye(shape[0]))
    m.sample_with("ell", lambda rng, shape: 1.5)
    return m
