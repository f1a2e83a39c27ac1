"""Multi-class hinge loss (Weston and Watkins 1999, CS231n's SVM) with L2 weight decay."""
import numpy as np

from symgrad import Model, relu, sum_squares


def build():
    m = Model("multiclass_svm", "multi-class SVM: sum over wrong classes of max(0, s_j - s_y + 1) / N + reg ||W||^2")
    N, D, C = m.dims("N D C")
    X, Y, reg = m.constant("X", (N, D)), m.constant("Y", (N, C)), m.constant("reg")
    W, b = m.parameter("W", (D, C)), m.parameter("b", (1, C))
    scores = m.define("scores", X @ W + b)
    correct = m.define("correct", (scores * Y).sum(axis=1))
    margins = m.define("margins", relu(scores - correct + 1) * (1 - Y))
    m.loss("Loss", margins.sum() / N + reg * sum_squares(W))
    m.sample_with("Y", lambda rng, shape: np.eye(shape[1])[rng.integers(shape[1], size=shape[0])])
    return m
