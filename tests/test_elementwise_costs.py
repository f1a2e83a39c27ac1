"""Costly elementwise operations the NumPy code avoids: structural checks on generated code, each
model's gradients also checked against finite differences and its values against the unrewritten
forms (timings belong in benchmarks, not here)."""
import numpy as np
import sympy as sp

from symgrad import Model, derive, log, sigmoid, softplus, sum_squares, tanh
from symgrad.gradcheck import check_module
from symgrad.lower.passes.common_factors import grouped


def _code_of(source: str, function: str) -> list[str]:
    """The lines of ``function`` in a generated module, comments left out."""
    lines = source.split(f"def {function}(", 1)[1].split("\ndef ", 1)[0].splitlines()
    return [line for line in lines if not line.strip().startswith("#")]


def _checked(model):
    derived = derive(model)
    module = derived.module()
    for check in check_module(model, module, points=2):
        assert check.shape_ok and check.max_relative_error < 1e-6, check
    return derived, module


def cubic_mlp():
    m = Model("cubic_mlp")
    N, D, H = m.dims("N D H")
    X, T = m.constant("X", (N, D)), m.constant("T", (N, 1))
    W1, w2 = m.parameter("W1", (D, H)), m.parameter("w2", (H, 1))
    z = m.define("z", X @ W1)
    a = m.define("a", tanh(z) + z ** 3)
    m.loss("Loss", sum_squares(a @ w2 - T) / N)
    return m


def test_the_cube_of_an_entry_is_two_products_not_a_power():
    derived, _ = _checked(cubic_mlp())
    code = [line.strip() for line in _code_of(derived.source(), "loss_and_grad")]
    assert not any("**3" in line for line in code), "\n".join(code)
    assert "a = z**2" in code and "a *= z" in code, "\n".join(code)


def test_torch_and_jax_keep_their_own_cube():
    derived = derive(cubic_mlp())
    for backend in ("torch", "jax"):
        code = [line for line in derived.source(backend=backend).splitlines() if not line.strip().startswith("#")]
        assert any("z**3" in line for line in code), backend


def bce_on_logit_matrix(name="bce_matrix", columns=True):
    m = Model(name)
    N, D, C = m.dims("N D C")
    X = m.constant("X", (N, D))
    Y = m.constant("Y", (N, C if columns else 1))
    W = m.parameter("W", (D, C if columns else 1))
    S = m.define("S", X @ W)
    P = m.define("P", sigmoid(S))
    m.loss("Loss", -(Y * (1 - P) ** 2 * log(P) + (1 - Y) * P ** 2 * log(1 - P)).sum() / N)
    m.sample_with("Y", lambda rng, shape: rng.integers(0, 2, size=shape).astype(float))
    return m


def test_softplus_of_a_matrix_and_of_its_negation_share_one_logarithm():
    derived, module = _checked(bce_on_logit_matrix())
    code = "\n".join(_code_of(derived.source(), "loss_and_grad"))
    assert "np.logaddexp" not in code and code.count("np.log1p") == 1, code
    rng = np.random.default_rng(1)
    S = 30 * rng.standard_normal((5, 4))      # far out on both sides: still the logaddexp values
    Y = rng.integers(0, 2, size=(5, 4)).astype(float)
    P = 0.5 * (np.tanh(0.5 * S) + 1.0)
    expected = (Y * (1 - P) ** 2 * np.logaddexp(0.0, -S) + (1 - Y) * P ** 2 * np.logaddexp(0.0, S)).sum() / 5
    value, _ = module.loss_and_grad(X=np.eye(5), Y=Y, W=S)
    assert abs(value - expected) <= 1e-14 * abs(expected)


