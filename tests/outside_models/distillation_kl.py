"""Knowledge distillation (Hinton et al. 2015): tau^2 KL(softmax(T / tau) || softmax(X W / tau)) per sample."""
from symgrad import Model, log_softmax, softmax


def build():
    m = Model("distillation_kl", "distillation: tau^2 / N sum softmax(T/tau) (log_softmax(T/tau) - log_softmax(X W/tau))")
    N, D, C = m.dims("N D C")
    X, T = m.constant("X", (N, D)), m.constant("T", (N, C))
    tau = m.constant("tau", ())
    W = m.parameter("W", (D, C))
    teacher = m.define("teacher", softmax(T / tau, axis=1))
    student = m.define("student", log_softmax(X @ W / tau, axis=1))
    m.loss("Loss", tau ** 2 * (teacher * (log_softmax(T / tau, axis=1) - student)).sum() / N)
    m.sample_with("tau", lambda rng, shape: 2.0)
    return m
