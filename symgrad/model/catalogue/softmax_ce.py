"""Seed 004: sigmoid hidden layers without bias, softmax output, cross-entropy over M samples.

a_0 = X (samples as rows), z_l = a_{l-1} Theta_l^T, a_l = sigmoid(z_l) for hidden layers,
softmax on the last; E = -(1/M) sum Y * log softmax(z_L), the log-softmax through
log-sum-exp. Theta is a list (Theta[0] H1 x N, ..., last P x H); depth = len(Theta).
"""
import numpy as np

from symgrad import Model, logsumexp, sigmoid, stack_layers


def build() -> Model:
    m = Model("softmax_ce", "seed 004: sigmoid hidden layers, softmax output, cross-entropy")
    M, N, P = m.dims("M N P")
    X = m.constant("X", (M, N))
    Y = m.constant("Y", (M, P))
    Theta = m.parameter_list("Theta")
    stack = stack_layers(m, X, Theta)

    hidden = stack.hidden
    H_in, H_out = hidden.dims("H_in H_out")
    a_prev = hidden.carry_in("a_prev", (M, H_in))
    Theta_l = hidden.element(Theta, (H_out, H_in))
    z = hidden.define("z", a_prev @ Theta_l.T)
    hidden.carry_out(hidden.define("a", sigmoid(z)))

    output = stack.output
    (H,) = output.dims("H")
    a_last = output.carry_in("a_prev", (M, H))
    Theta_L = output.element(Theta, (P, H))
    Y_o = output.use(Y)
    z_L = output.define("z", a_last @ Theta_L.T)
    lse = output.define("lse", logsumexp(z_L, axis=1))
    log_p = output.define("log_p", z_L - lse)
    output.loss("E", -(Y_o * log_p).sum() / M)
    m.sample_with("Y", lambda rng, shape: rng.dirichlet(0.5 * np.ones(shape[1]), size=shape[0]))  # soft labels
    return m
