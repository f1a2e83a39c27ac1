"""A linear VAE's negative ELBO (Kingma and Welling 2014): reparameterized z = mu + exp(logvar / 2) eps,
squared reconstruction error and the Gaussian KL term, per sample."""
from symgrad import Model, exp, sum_squares


def build():
    m = Model("vae_elbo", "VAE: z = mu + exp(logvar/2) eps, ||z Wd - X||^2 / 2 + KL(N(mu, exp logvar) || N(0, I)), / N")
    N, D, Z = m.dims("N D Z")
    X, Eps = m.constant("X", (N, D)), m.constant("Eps", (N, Z))
    Wm, Wv, Wd = m.parameter("Wm", (D, Z)), m.parameter("Wv", (D, Z)), m.parameter("Wd", (Z, D))
    mu = m.define("mu", X @ Wm)
    logvar = m.define("logvar", X @ Wv)
    z = m.define("z", mu + exp(logvar / 2) * Eps)
    kl = -(1 + logvar - mu ** 2 - exp(logvar)).sum() / 2
    m.loss("Loss", (sum_squares(z @ Wd - X) / 2 + kl) / N)
    return m
