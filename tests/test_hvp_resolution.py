"""A Hessian-vector product that is zero within round-off on both sides is counted, not judged:
neither a spurious failure (symgrad's 0.0 against autograd's 1e-17) nor a pass (0.0 against 0.0);
a product no point resolves is ``unresolved`` and ``verify --hvp`` exits 1 for it."""
import numpy as np

from symgrad import Model, minimum
from symgrad import abs as sg_abs
from symgrad.cli import import_generated, main
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.files import write_atomic
from symgrad.emit.layer_hvp_plan import render_hvp_module
from symgrad.hvpcheck import check_hvp_module

from .conftest import require


def _least_absolute_deviations() -> Model:
    """mean |X w + b - y|: its Hessian is zero away from the kinks, at every point."""
    m = Model("l1_regression")
    N, D = m.dims("N D")
    X, y = m.constant("X", (N, D)), m.constant("y", (N, 1))
    w, b = m.parameter("w", (D, 1)), m.parameter("b")
    m.loss("Loss", sg_abs(X @ w + b - y).sum() / N)
    return m


LAD_FILE = """from symgrad import Model, abs


def build():
    m = Model("l1_regression")
    N, D = m.dims("N D")
    X, y = m.constant("X", (N, D)), m.constant("y", (N, 1))
    w, b = m.parameter("w", (D, 1)), m.parameter("b")
    m.loss("Loss", abs(X @ w + b - y).sum() / N)
    return m
"""


def _huber() -> Model:
    """Huber regression: a zero Hessian where every residual lies on the linear part, else not."""
    m = Model("huber_regression")
    N, D = m.dims("N D")
    X, y, delta = m.constant("X", (N, D)), m.constant("y", (N, 1)), m.constant("delta")
    w, b = m.parameter("w", (D, 1)), m.parameter("b")
    a = m.define("a", sg_abs(X @ w + b - y))
    q = m.define("q", minimum(a, delta))
    m.loss("Loss", (0.5 * q * q + delta * (a - q)).sum() / N)
    return m


def _module(model, tmp_path):
    derivation = derive(model)
    path = tmp_path / f"{model.name}_hvp.py"
    write_atomic(path, render_hvp_module(derivation, "test"))
    return derivation, import_generated(path)


class _Scaled:
    """An --hvp module whose products are all ``factor`` times the right ones."""
    def __init__(self, module, factor):
        self._module, self._factor = module, factor

    def __getattr__(self, name):
        return getattr(self._module, name)

    def hvp(self, tangent, **inputs):
        value, grads, products = self._module.hvp(tangent, **inputs)
        return value, grads, {p: self._factor * v for p, v in products.items()}

    def hessian(self, **inputs):
        return {k: self._factor * v for k, v in self._module.hessian(**inputs).items()}


def test_a_product_zero_at_every_point_is_unresolved_not_failed_nor_passed(tmp_path):
    require("autograd")
    derivation, module = _module(_least_absolute_deviations(), tmp_path)
    for check in check_hvp_module(derivation, module, points=2):
        assert check.unresolved and not check.failed, check
        assert check.unresolved_differences == check.unresolved_autograd == check.points == 4
        assert np.isnan(check.against_differences) and np.isnan(check.against_autograd)


def test_verify_hvp_says_unresolved_and_exits_1(tmp_path, capsys):
    require("autograd")
    source = tmp_path / "lad.py"
    source.write_text(LAD_FILE)
    assert main(["verify", "--hvp", str(source), "-o", str(tmp_path), "--points", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.count("unresolved") >= 3
    assert "l1_regression w vs autograd: 2 of 2" in out


def test_huber_zero_points_are_counted_and_a_wrong_product_still_fails(tmp_path):
    require("autograd")
    derivation, module = _module(_huber(), tmp_path)
    checks = check_hvp_module(derivation, module, points=3)
    assert any(c.unresolved_autograd for c in checks)          # some point has every residual linear
    for check in checks:
        assert not check.unresolved and not check.failed, check
        assert check.against_autograd < 1e-10 and check.against_differences < 1e-6, check
    for check in check_hvp_module(derivation, _Scaled(module, 1.01), points=3):
        assert check.failed and check.against_autograd > 1e-3 and check.against_differences > 1e-3, check
