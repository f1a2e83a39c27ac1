"""The outside models of ``test_outside_models.py``, each with its loss written again in ``jax.numpy``:
model files (``tests/outside_models/*.py``: the operator DSL, an unrolled recurrence, index notation)
and losses typed on one line. ``benchmarks/bench_outside.py`` times the same cases against jax.jit.

A reference takes ``jnp`` and a dict of the model's inputs (``jax`` is imported inside, so this
module imports without it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from symgrad.model.one_line import OneLineLoss
from symgrad.model.sources import load

MODELS = Path(__file__).resolve().parent / "outside_models"


@dataclass(frozen=True)
class Case:
    """A model (a file's stem or a one-line loss), its loss in ``jax.numpy`` over a dict of inputs,
    and the parameters scaled by 1e3 to drive its logits or gates to about 1e3. ``loud_hvp`` False:
    at those logits the Hessian-vector product is ill-conditioned in float64 whatever computes it
    (a saturated softmax's product is ~1e-12 of its terms), so only the value and the gradient are
    compared there."""

    name: str
    reference: object
    loud: tuple = ()
    loud_hvp: bool = True
    one_line: OneLineLoss | None = field(default=None)

    def model(self):
        return self.one_line.build() if self.one_line is not None else load(str(MODELS / f"{self.name}.py"))


def _gru(jnp, i):
    import jax
    sigmoid = jax.nn.sigmoid
    h = i["h0"]
    for t in (1, 2, 3):
        x = i[f"x{t}"]
        z = sigmoid(i["Wz"] @ x + i["Uz"] @ h + i["bz"])
        r = sigmoid(i["Wr"] @ x + i["Ur"] @ h + i["br"])
        h = (1 - z) * h + z * jnp.tanh(i["Wh"] @ x + i["Uh"] @ (r * h) + i["bh"])
    return jnp.sum((i["V"] @ h - i["Y"]) ** 2) / (2 * h.shape[1])


def _lstm(jnp, i):
    import jax
    h, c = i["h0"], i["c0"]
    for t in (1, 2):
        x = i[f"x{t}"]
        gate = lambda k: x @ i[f"W{k}"] + h @ i[f"U{k}"] + i[f"b{k}"]  # noqa: E731
        c = jax.nn.sigmoid(gate("f")) * c + jax.nn.sigmoid(gate("i")) * jnp.tanh(gate("g"))
        h = jax.nn.sigmoid(gate("o")) * jnp.tanh(c)
    return jnp.sum((h - i["T"]) ** 2) / 2


def _svm(jnp, i):
    scores = i["X"] @ i["W"] + i["b"]
    correct = jnp.sum(scores * i["Y"], axis=1, keepdims=True)
    margins = jnp.maximum(scores - correct + 1, 0.0) * (1 - i["Y"])
    return jnp.sum(margins) / scores.shape[0] + i["reg"] * jnp.sum(i["W"] ** 2)


def _softplus_gelu(jnp, i):
    import jax
    a1 = jax.nn.softplus(i["X"] @ i["W1"] + i["b1"])
    z2 = a1 @ i["W2"] + i["b2"]
    out = (z2 * jax.nn.sigmoid(1.702 * z2)) @ i["W3"]
    decay = sum(jnp.sum(i[w] ** 2) for w in ("W1", "W2", "W3"))
    return jnp.mean((out - i["T"]) ** 2) + i["wd"] / 2 * decay


def _glu(jnp, i):
    import jax
    hidden = (i["X"] @ i["W"] + i["b"]) * jax.nn.sigmoid(i["X"] @ i["V"] + i["c"])
    return jnp.sum((hidden @ i["U"] - i["T"]) ** 2) / 2


def _gp(jnp, i):
    X = i["Xin"]
    n = X.shape[0]
    dist = jnp.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=2)
    K = jnp.exp(2 * i["log_sf"]) * jnp.exp(-dist / (2 * i["ell"] ** 2)) + jnp.exp(2 * i["log_sn"]) * jnp.eye(n)
    y = i["y"]
    return (jnp.sum(y * jnp.linalg.solve(K, y)) / 2 + jnp.linalg.slogdet(K)[1] / 2
            + n / 2 * jnp.log(2 * jnp.pi))


def _focal(jnp, i):
    import jax
    logp = jax.nn.log_softmax(i["X"] @ i["W"] + i["b"], axis=1)
    return -jnp.sum(i["Y"] * (1 - jnp.exp(logp)) ** 2 * logp) / logp.shape[0]


def _mixture(jnp, i):
    import jax
    g = jax.nn.sigmoid(i["Hx"] @ i["w"])
    p = g * jax.nn.softmax(i["Hx"] @ i["A"], axis=1) + (1 - g) * jax.nn.softmax(i["Hx"] @ i["B"], axis=1)
    return -jnp.sum(i["Y"] * jnp.log(p)) / p.shape[0]


def _bilinear(jnp, i):
    import jax
    s = jnp.sum((i["X"] @ i["W"]) * i["Z"], axis=1, keepdims=True)
    return jnp.mean(jax.nn.softplus(-i["y"] * s))


def _huber(jnp, i):
    r = jnp.abs(i["X"] @ i["w"] - i["y"])
    return jnp.sum(jnp.where(r < 1.0, 0.5 * r ** 2, r - 0.5))


def _smoothed_ce(jnp, i):
    import jax
    C = i["Y"].shape[1]
    target = i["Y"] * (1 - i["eps"]) + i["eps"] / C
    return -jnp.sum(target * jax.nn.log_softmax(i["X"] @ i["W"] + i["b"], axis=1)) / i["Y"].shape[0]


def _negative_binomial(jnp, i):
    import jax
    eta = i["X"] @ i["w"]
    return jnp.sum((i["y"] + i["r"]) * jax.nn.softplus(eta) - i["y"] * eta)


def _vae(jnp, i):
    mu, logvar = i["X"] @ i["Wm"], i["X"] @ i["Wv"]
    z = mu + jnp.exp(logvar / 2) * i["Eps"]
    kl = -jnp.sum(1 + logvar - mu ** 2 - jnp.exp(logvar)) / 2
    return (jnp.sum((z @ i["Wd"] - i["X"]) ** 2) / 2 + kl) / i["X"].shape[0]


def _distillation(jnp, i):
    import jax
    tau = i["tau"]
    teacher = jax.nn.log_softmax(i["T"] / tau, axis=1)
    student = jax.nn.log_softmax(i["X"] @ i["W"] / tau, axis=1)
    return tau ** 2 * jnp.sum(jnp.exp(teacher) * (teacher - student)) / i["X"].shape[0]


def _mish(jnp, i):
    import jax
    pre = i["X"] @ i["W1"] + i["b1"]
    act = pre * jnp.tanh(jax.nn.softplus(pre))
    return jnp.sum((act @ i["W2"] - i["T"]) ** 2) / (2 * i["X"].shape[0])


def _triplet(jnp, i):
    ea, ep, en = i["A"] @ i["W"], i["P"] @ i["W"], i["Q"] @ i["W"]
    pos = jnp.sum((ea - ep) ** 2, axis=1)
    neg = jnp.sum((ea - en) ** 2, axis=1)
    return jnp.sum(jnp.maximum(pos - neg + i["margin"], 0.0)) / i["A"].shape[0]


def _prenorm_attention(jnp, i):
    import jax
    X = i["X"]
    Xc = X - X.mean(axis=1, keepdims=True)
    Xn = i["g"] * Xc / jnp.sqrt((Xc ** 2).mean(axis=1, keepdims=True) + i["eps"]) + i["b"]
    k = i["Wq"].shape[1]
    P = jax.nn.softmax((Xn @ i["Wq"]) @ (Xn @ i["Wk"]).T / jnp.sqrt(k), axis=1)
    return jnp.sum((X + P @ (Xn @ i["Wv"]) @ i["Wo"] - i["T"]) ** 2) / 2


def _line(loss, *params, consts=(), name):
    return OneLineLoss(loss, params=params, consts=consts, name=name)


CASES = [
    Case("gru_unrolled", _gru, loud=("Wz", "Uh")),
    Case("lstm_unrolled", _lstm, loud=("Wf", "Ug")),
    Case("multiclass_svm", _svm, loud=("W",)),
    Case("softplus_gelu_mlp", _softplus_gelu, loud=("W1", "W2")),
    Case("glu_block", _glu, loud=("V",)),
    Case("gp_nll", _gp),
    Case("focal_loss", _focal, loud=("W",)),
    Case("mixture_softmax", _mixture, loud=("w",)),
    Case("bilinear_index", _bilinear, loud=("W",)),
    Case("vae_elbo", _vae),
    # at logits of 1e3 a 60-digit mpmath product differs from jax's by 5e-6 of its largest entry and
    # from symgrad's by 2e-6: the cancellation in p (u - sum p u) for a one-hot p, not a formula
    Case("distillation_kl", _distillation, loud=("W",), loud_hvp=False),
    Case("mish_mlp", _mish, loud=("W1",)),
    Case("triplet_margin", _triplet),
    Case("prenorm_attention", _prenorm_attention, loud=("Wq",), loud_hvp=False),    # the same saturated softmax
    Case("huber_line", _huber, one_line=_line(
        "sum(0.5 * minimum(abs(X @ w - y), 1.0) ** 2 + (abs(X @ w - y) - minimum(abs(X @ w - y), 1.0)))",
        "w=d,1", consts=("X=n,d", "y=n,1"), name="huber_line")),
    Case("poisson_line", lambda jnp, i: jnp.sum(jnp.exp(i["X"] @ i["w"] + i["b"])
                                                 - i["y"] * (i["X"] @ i["w"] + i["b"])) / i["X"].shape[0],
         one_line=_line("sum(exp(X @ w + b) - y * (X @ w + b)) / n", "w=d,1", "b=",
                        consts=("X=n,d", "y=n,1"), name="poisson_line")),
    Case("lowrank_line", lambda jnp, i: (jnp.sum((i["X"] - i["U"] @ i["V"].T) ** 2)
                                         + i["lam"] * (jnp.sum(i["U"] ** 2) + jnp.sum(i["V"] ** 2))),
         one_line=_line("sum_squares(X - U @ V.T) + lam * (sum_squares(U) + sum_squares(V))", "U=m,r", "V=n,r",
                        consts=("X=m,n", "lam="), name="lowrank_line")),
    Case("smoothed_ce_line", _smoothed_ce, loud=("W",), one_line=_line(
        "-sum((Y * (1 - eps) + eps / C) * log_softmax(X @ W + b, axis=-1)) / N", "W=D,C", "b=1,C",
        consts=("X=N,D", "Y=N,C", "eps="), name="smoothed_ce_line")),
    Case("pseudo_huber_line", lambda jnp, i: jnp.sum(jnp.sqrt(1 + (i["X"] @ i["w"] - i["y"]) ** 2) - 1),
         loud=("w",), one_line=_line("sum(sqrt(1 + (X @ w - y) ** 2) - 1)", "w=d,1", consts=("X=n,d", "y=n,1"),
                                     name="pseudo_huber_line")),
    Case("negative_binomial_line", _negative_binomial, loud=("w",), one_line=_line(
        "sum((y + r) * softplus(X @ w) - y * (X @ w))", "w=d,1", consts=("X=n,d", "y=n,1", "r="),
        name="negative_binomial_line")),
]
BY_NAME = {case.name: case for case in CASES}
