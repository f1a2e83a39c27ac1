"""A GRU cell (Cho et al. 2014) unrolled for 3 steps, shared weights, squared error of a readout."""
from symgrad import Model, sigmoid, sum_squares, tanh, unroll

STEPS = 3


def build():
    m = Model("gru_unrolled", "GRU unrolled 3 steps: z, r gates, candidate tanh(Wh x + Uh (r h) + bh)")
    D, H, N, K = m.dims("D H N K")
    xs = [m.constant(f"x{t}", (D, N)) for t in range(1, STEPS + 1)]
    h0, Y = m.constant("h0", (H, N)), m.constant("Y", (K, N))
    Wz, Uz, bz = m.parameter("Wz", (H, D)), m.parameter("Uz", (H, H)), m.parameter("bz", (H, 1))
    Wr, Ur, br = m.parameter("Wr", (H, D)), m.parameter("Ur", (H, H)), m.parameter("br", (H, 1))
    Wh, Uh, bh = m.parameter("Wh", (H, D)), m.parameter("Uh", (H, H)), m.parameter("bh", (H, 1))
    V = m.parameter("V", (K, H))

    def step(t, h):
        x = xs[t - 1]
        z = sigmoid(Wz @ x + Uz @ h + bz)
        r = sigmoid(Wr @ x + Ur @ h + br)
        candidate = tanh(Wh @ x + Uh @ (r * h) + bh)
        return (1 - z) * h + z * candidate

    hs = unroll(m, step, h0, STEPS)
    m.loss("Loss", sum_squares(V @ hs[-1] - Y) / (2 * N))
    return m
