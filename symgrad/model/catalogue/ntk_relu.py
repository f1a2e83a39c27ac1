"""Seed 001: deep ReLU network in the NTK parametrisation, any depth, with a regulariser.

X_0 = X (samples as columns), X_l = relu(W_l X_{l-1}) for l < L, f = sqrt(m) W_L X_{L-1};
Loss = sum_i (f_i - r_i)^2 / 2 + m lam sum_l ||W_l - W0_l||_F^2 / 2. W and W0 are lists
(W[0] width x d, hidden width x width, last 1 x width); depth L = len(W), 1 included.
"""
from symgrad import Model, relu, stack_layers, sum_squares


def build() -> Model:
    m = Model("ntk_relu", "seed 001: deep ReLU network, f = sqrt(m) W_L X_{L-1}, squared loss + m lam ||W - W0||^2 / 2")
    d, n = m.dims("d n")
    X = m.constant("X", (d, n))
    r = m.constant("r", (1, n))
    W = m.parameter_list("W")
    W0 = m.constant_list("W0")
    width = m.constant("m")
    lam = m.constant("lam")
    stack = stack_layers(m, X, W, W0)

    hidden = stack.hidden
    k_in, k_out = hidden.dims("k_in k_out")
    X_prev = hidden.carry_in("X_prev", (k_in, n))
    W_l, W0_l = hidden.element(W, (k_out, k_in)), hidden.element(W0, (k_out, k_in))
    m_h, lam_h = hidden.use(width), hidden.use(lam)
    Z_l = hidden.define("Z_l", W_l @ X_prev)
    hidden.carry_out(hidden.define("X_l", relu(Z_l)))
    hidden.loss_term("reg_l", m_h * lam_h * sum_squares(W_l - W0_l) / 2)

    output = stack.output
    (k,) = output.dims("k")
    X_last = output.carry_in("X_prev", (k, n))
    W_L, W0_L = output.element(W, (1, k)), output.element(W0, (1, k))
    r_o, m_o, lam_o = output.use(r), output.use(width), output.use(lam)
    f = output.define("f", m_o ** 0.5 * (W_L @ X_last))
    output.loss("Loss", sum_squares(f - r_o) / 2 + m_o * lam_o * sum_squares(W_L - W0_L) / 2)
    m.sample_with("m", lambda rng, shape: float(rng.integers(2, 9)))
    return m
