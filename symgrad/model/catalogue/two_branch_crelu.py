"""Seed 000: two-branch network with a clipped ReLU and row concatenation.

Z = [A1 X1 + B1 1_L ; A2 X2 + B2 1_L], H = CReLU(Z, t) (clip to [0, t]),
Y = C H + d 1_L, Loss = (1/L) ||Y_exp - Y||^2.
"""
from symgrad import Model, concat_rows, crelu, ones, sum_squares


def build() -> Model:
    m = Model("two_branch_crelu", __doc__.splitlines()[0])
    N, M, L = m.dims("N M L")
    X1 = m.constant("X1", (N, L))
    X2 = m.constant("X2", (N, L))
    Yexp = m.constant("Yexp", (1, L))
    t = m.constant("t")
    A1 = m.parameter("A1", (M, N))
    A2 = m.parameter("A2", (M, N))
    B1 = m.parameter("B1", (M, 1))
    B2 = m.parameter("B2", (M, 1))
    C = m.parameter("C", (1, 2 * M))
    d = m.parameter("d")
    Z1 = m.define("Z1", A1 @ X1 + B1 @ ones(1, L))
    Z2 = m.define("Z2", A2 @ X2 + B2 @ ones(1, L))
    Z = m.define("Z", concat_rows(Z1, Z2))
    H = m.define("H", crelu(Z, t))
    Y = m.define("Y", C @ H + d * ones(1, L))
    Delta = m.define("Delta", Yexp - Y)
    m.loss("Loss", sum_squares(Delta) / L)
    return m
