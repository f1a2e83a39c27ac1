"""An LSTM cell (Hochreiter and Schmidhuber 1997) unrolled for 2 steps; every gate and state named per step."""
from symgrad import Model, sigmoid, sum_squares, tanh

STEPS = 2


def build():
    m = Model("lstm_unrolled", "LSTM unrolled 2 steps: i, f, o gates, c = f c + i g, h = o tanh(c)")
    D, H, N = m.dims("D H N")
    xs = [m.constant(f"x{t}", (N, D)) for t in range(1, STEPS + 1)]
    T, h, c = m.constant("T", (N, H)), m.constant("h0", (N, H)), m.constant("c0", (N, H))
    Wi, Ui, bi = m.parameter("Wi", (D, H)), m.parameter("Ui", (H, H)), m.parameter("bi", (1, H))
    Wf, Uf, bf = m.parameter("Wf", (D, H)), m.parameter("Uf", (H, H)), m.parameter("bf", (1, H))
    Wo, Uo, bo = m.parameter("Wo", (D, H)), m.parameter("Uo", (H, H)), m.parameter("bo", (1, H))
    Wg, Ug, bg = m.parameter("Wg", (D, H)), m.parameter("Ug", (H, H)), m.parameter("bg", (1, H))
    for t in range(1, STEPS + 1):
        x = xs[t - 1]
        i = m.define(f"i{t}", sigmoid(x @ Wi + h @ Ui + bi))
        f = m.define(f"f{t}", sigmoid(x @ Wf + h @ Uf + bf))
        o = m.define(f"o{t}", sigmoid(x @ Wo + h @ Uo + bo))
        g = m.define(f"g{t}", tanh(x @ Wg + h @ Ug + bg))
        c = m.define(f"c{t}", f * c + i * g)
        h = m.define(f"h{t}", o * tanh(c))
    m.loss("Loss", sum_squares(h - T) / 2)
    return m