def test_a_matrix_softplus_is_vectors_of_exp_and_log1p_with_logaddexps_values():
    # np.logaddexp is a C library call per entry (about 19 ns here); max(x, 0) + log1p(exp(-|x|))
    # is NumPy's vectorized exp and log1p: the same values, the tail's digits kept far below 0
    m = Model("softplus_matrix", "a matrix softplus")
    N, D, H = m.dims("N D H")
    X, W = m.constant("X", (N, D)), m.parameter("W", (D, H))
    m.loss("Loss", softplus(X @ W).sum())
    derived, module = _checked(m)
    code = "\n".join(_code_of(derived.source(), "loss_and_grad"))
    assert "np.logaddexp" not in code and "np.log1p" in code, code
    S = np.array([[-745.0, -700.0, -40.0, -1e-3], [0.0, 1e-3, 36.0, 1e3]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):    # exp(-745) is a subnormal
        value, _ = module.loss_and_grad(X=np.eye(2), W=S)
    terms = np.logaddexp(0.0, S)
    assert np.all(terms[0, :3] > 0)                    # exp(-745), exp(-700), exp(-40): not rounded to 0
    assert abs(value - terms.sum()) <= 1e-15 * terms.sum()
    tail = module.loss_and_grad(X=np.eye(2), W=np.array([[-700.0, -40.0], [-39.0, -38.0]]))[0]
    assert abs(tail - np.logaddexp(0.0, [-700.0, -40.0, -39.0, -38.0]).sum()) <= 1e-15 * tail


def test_a_vector_softplus_pair_keeps_its_own_logarithms():
    derived, _ = _checked(bce_on_logit_matrix("bce_vector", columns=False))
    code = "\n".join(_code_of(derived.source(), "loss_and_grad"))
    assert "np.abs" not in code and code.count("np.logaddexp") >= 2, code


def test_terms_sharing_factors_are_grouped_around_them():
    P, Y, s, t = (sp.IndexedBase(name)[0] for name in ("P", "Y", "s", "t"))
    body = 1.5 * P * s - 1.5 * P * Y * s - 0.5 * (1 - P) * t * Y    # the focal loss's dL/dP
    out = grouped(body)
    assert sp.expand(out - body) == 0
    assert out.count(s) == 1 and sp.count_ops(out) < sp.count_ops(body), out


def test_a_factor_shared_by_groups_is_taken_out_of_both():
    z, u, g = (sp.IndexedBase(name)[0] for name in ("z", "u", "g"))
    body = 0.05 * z ** 3 * g + 0.4 * z * g - 0.05 * u ** 2 * z ** 3 * g - 0.4 * u ** 2 * z * g    # GELU's
    out = grouped(body)
    assert sp.expand(out - body) == 0
    assert out.count(u) == 1 and out.count(g) == 1, out


def test_a_power_shares_its_base_so_a_saturated_sigmoid_cancels_exactly():
    """f' of z sigmoid(1.702 z), expanded: s is shared with s**2, leaving 1.702 (1 - s) z inside,
    which is 0 at s = 1 (grouped as s (1 + 1.702 z) - 1.702 s**2 z it was 1e-10 off at z = 1e6)."""
    s, z, g = (sp.IndexedBase(name)[0] for name in ("s", "z", "g"))
    body = s * g + 1.702 * s * g * z - 1.702 * s ** 2 * g * z
    out = grouped(body)
    assert sp.expand(out - body) == 0
    assert out.count(s) == 2 and not out.has(s ** 2), out
    evaluate = sp.lambdify((s, z, g), out, "numpy")
    assert evaluate(1.0, 1e6 + 0.123, 1.0) == 1.0


def test_the_focal_gradient_reads_each_shared_value_once():
    derived, _ = _checked(bce_on_logit_matrix("focal_matrix"))
    code = _code_of(derived.source(), "loss_and_grad")
    start = next(k for k, line in enumerate(code) if line.strip().startswith("grad_P ="))
    stop = next(k for k, line in enumerate(code) if line.strip().startswith("grad_S ="))
    assert sum(line.count(" P") + line.count("(P") for line in code[start:stop]) == 1, "\n".join(code[start:stop])
